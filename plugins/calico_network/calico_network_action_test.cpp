// The calico-network action end to end over a temp root, a network from
// tables and a scripted cluster: the NetworkManager drop-in planned, written
// and then no longer planned; a file NetworkManager cannot load is reported
// and never rewritten; the node address Calico picks is compared with the
// Node's InternalIP; a missing cluster is a finding, not a failure.
#include "calico_network_action.h"
#include "calico_params.h"
#include "calico_checks.h"

#include <catch2/catch.hpp>

#include "config/param_validation.h"
#include "nodeagent/kube.h"
#include "testing/fake_action_context.h"
#include "cluster/cluster_fixtures.h"
#include "testing/fake_kube_client.h"

using namespace nodeagent;
using namespace nodeagent::calico;

namespace {

const ActionSpec& Spec() {
  for (const auto& s : CalicoNetworkActionSpecs())
    if (s.name == "calico-network") return s;
  FAIL("no calico-network action");
  throw 0;
}

void Link(FakeNetworkInfo& net, int index, const std::string& name, const std::string& addr) {
  NetworkInterface i;
  i.index = index;
  i.name = name;
  i.up = true;
  net.interfaces.push_back(i);
  net.addresses.push_back({index, name, *IpPrefix::Parse(addr), "global", false});
}

// NAT eth0 outranks the cluster network on eth1 (a higher ifindex).
void VagrantNetwork(FakeNetworkInfo& net) {
  Link(net, 1, "lo", "127.0.0.1/8");
  net.addresses.back().scope = "host";
  Link(net, 2, "eth1", "192.168.56.11/24");
  Link(net, 3, "eth0", "10.0.2.15/24");
}

// A cluster that knows only this Node (every other call: "not scripted").
struct NodeOnlyCluster : FakeKubeClient {
  void SetNode(const std::string& internal_ip, const std::string& annotation = "") {
    Answer("GET /api/v1/nodes/node-1", fixtures::Node("node-1", internal_ip, annotation));
  }
  NodeOnlyCluster() { SetNode("192.168.56.11"); }
};

CommandResult Output(std::string out, int code = 0, std::string err = "") {
  CommandResult r;
  r.exit_code = code;
  r.stdout_data = std::move(out);
  r.stderr_data = std::move(err);
  return r;
}

// A running NetworkManager as nmcli shows it: the Calico devices are managed
// until a reload follows a configuration that makes them unmanaged.
struct FakeNetworkManager {
  FakeActionContext& ctx;
  int reloads = 0;
  bool takes_reload = true;
  explicit FakeNetworkManager(FakeActionContext& c) : ctx(c) {
    ctx.commands().Answer({"nmcli", "-t", "-f", "RUNNING,VERSION", "general"}, Output("running:1.42.4\n"));
    ctx.commands().AnswerWith({"nmcli", "-t", "-f", "DEVICE,TYPE,STATE", "device"},
                              [this](const CommandSpec&) -> Result<CommandResult> {
                                bool off = takes_reload && reloads > 0;
                                std::string calico = off ? "unmanaged" : "connecting (getting IP configuration)";
                                return Output("lo:loopback:connected (externally)\ncali1234abcd:ethernet:" + calico +
                                              "\ntunl0:tun:" + (off ? "unmanaged" : "connected (externally)") +
                                              "\ndocker0:bridge:unmanaged\n");
                              });
    ctx.commands().AnswerWith({"nmcli", "general", "reload", "conf"}, [this](const CommandSpec&) -> Result<CommandResult> {
      ++reloads;
      return Output("");
    });
  }
};

bool Has(const std::vector<Finding>& fs, Severity s, const std::string& text) {
  for (const auto& f : fs)
    if (f.severity == s && (f.message.find(text) != std::string::npos || f.subject.find(text) != std::string::npos))
      return true;
  return false;
}

}  // namespace

