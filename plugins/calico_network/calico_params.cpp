#include "calico_params.h"

#include <algorithm>

#include "autodetect/autodetect.h"
#include "nodeagent/kube.h"
#include "nodeagent/param_binding.h"

namespace nodeagent::calico {

namespace {

using namespace std::chrono_literals;
using O = CalicoParams;

constexpr ParamField<CalicoParams> kFields[] = {
    Bind<&O::nm_specs>(
        {"nm_specs", ParamType::kStringList,
         "[\"interface-name:cali*\", \"interface-name:tunl*\", \"interface-name:vxlan.calico\", "
         "\"interface-name:vxlan-v6.calico\", \"interface-name:wireguard.cali\", \"interface-name:wg-v6.cali\"]",
         "NetworkManager device specs that must be unmanaged: Calico's interfaces (NetworkManager.conf(5) "
         "syntax, as in unmanaged-devices)."}),
    Bind<&O::nm_file>({"nm_file", ParamType::kString, "\"calico.conf\"",
                       "The drop-in written in /etc/NetworkManager/conf.d (renamed to sort after a later file that "
                       "would replace the list; the plan says so)."}),
    Bind<&O::fix_network_manager>(
        {"fix_network_manager", ParamType::kBool, "true",
         "Write the drop-in (atomically, with a backup) and reload NetworkManager's configuration. false: report "
         "only."}),
    Bind<&O::method>({"method", ParamType::kString, "\"\"",
                      "An IP_AUTODETECTION_METHOD value to evaluate instead of the cluster's (first-found, "
                      "interface=REGEX, skip-interface=REGEX, cidr=CIDR, can-reach=DEST, kubernetes-internal-ip). "
                      "Empty: read it from the calico-node DaemonSet or the operator's Installation."}),
    Bind<&O::namespaces>({"namespaces", ParamType::kStringList, "[\"kube-system\", \"calico-system\"]",
                          "Where the calico-node DaemonSet is looked for, in order (manifest installs use "
                          "kube-system, the Tigera operator calico-system)."}),
    Bind<&O::daemonset>({"daemonset", ParamType::kString, "\"calico-node\"", "The calico-node DaemonSet's name."}),
    Bind<&O::allow_cluster_changes>(
        {"allow_cluster_changes", ParamType::kBool, "false",
         "When Calico picks the wrong node address, patch IP_AUTODETECTION_METHOD in the calico-node DaemonSet "
         "(every calico-node pod restarts). Never done to an operator-managed DaemonSet: the kubectl patch for the "
         "Installation is printed instead."}),
    Bind<&O::fix_method>(
        {"fix_method", ParamType::kString, "\"kubernetes-internal-ip\"",
         "The IP_AUTODETECTION_METHOD the fix sets. It applies to every node, so the default follows each Node's "
         "InternalIP; \"suggested\" takes this node's suggestion (e.g. interface=eth1). The plan checks that it "
         "picks the InternalIP on this node."}),
    Bind<&O::node_name>({"node", ParamType::kString, "\"\"", "This node's name in the cluster. Default: agent.node_name."}),
    Bind<&O::bgp_port>({.name = "bgp_port", .type = ParamType::kInt, .default_value = "179",
                        .doc = "The BGP port probed on the peers (the other nodes' Calico addresses) when this "
                               "node's calico-node pod is not Ready.",
                        .range = IntRange(1, 65535)}),
    Bind<&O::probe_timeout>({.name = "probe_timeout", .type = ParamType::kDuration, .default_value = "\"2s\"",
                             .doc = "How long a TCP connect to a BGP peer may take (all peers are probed at once).",
                             .range = DurationRange(100ms, 1min)}),
    Bind<&O::versions_file>(
        {"versions_file", ParamType::kString, "\"/usr/share/nodeagent/calico-network/versions.toml\"",
         "The Calico/Kubernetes support table (TOML; extend it without rebuilding). Missing: the built-in copy."}),
};

constexpr auto kParams = SpecsOf(kFields);
static_assert(HasValidRanges(kParams), "every number in the table needs a range");

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

}  // namespace

std::span<const ParamSpec> CalicoParamsTable() { return kParams; }

Result<CalicoParams> CalicoParamsFromValues(const Params& params, const std::string& default_node) {
  auto o = BindOptions<CalicoParams>(kFields, params);
  if (!o) return o.error();
  if (o->node_name.empty()) o->node_name = default_node;
  return o;
}

Status ValidateCalicoParams(const Params& params) {
  if (params.Has("nm_file")) {
    const std::string& f = params.GetString("nm_file");
    if (f.empty() || f.find('/') != std::string::npos || f[0] == '.' || f.size() < 6 ||
        f.compare(f.size() - 5, 5, ".conf") != 0 || f.size() > 200)
      return InvalidArgument("nm_file: \"" + f + "\" must be a plain file name ending in .conf (no '/', not hidden)");
  }
  if (params.Has("method") && !params.GetString("method").empty()) {
    if (auto m = ParseAutodetectionMethod(params.GetString("method")); !m)
      return InvalidArgument("method: " + m.error().message());
  }
  if (params.Has("fix_method") && params.GetString("fix_method") != "suggested") {
    if (auto m = ParseAutodetectionMethod(params.GetString("fix_method")); !m)
      return InvalidArgument("fix_method: " + m.error().message());
  }
  if (params.Has("namespaces")) {
    for (const auto& ns : params.GetList("namespaces"))
      if (!IsDnsLabel(ns)) return InvalidArgument("namespaces: \"" + ns + "\" is not a namespace name");
    if (params.GetList("namespaces").empty()) return InvalidArgument("namespaces: give at least one");
  }
  if (params.Has("daemonset")) {
    if (std::string why = ObjectNameProblem(params.GetString("daemonset")); !why.empty())
      return InvalidArgument("daemonset: the name " + why);
  }
  return Status::Ok();
}

}  // namespace nodeagent::calico
