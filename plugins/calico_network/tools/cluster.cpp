// calico_network_cluster: the cluster side of calico-network, run alone
// against a real API server (the cluster ctest drives it against the test
// API server). Prints one JSON object: how Calico is installed and which
// autodetection method is in force (install), this Node's addresses and
// calico-node's annotations (node), this node's calico-node pod and its
// readiness failure (pod), and when that pod is not Ready (or with
// --probe) the TCP reachability of the other nodes' BGP port (peers,
// probe). Each part that fails says so in its "error" and the others still
// run. With --set-method VALUE it plans and applies the DaemonSet env
// patch (refused for operator installs, which get "operator_command").
//
//   calico_network_cluster --kubeconfig PATH --node NAME [--namespace NS]... [--family 4|6]
//       [--set-method VALUE] [--probe] [--port 179] [--timeout-ms 2000]
//   exit 0: read (and applied); 1: --set-method failed or no API access; 2: bad arguments
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/bgp_probe.h"
#include "cluster/calico_install.h"
#include "cluster/calico_node.h"
#include "cluster/calico_pod.h"
#include "cluster/env_patch.h"
#include "host/local_host.h"
#include "kube/curl_kube_client.h"

using namespace nodeagent;
using namespace nodeagent::calico;
using nlohmann::json;

namespace {

int Usage(const std::string& why) {
  std::fprintf(stderr,
               "calico_network_cluster: %s\nusage: calico_network_cluster --kubeconfig PATH --node NAME "
               "[--namespace NS]... [--family 4|6] [--set-method VALUE] [--probe] [--port N] [--timeout-ms N]\n",
               why.c_str());
  return 2;
}

json ErrorJson(const Error& e) { return {{"error", e.ToString()}}; }

}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig, node, set_method;
  std::vector<std::string> namespaces;
  AddressFamily family = AddressFamily::kIpv4;
  bool force_probe = false;
  int port = 179;
  int timeout_ms = 2000;
  bool set = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--probe") {
      force_probe = true;
      continue;
    }
    if (i + 1 >= argc) return Usage(a + " needs a value");
    std::string v = argv[++i];
    if (a == "--kubeconfig") kubeconfig = v;
    else if (a == "--node") node = v;
    else if (a == "--namespace") namespaces.push_back(v);
    else if (a == "--set-method") set_method = v, set = true;
    else if (a == "--family" && (v == "4" || v == "6")) family = v == "4" ? AddressFamily::kIpv4 : AddressFamily::kIpv6;
    else if (a == "--port") port = std::atoi(v.c_str());
    else if (a == "--timeout-ms") timeout_ms = std::atoi(v.c_str());
    else return Usage("unknown argument " + a);
  }
  if (node.empty()) return Usage("--node is required");
  if (port <= 0 || port > 65535 || timeout_ms <= 0 || timeout_ms > 60000) return Usage("bad --port or --timeout-ms");

  RealHost host("/");
  json out = json::object();
  std::unique_ptr<KubeClient> kube;
  if (kubeconfig.empty()) {
    out["kube_error"] = "no kubeconfig given (--kubeconfig): the cluster checks cannot run";
  } else {
    kube::KubeOptions o;
    o.kubeconfig = kubeconfig;
    o.user_agent = "nodeagent-calico-cluster";
    o.retry.max_attempts = 2;
    auto made = kube::MakeKubeClient(o, host.commands(), host.files(), host.clock(),
                                     [](LogLevel, std::string_view m) { std::cerr << m << "\n"; });
    if (made.ok()) kube = std::move(*made);
    else out["kube_error"] = made.error().ToString();
  }
  if (!kube) {
    std::cout << out.dump(2) << "\n";
    return 1;
  }

  int rc = 0;
  auto install = ReadCalicoInstall(*kube, namespaces);
  out["install"] = install.ok() ? ToJson(*install) : ErrorJson(install.error());

  auto view = ReadCalicoNode(*kube, node);
  out["node"] = view.ok() ? ToJson(*view) : ErrorJson(view.error());

  std::string pod_ns = install.ok() && install->found ? install->ns : "kube-system";
  auto pod = ReadCalicoPod(*kube, pod_ns, node);
  out["pod"] = pod.ok() ? ToJson(*pod) : ErrorJson(pod.error());

  if (force_probe || !pod.ok() || !pod->ready) {
    auto peers = ReadPeerAddresses(*kube, node, family);
    if (peers.ok()) {
      json list = json::array();
      for (const IpAddress& a : *peers) list.push_back(a.ToString());
      out["peers"] = list;
      SocketTcpProbe probe;
      out["probe"] = ToJson(probe.Probe(*peers, static_cast<uint16_t>(port), std::chrono::milliseconds(timeout_ms)));
    } else {
      out["peers"] = ErrorJson(peers.error());
    }
  }

  if (set) {
    json s = json::object();
    std::string variable = family == AddressFamily::kIpv4 ? "IP_AUTODETECTION_METHOD" : "IP6_AUTODETECTION_METHOD";
    if (!install.ok()) {
      s["error"] = install.error().ToString();
      rc = 1;
    } else {
      if (install->operator_managed) {
        auto cmd = OperatorPatchCommand(family, set_method);
        s["operator_command"] = cmd.ok() ? *cmd : cmd.error().ToString();
      }
      auto plan = PlanEnvPatch(*install, variable, set_method);
      if (!plan.ok()) {
        s["error"] = plan.error().ToString();
        rc = 1;
      } else {
        s["plan"] = {{"description", plan->description},
                     {"object", plan->object},
                     {"patch", plan->patch},
                     {"unchanged", plan->unchanged}};
        if (!plan->unchanged) {
          auto done = ApplyEnvPatch(*kube, *plan);
          s["applied"] = done.ok();
          if (!done.ok()) {
            s["error"] = done.error().ToString();
            rc = 1;
          }
        }
      }
    }
    out["set_method"] = s;
  }
  std::cout << out.dump(2) << "\n";
  return rc;
}