TEST_CASE("calico-network writes the NetworkManager drop-in once, keeping docker0 unmanaged") {
  FakeActionContext ctx;
  FakeNetworkManager nm(ctx);
  VagrantNetwork(ctx.network());
  ctx.root().Write("/etc/NetworkManager/conf.d/10-docker.conf", "[keyfile]\nunmanaged-devices=interface-name:docker0\n");
  auto action = Spec().create();
  auto plan = action->MakePlan(ctx);
  REQUIRE(plan.ok());
  REQUIRE(plan->changes.size() == 2);
  CHECK(plan->changes[0].target == "/etc/NetworkManager/conf.d/calico.conf");
  CHECK(plan->changes[1].target == "nmcli general reload conf");
  CHECK(Has(plan->findings, Severity::kError, "NetworkManager manages Calico's devices now: cali1234abcd"));
  CHECK(Has(plan->findings, Severity::kWarning, "cali1234abcd (connecting (getting IP configuration)) itself"));
  CHECK(nm.reloads == 0);
  CHECK(plan->changes[0].diff.find("unmanaged-devices+=interface-name:cali*") != std::string::npos);
  CHECK(plan->data["network_manager"]["missing"].size() == 6);
  CHECK(Has(plan->findings, Severity::kWarning, "no usable kubeconfig"));
  CHECK_FALSE(std::filesystem::exists(ctx.root().Real("/etc/NetworkManager/conf.d/calico.conf")));

  auto out = action->Apply(ctx, *plan);
  REQUIRE(out.ok());
  CHECK(out->status == RunStatus::kChanged);
  CHECK(nm.reloads == 1);
  CHECK(out->data["network_manager"]["managed"].empty());
  CHECK(ctx.root().Read("/etc/NetworkManager/conf.d/calico.conf").find("interface-name:tunl*") != std::string::npos);
  CHECK(out->data["network_manager"]["missing"].empty());
  auto effective = out->data["network_manager"]["effective_unmanaged"].dump();
  CHECK(effective.find("interface-name:docker0") != std::string::npos);
  CHECK(effective.find("interface-name:cali*") != std::string::npos);

  auto again = Spec().create()->MakePlan(ctx);
  REQUIRE(again.ok());
  CHECK(again->changes.empty());
}

TEST_CASE("calico-network never rewrites a NetworkManager file that does not parse") {
  FakeActionContext ctx;
  FakeNetworkManager nm(ctx);
  VagrantNetwork(ctx.network());
  ctx.root().Write("/etc/NetworkManager/conf.d/50-broken.conf", "unmanaged-devices=interface-name:eth9\n[keyfile\n");
  auto plan = Spec().create()->MakePlan(ctx);
  REQUIRE(plan.ok());
  CHECK(plan->changes.empty());
  CHECK(Has(plan->findings, Severity::kError, "/etc/NetworkManager/conf.d/50-broken.conf:1"));
  CHECK(ctx.root().Read("/etc/NetworkManager/conf.d/50-broken.conf") ==
        "unmanaged-devices=interface-name:eth9\n[keyfile\n");
}

TEST_CASE("calico-network with fix_network_manager = false reports and plans nothing") {
  FakeActionContext ctx;
  FakeNetworkManager nm(ctx);
  ctx.mutable_params().Set("fix_network_manager", ParamValue(false));
  VagrantNetwork(ctx.network());
  auto plan = Spec().create()->MakePlan(ctx);
  REQUIRE(plan.ok());
  CHECK(plan->changes.empty());
  CHECK(Has(plan->findings, Severity::kError, "NetworkManager would manage Calico's interfaces"));
}

TEST_CASE("calico-network leaves NetworkManager alone when it is not there or not running") {
  FakeActionContext ctx;
  VagrantNetwork(ctx.network());
  SECTION("not installed") {
    ctx.commands().SetDefault([](const CommandSpec& s) -> Result<CommandResult> {
      return Error(ErrorCode::kNotFound, s.argv[0] + ": not found");
    });
    auto plan = Spec().create()->MakePlan(ctx);
    REQUIRE(plan.ok());
    CHECK(plan->changes.empty());
    CHECK(plan->data["network_manager"]["installed"] == false);
    CHECK(Has(plan->findings, Severity::kInfo, "NetworkManager is not installed"));
  }
  SECTION("stopped") {
    ctx.commands().Answer({"nmcli", "-t", "-f", "RUNNING,VERSION", "general"},
                          Output("", 8, "Error: NetworkManager is not running.\n"));
    auto plan = Spec().create()->MakePlan(ctx);
    REQUIRE(plan.ok());
    CHECK(plan->changes.empty());
    CHECK(plan->data["network_manager"]["running"] == false);
    CHECK(Has(plan->findings, Severity::kInfo, "NetworkManager is not running"));
  }
}

TEST_CASE("calico-network reports Calico devices NetworkManager keeps after the reload") {
  FakeActionContext ctx;
  FakeNetworkManager nm(ctx);
  nm.takes_reload = false;
  VagrantNetwork(ctx.network());
  auto action = Spec().create();
  auto plan = action->MakePlan(ctx);
  REQUIRE(plan.ok());
  auto out = action->Apply(ctx, *plan);
  REQUIRE(out.ok());
  CHECK(out->status == RunStatus::kFailed);
  CHECK(Has(out->findings, Severity::kError, "after the reload NetworkManager still manages cali1234abcd"));
}

TEST_CASE("calico-network says which setting makes Calico pick the InternalIP") {
  FakeActionContext ctx;
  VagrantNetwork(ctx.network());
  NodeOnlyCluster cluster;
  ctx.set_kube(&cluster);

  SECTION("first-found picks the NAT address") {
    auto plan = Spec().create()->MakePlan(ctx);
    REQUIRE(plan.ok());
    const auto& ad = plan->data["autodetection"];
    CHECK(ad["method"] == "first-found");
    CHECK(ad["picks"]["first-found"]["address"] == "10.0.2.15/24");
    CHECK(ad["picks"]["kubernetes-internal-ip"]["address"] == "192.168.56.11/24");
    CHECK(ad["internal_ip"] == "192.168.56.11");
    CHECK(ad["ok"] == false);
    CHECK(Has(plan->findings, Severity::kError, "IP_AUTODETECTION_METHOD=interface=eth1 or kubernetes-internal-ip"));
  }
  SECTION("interface=eth1 is right") {
    ctx.mutable_params().Set("method", ParamValue(std::string("interface=eth1")));
    auto plan = Spec().create()->MakePlan(ctx);
    REQUIRE(plan.ok());
    CHECK(plan->data["autodetection"]["ok"] == true);
    CHECK(Has(plan->findings, Severity::kInfo, "the Node's InternalIP"));
  }
  SECTION("BGP peers still dial the old address, the method is wrong too") {
    cluster.SetNode("192.168.56.11", "10.0.2.15/24");
    auto plan = Spec().create()->MakePlan(ctx);
    REQUIRE(plan.ok());
    CHECK(Has(plan->findings, Severity::kError, "BGP peers reach this node at 10.0.2.15/24"));
  }
  SECTION("BGP peers still dial the old address") {
    cluster.SetNode("192.168.56.11", "10.0.2.15/24");
    ctx.mutable_params().Set("method", ParamValue(std::string("interface=eth1")));
    auto plan = Spec().create()->MakePlan(ctx);
    REQUIRE(plan.ok());
    CHECK(Has(plan->findings, Severity::kWarning, "BGP peers reach this node at 10.0.2.15/24"));
    CHECK(Has(plan->findings, Severity::kWarning, "calico-node takes 192.168.56.11 when its pod restarts"));
    CHECK(plan->data["autodetection"]["ok"] == true);
  }
}

TEST_CASE("calico-network's typed defaults are the table's defaults") {
  FakeActionContext ctx;
  auto from_members = CalicoParamsFromValues(ctx.params(), "n");
  REQUIRE(from_members.ok());
  for (const auto& p : Spec().params) {
    if (p.default_value.empty()) continue;
    auto v = DefaultValue(p);
    REQUIRE(v.ok());
    REQUIRE(v->has_value());
    ctx.mutable_params().Set(std::string(p.name), **v);
  }
  auto from_table = CalicoParamsFromValues(ctx.params(), "n");
  REQUIRE(from_table.ok());
  CHECK(from_members->nm_specs == from_table->nm_specs);
  CHECK(from_members->namespaces == from_table->namespaces);
  CHECK(from_members->versions_file == from_table->versions_file);
  CHECK(from_members->nm_file == from_table->nm_file);
  CHECK(from_members->fix_method == from_table->fix_method);
  CHECK(from_members->bgp_port == from_table->bgp_port);
  CHECK(from_members->probe_timeout == from_table->probe_timeout);
  CHECK(from_members->fix_network_manager == from_table->fix_network_manager);
  CHECK(from_members->allow_cluster_changes == from_table->allow_cluster_changes);
}

TEST_CASE("calico-network patches a manifest install's method only when allowed, and says how when RBAC refuses") {
  FakeActionContext ctx;
  VagrantNetwork(ctx.network());
  NodeOnlyCluster cluster;
  ctx.set_kube(&cluster);
  cluster.Answer("GET /apis/apps/v1/namespaces/kube-system/daemonsets/calico-node",
                 fixtures::CalicoNodeDaemonSet("kube-system", fixtures::ManifestEnv()));

  SECTION("not allowed: advice, no change") {
    auto plan = Spec().create()->MakePlan(ctx);
    REQUIRE(plan.ok());
    CHECK(plan->data["autodetection"]["source"] == "DaemonSet kube-system/calico-node env IP_AUTODETECTION_METHOD");
    for (const auto& c : plan->changes) CHECK(c.kind != "patch");
    CHECK(Has(plan->findings, Severity::kInfo,
              "kubectl set env daemonset/calico-node -n kube-system IP_AUTODETECTION_METHOD=kubernetes-internal-ip"));
  }
  SECTION("allowed, refused by RBAC") {
    ctx.mutable_params().Set("allow_cluster_changes", ParamValue(true));
    cluster.Fail("PATCH /apis/apps/v1/namespaces/kube-system/daemonsets/calico-node", 403, "Forbidden",
                 "daemonsets.apps \"calico-node\" is forbidden");
    auto action = Spec().create();
    auto plan = action->MakePlan(ctx);
    REQUIRE(plan.ok());
    const Change* patch = nullptr;
    for (const auto& c : plan->changes)
      if (c.kind == "patch") patch = &c;
    REQUIRE(patch);
    CHECK(patch->target == "daemonset/kube-system/calico-node");
    CHECK(patch->description.find("every calico-node pod restarts") != std::string::npos);
    CHECK(patch->objects == std::vector<std::string>{"kube:daemonsets/kube-system/calico-node"});
    CHECK(cluster.SentTo("PATCH /apis/apps/v1/namespaces/kube-system/daemonsets/calico-node").empty());
    auto out = action->Apply(ctx, *plan);
    REQUIRE(out.ok());
    CHECK(out->status == RunStatus::kFailed);
    CHECK(Has(out->findings, Severity::kError, "rbac-calico-fix.yaml"));
  }
  SECTION("fix_method that would not pick the InternalIP here is refused") {
    ctx.mutable_params().Set("allow_cluster_changes", ParamValue(true));
    ctx.mutable_params().Set("fix_method", ParamValue(std::string("interface=eth0")));
    auto plan = Spec().create()->MakePlan(ctx);
    REQUIRE(plan.ok());
    for (const auto& c : plan->changes) CHECK(c.kind != "patch");
    CHECK(Has(plan->findings, Severity::kError, "would not pick the InternalIP 192.168.56.11"));
  }
}

TEST_CASE("calico-network checks IPv6 too when calico-node autodetects it") {
  FakeActionContext ctx;
  VagrantNetwork(ctx.network());
  ctx.network().addresses.push_back({2, "eth1", *IpPrefix::Parse("fd00:56::11/64"), "global", false});
  ctx.network().addresses.push_back({3, "eth0", *IpPrefix::Parse("fd00:2::15/64"), "global", false});
  NodeOnlyCluster cluster;
  ctx.set_kube(&cluster);
  nlohmann::json node = fixtures::Node("node-1", "192.168.56.11");
  node["status"]["addresses"].push_back({{"type", "InternalIP"}, {"address", "fd00:56::11"}});
  cluster.Answer("GET /api/v1/nodes/node-1", node);
  nlohmann::json env = fixtures::ManifestEnv();
  env.push_back({{"name", "IP6"}, {"value", "autodetect"}});
  env.push_back({{"name", "IP6_AUTODETECTION_METHOD"}, {"value", "interface=eth0"}});
  cluster.Answer("GET /apis/apps/v1/namespaces/kube-system/daemonsets/calico-node",
                 fixtures::CalicoNodeDaemonSet("kube-system", env));
  auto plan = Spec().create()->MakePlan(ctx);
  REQUIRE(plan.ok());
  REQUIRE(plan->data.contains("autodetection_v6"));
  const auto& v6 = plan->data["autodetection_v6"];
  CHECK(v6["method"] == "interface=eth0");
  CHECK(v6["picks"]["interface=eth0"]["address"] == "fd00:2::15/64");
  CHECK(v6["internal_ip"] == "fd00:56::11");
  CHECK(v6["ok"] == false);
  CHECK(Has(plan->findings, Severity::kError, "IP6_AUTODETECTION_METHOD=interface=eth1"));
}

namespace {

// data.checks as a map id -> status; every id of kCheckIds exactly once.
std::map<std::string, std::string> CheckStatuses(const nlohmann::json& data) {
  std::map<std::string, std::string> out;
  REQUIRE(data.contains("checks"));
  REQUIRE(data["checks"].size() == std::size(kCheckIds));
  for (const auto& c : data["checks"]) {
    CHECK(out.count(c["id"]) == 0);
    out[c["id"]] = c["status"];
  }
  for (auto id : kCheckIds) CHECK(out.count(std::string(id)) == 1);
  return out;
}

}  // namespace

TEST_CASE("calico-network names its failing checks by stable id in data.checks") {
  FakeActionContext ctx;
  VagrantNetwork(ctx.network());

  SECTION("NetworkManager manages Calico's devices; no cluster: its checks are skipped, not failing") {
    FakeNetworkManager nm(ctx);
    auto action = Spec().create();
    auto plan = action->MakePlan(ctx);
    REQUIRE(plan.ok());
    auto s = CheckStatuses(plan->data);
    CHECK(s["nm-config-parse"] == "pass");
    CHECK(s["nm-unmanaged-specs"] == "fail");
    CHECK(s["nm-device-managed"] == "fail");
    CHECK(s["cluster-read"] == "skipped");
    CHECK(s["calico-node-ready"] == "skipped");
    CHECK(s["bgp-port"] == "skipped");
    CHECK(s["pool-modes"] == "skipped");
    for (const auto& c : plan->data["checks"])
      if (c["id"] == "nm-device-managed") CHECK(c["severity"] == "error");

    auto out = action->Apply(ctx, *plan);  // the fix makes them pass in the run's record
    REQUIRE(out.ok());
    auto after = CheckStatuses(out->data);
    CHECK(after["nm-unmanaged-specs"] == "pass");
    CHECK(after["nm-device-managed"] == "pass");
  }
  SECTION("a file NetworkManager cannot load") {
    FakeNetworkManager nm(ctx);
    ctx.root().Write("/etc/NetworkManager/conf.d/50-broken.conf", "[keyfile\n");
    auto plan = Spec().create()->MakePlan(ctx);
    REQUIRE(plan.ok());
    CHECK(CheckStatuses(plan->data)["nm-config-parse"] == "fail");
  }
  SECTION("NetworkManager not running: its checks are skipped") {
    ctx.commands().Answer({"nmcli", "-t", "-f", "RUNNING,VERSION", "general"},
                          Output("", 8, "Error: NetworkManager is not running.\n"));
    auto s = CheckStatuses(Spec().create()->MakePlan(ctx)->data);
    CHECK(s["nm-config-parse"] == "skipped");
    CHECK(s["nm-unmanaged-specs"] == "skipped");
    CHECK(s["nm-device-managed"] == "skipped");
  }
  SECTION("the autodetected address is not the InternalIP") {
    NodeOnlyCluster cluster;
    ctx.set_kube(&cluster);
    auto plan = Spec().create()->MakePlan(ctx);
    REQUIRE(plan.ok());
    auto s = CheckStatuses(plan->data);
    CHECK(s["autodetect-method"] == "fail");
    CHECK(s["cluster-read"] == "fail");  // the DaemonSet and the pools are not scripted
    ctx.mutable_params().Set("method", ParamValue(std::string("interface=eth1")));
    CHECK(CheckStatuses(Spec().create()->MakePlan(ctx)->data)["autodetect-method"] == "pass");
  }
}

TEST_CASE("calico-network's check tally: worst severity, skipped until it ran") {
  CheckTally t;
  std::vector<Finding> findings;
  t.Ran("bgp-port");
  t.Add(findings, "tunnel-mtu", {Severity::kInfo, "tunl0", "fits"});
  t.Add(findings, "versions-support", {Severity::kWarning, "versions", "not in the table"});
  t.Count("versions-support", Severity::kError);
  t.Count("versions-support", Severity::kInfo);
  CHECK(findings.size() == 2);
  auto j = t.ToJson();
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& c : j) by_id[c["id"]] = c;
  CHECK(by_id["bgp-port"]["status"] == "pass");
  CHECK(by_id["tunnel-mtu"]["status"] == "pass");
  CHECK(by_id["versions-support"]["status"] == "fail");
  CHECK(by_id["versions-support"]["severity"] == "error");
  CHECK(by_id["tunnel-state"]["status"] == "skipped");
  CHECK(j[0]["id"] == kCheckIds[0]);
}
