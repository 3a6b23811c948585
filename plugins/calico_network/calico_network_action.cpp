#include "calico_network_action.h"

#include <algorithm>

#include "autodetect/autodetect_report.h"
#include "autodetect/system_resolver.h"
#include "calico_checks.h"
#include "calico_params.h"
#include "cluster/bgp_probe.h"
#include "cluster/calico_install.h"
#include "cluster/calico_node.h"
#include "cluster/calico_pod.h"
#include "cluster/cluster_permissions.h"
#include "cluster/env_patch.h"
#include "interfaces/calico_interfaces.h"
#include "network_manager/nm_section.h"
#include "nodeagent/kube.h"
#include "versions/versions.h"

namespace nodeagent::calico {

namespace {

bool HasError(const std::vector<Finding>& findings) {
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.severity == Severity::kError; });
}

void Append(std::vector<Finding>& to, const std::vector<Finding>& from) { to.insert(to.end(), from.begin(), from.end()); }

Severity FromProblem(ProblemSeverity s) {
  switch (s) {
    case ProblemSeverity::kInfo: return Severity::kInfo;
    case ProblemSeverity::kWarning: return Severity::kWarning;
    case ProblemSeverity::kError: return Severity::kError;
  }
  return Severity::kWarning;
}

// What the cluster says, as far as it could be read. Each part that could
// not be is a finding, and the checks that need it say they were skipped.
struct ClusterFacts {
  KubeClient* kube = nullptr;
  std::optional<CalicoNodeView> node;
  std::optional<CalicoInstall> install;  ///< set when the DaemonSet was looked for (found or not)
  std::optional<std::vector<IpPoolView>> pools;
  std::string server_version;  ///< the API server's gitVersion
};

// Without a kubeconfig the cluster's checks are skipped (not failing: a node
// may run without one on purpose); with one, what cannot be read fails cluster-read.
ClusterFacts ReadCluster(ActionContext& ctx, const CalicoParams& p, std::vector<Finding>& findings,
                         CheckTally& checks) {
  ClusterFacts facts;
  auto kube = ctx.Kube();
  if (!kube) {
    findings.push_back({Severity::kWarning, "cluster",
                        "no usable kubeconfig (" + kube.error().message() +
                            "): the checks against the cluster (the DaemonSet's method, the Node's InternalIP, the "
                            "calico-node pod and its BGP peers, the IP pools, the versions) were skipped"});
    return facts;
  }
  facts.kube = *kube;
  checks.Ran("cluster-read");
  ctx.Progress("reading the cluster");
  if (auto node = ReadCalicoNode(*facts.kube, p.node_name); node) {
    facts.node = *node;
  } else {
    checks.Add(findings, "cluster-read", {Severity::kWarning, "node/" + p.node_name,
                        node.error().message() + ": the comparison with the InternalIP was skipped"});
  }
  if (auto install = ReadCalicoInstall(*facts.kube, p.namespaces, p.daemonset); install) {
    facts.install = *install;
    if (!install->found) checks.Add(findings, "cluster-read", {Severity::kWarning, "calico-node", install->not_found});
    for (const auto& note : install->notes) findings.push_back({Severity::kInfo, "calico-node", note});
  } else {
    checks.Add(findings, "cluster-read", {Severity::kWarning, "calico-node", install.error().message()});
  }
  auto path = ResourcePath({.group = "crd.projectcalico.org", .version = "v1", .resource = "ippools"});
  KubeRequest req = KubeRequest::Get(*path);
  req.query = {{"limit", "1000"}};
  if (auto list = facts.kube->Request(req); list) {
    if (auto pools = ParseIpPools(*list); pools) facts.pools = *pools;
    else checks.Add(findings, "cluster-read", {Severity::kWarning, "ippools", pools.error().message()});
  } else {
    findings.push_back({Severity::kInfo, "ippools", "cannot list Calico's IP pools: " + list.error().message()});
  }
  if (auto version = facts.kube->GetVersion(); version) {
    facts.server_version = version->value("gitVersion", "");
  } else {
    findings.push_back({Severity::kInfo, "versions", "cannot read the API server's version: " + version.error().message()});
  }
  return facts;
}

// The check id of an interface problem, as the report sorted it.
std::string_view InterfaceCheckId(const InterfaceProblem& problem) {
  switch (problem.check) {
    case InterfaceCheck::kPoolModes: return "pool-modes";
    case InterfaceCheck::kTunnelMtu: return "tunnel-mtu";
    case InterfaceCheck::kTunnelState: break;
  }
  return "tunnel-state";
}

// One env variable's reading as calico-node sees it: its value when known.
std::string EnvValue(const CalicoInstall* install, std::string_view name, std::string fallback) {
  if (!install || !install->found) return fallback;
  const EnvSetting* s = install->Setting(name);
  if (!s || !s->present) return "";
  return s->known ? s->value : fallback;
}

// The DaemonSet change planned in MakePlan, carried out in Apply.
struct ClusterFix {
  std::optional<EnvPatchPlan> patch;
};

class CalicoNetworkAction : public Action {
 public:
  Result<Plan> MakePlan(ActionContext& ctx) override {
    auto p = CalicoParamsFromValues(ctx.params(), ctx.node_name());
    if (!p) return p.error();
    params_ = std::move(*p);
    Plan plan;
    Check(ctx, plan.findings, plan.data, &plan.changes);
    plan.summary = Summary(plan.findings, plan.changes.size());
    return plan;
  }

  Result<Outcome> Apply(ActionContext& ctx, const Plan&) override {
    Outcome out;
    ctx.Progress("NetworkManager");
    ApplyNmSection(ctx.host(), NmOptions(), nm_, out, ctx.cancel_flag());
    auto kube = fix_.patch ? ctx.Kube() : Result<KubeClient*>(Error(ErrorCode::kNotFound, "no patch"));
    if (fix_.patch && !kube) {
      out.findings.push_back({Severity::kError, "daemonset/" + fix_.patch->ns + "/" + fix_.patch->name,
                              "not patched: " + kube.error().message()});
    } else if (fix_.patch) {
      ctx.Progress("patching " + fix_.patch->ns + "/" + fix_.patch->name);
      if (auto patched = ApplyEnvPatch(**kube, *fix_.patch); patched) {
        Change c = PatchChange(*fix_.patch);
        out.changes.push_back(c);
        ctx.Info(c.description);
      } else {
        std::string hint;
        if (patched.error().code() == ErrorCode::kPermissionDenied)
          hint = "; the shipped RBAC does not allow it: grant it to this agent's identity with "
                 "/usr/share/doc/nodeagent/examples/rbac-calico-fix.yaml (patch on daemonset calico-node only)";
        out.findings.push_back({Severity::kError, "daemonset/" + fix_.patch->ns + "/" + fix_.patch->name,
                                "not patched: " + patched.error().message() + hint});
      }
    }
    std::vector<Finding> after;
    Check(ctx, after, out.data);
    Append(out.findings, after);
    out.summary = Summary(out.findings, 0);
    if (!out.changes.empty()) out.summary += "; " + std::to_string(out.changes.size()) + " change(s) made";
    out.status = HasError(out.findings) ? RunStatus::kFailed
                 : out.changes.empty()  ? RunStatus::kOk
                                        : RunStatus::kChanged;
    return out;
  }

 private:
  // Every read-only check, in order; keeps what Apply needs. `changes` is
  // null when checking again after Apply.
  void Check(ActionContext& ctx, std::vector<Finding>& findings, nlohmann::json& data, std::vector<Change>* changes = nullptr) {
    Host& host = ctx.host();
    ctx.Progress("NetworkManager");
    nm_ = PlanNmSection(host, NmOptions());
    Append(findings, nm_.findings);
    CheckTally checks = nm_.checks;
    if (changes) changes->insert(changes->end(), nm_.changes.begin(), nm_.changes.end());
    data["network_manager"] = nm_.data;

    ClusterFacts cluster = ReadCluster(ctx, params_, findings, checks);
    const CalicoInstall* install = cluster.install && cluster.install->found ? &*cluster.install : nullptr;
    if (cluster.install) data["calico_node"] = ToJson(*cluster.install);

    ctx.Progress("autodetection");
    AutodetectReport v4 = Autodetection(ctx, cluster, AddressFamily::kIpv4);
    checks.Ran("autodetect-method");
    for (const auto& f : v4.findings) checks.Add(findings, "autodetect-method", f);
    data["autodetection"] = v4.data;
    if (install && (EnvValue(install, "IP6", "") == "autodetect")) {
      AutodetectReport v6 = Autodetection(ctx, cluster, AddressFamily::kIpv6);
      for (const auto& f : v6.findings) checks.Add(findings, "autodetect-method", f);
      data["autodetection_v6"] = v6.data;
    }
    fix_ = {};
    std::vector<Change> after_apply;  // checking again after Apply: the advice, no new change
    if (!v4.ok) {
      std::vector<Finding> fix_findings;
      PlanClusterFix(ctx, cluster, v4, fix_findings, changes ? *changes : after_apply);
      for (auto& f : fix_findings) checks.Add(findings, "autodetect-method", std::move(f));
    }

    ctx.Progress("Calico's interfaces");
    InterfaceReportInputs iin;
    if (v4.pick) iin.underlying = v4.pick->interface;
    iin.pools = cluster.pools;
    if (auto report = ReportCalicoInterfaces(host.network(), iin); report) {
      nlohmann::json j = report->ToJson();
      data["interfaces"] = j["interfaces"];
      data["tunnels"] = {{"underlying", j["underlying"]}, {"underlying_mtu", j["underlying_mtu"]},
                         {"cali_veths", j["cali_veths"]}};
      checks.Ran("tunnel-mtu");
      checks.Ran("tunnel-state");
      if (cluster.pools) checks.Ran("pool-modes");
      for (const auto& problem : report->problems)
        checks.Add(findings, InterfaceCheckId(problem),
                   {FromProblem(problem.severity), problem.subject, problem.message});
    } else {
      data["interfaces"] = nlohmann::json::array();
      checks.Add(findings, "tunnel-state",
                 {Severity::kWarning, "interfaces", "cannot read the network: " + report.error().message()});
    }

    Readiness(ctx, cluster, findings, data, checks);
    Versions(ctx, cluster, findings, data, checks);
    data["checks"] = checks.ToJson();
  }

  AutodetectReport Autodetection(ActionContext& ctx, const ClusterFacts& cluster, AddressFamily family) {
    const bool v4 = family == AddressFamily::kIpv4;
    const CalicoInstall* install = cluster.install && cluster.install->found ? &*cluster.install : nullptr;
    AutodetectReportInputs in;
    in.family = family;
    if (v4 && !params_.method.empty()) {
      in.method_text = params_.method;
      in.method_source = "the method parameter";
    } else if (install) {
      MethodReading m = EffectiveMethod(*install, family);
      in.method_text = m.known ? m.value : "";
      in.method_source = m.known ? m.source : m.source + " (unknown: first-found assumed)";
    } else {
      in.method_text = "";
      in.method_source = "unset: Calico's default first-found (the DaemonSet was not read)";
    }
    // IP as calico-node gets it; without the DaemonSet, Calico's manifests' IP=autodetect.
    in.ip_env = install ? EnvValue(install, v4 ? "IP" : "IP6", "autodetect") : (v4 ? "autodetect" : "");
    if (cluster.node) {
      in.current_ip = v4 ? cluster.node->ipv4_annotation : cluster.node->ipv6_annotation;
      in.inputs.node_known = true;
      in.inputs.node_addresses = cluster.node->addresses;
    }
    in.inputs.resolver = &resolver_;
    return ReportAutodetection(ctx.host().network(), in);
  }

  // The fix for a wrong pick: the DaemonSet's env (allow_cluster_changes),
  // or for an operator install the kubectl patch to run.
  void PlanClusterFix(ActionContext& ctx, const ClusterFacts& cluster, const AutodetectReport& v4,
                      std::vector<Finding>& findings, std::vector<Change>& changes) {
    const CalicoInstall* install = cluster.install && cluster.install->found ? &*cluster.install : nullptr;
    if (!install || !cluster.node || !v4.internal_ip || !v4.data.value("autodetects", false)) return;
    if (!v4.pick || v4.pick->address.address == *v4.internal_ip) return;  // only the annotation lags
    std::string value = params_.fix_method == "suggested" ? v4.suggested_method : params_.fix_method;
    if (value.empty()) {
      findings.push_back({Severity::kWarning, "calico-node",
                          "no interface= or cidr= value picks the InternalIP here; set fix_method"});
      return;
    }
    // The value must pick the InternalIP on this node before it goes to every node.
    auto method = ParseAutodetectionMethod(value);
    if (!method) {
      findings.push_back({Severity::kError, "calico-node", "fix_method " + value + ": " + method.error().message()});
      return;
    }
    AutodetectInputs inputs;
    inputs.node_known = true;
    inputs.node_addresses = cluster.node->addresses;
    inputs.resolver = &resolver_;
    auto pick = Autodetect(*method, ctx.host().network(), AddressFamily::kIpv4, inputs);
    if (!pick || pick->address.address != *v4.internal_ip) {
      findings.push_back({Severity::kError, "calico-node",
                          "fix_method " + value + " would not pick the InternalIP " + v4.internal_ip->ToString() +
                              " here (" + (pick ? "it picks " + pick->address.ToString() : pick.error().message()) +
                              "): not planned"});
      return;
    }
    if (install->operator_managed) {
      auto command = OperatorPatchCommand(AddressFamily::kIpv4, value);
      findings.push_back({Severity::kInfo, "installation/default",
                          "calico-node is managed by the Tigera operator (" + install->operator_reason +
                              "); its DaemonSet is never patched. To fix: " +
                              (command ? *command : command.error().message())});
      return;
    }
    const std::string env = std::string(MethodEnvName(AddressFamily::kIpv4));
    if (!params_.allow_cluster_changes) {
      findings.push_back({Severity::kInfo, "daemonset/" + install->ns + "/" + install->name,
                          "to fix: allow_cluster_changes = true patches it, or kubectl set env daemonset/" +
                              install->name + " -n " + install->ns + " " + env + "=" + value +
                              " (every calico-node pod restarts)"});
      return;
    }
    auto patch = PlanEnvPatch(*install, env, value);
    if (!patch) {
      findings.push_back({Severity::kError, "daemonset/" + install->ns + "/" + install->name, patch.error().message()});
      return;
    }
    if (patch->unchanged) return;
    fix_.patch = *patch;
    changes.push_back(PatchChange(*patch));
  }

  // This node's calico-node pod; when it is not Ready, its message and the
  // peers' BGP port.
  void Readiness(ActionContext& ctx, const ClusterFacts& cluster, std::vector<Finding>& findings, nlohmann::json& data,
                 CheckTally& checks) {
    const CalicoInstall* install = cluster.install && cluster.install->found ? &*cluster.install : nullptr;
    if (!cluster.kube || !install) return;
    ctx.Progress("calico-node pod");
    auto pod = ReadCalicoPod(*cluster.kube, install->ns, params_.node_name);
    if (!pod) {
      checks.Add(findings, "calico-node-ready", {Severity::kWarning, "calico-node", pod.error().message()});
      return;
    }
    checks.Ran("calico-node-ready");
    data["calico_pod"] = ToJson(*pod);
    const std::string subject = "pod/" + pod->ns + "/" + pod->name;
    if (!pod->found) {
      checks.Add(findings, "calico-node-ready", {Severity::kError, "calico-node",
                          "no calico-node pod on node " + params_.node_name + " in " + install->ns});
      return;
    }
    if (pod->ready) {
      findings.push_back({Severity::kInfo, subject, "Ready (" + std::to_string(pod->restart_count) + " restarts)"});
      return;
    }
    std::string why = pod->readiness_message.empty() ? "no readiness-probe failure recorded" : pod->readiness_message;
    if (!pod->waiting_reason.empty()) why += "; waiting: " + pod->waiting_reason;
    if (!pod->events_problem.empty()) why += "; " + pod->events_problem;
    checks.Add(findings, "calico-node-ready",
               {Severity::kError, subject, "not Ready, " + std::to_string(pod->restart_count) + " restart(s): " + why});

    ctx.Progress("BGP peers");
    auto peers = ReadPeerAddresses(*cluster.kube, params_.node_name);
    if (!peers) {
      checks.Add(findings, "bgp-port", {Severity::kWarning, "bgp", "cannot list the peers: " + peers.error().message()});
      return;
    }
    SocketTcpProbe probe;
    auto results = probe.Probe(*peers, static_cast<uint16_t>(params_.bgp_port), params_.probe_timeout);
    data["bgp_peers"] = ToJson(results);
    checks.Ran("bgp-port");
    std::string closed;
    size_t open = 0;
    for (const auto& r : results) {
      if (r.state == ProbeState::kOpen) {
        ++open;
        continue;
      }
      closed += (closed.empty() ? "" : ", ") + r.address.ToString() + " (" + r.message + ")";
    }
    const std::string port = "TCP " + std::to_string(params_.bgp_port);
    if (!closed.empty())
      checks.Add(findings, "bgp-port", {Severity::kWarning, "bgp",
                          port + " does not answer from " + closed + "; " + std::to_string(open) + " of " +
                              std::to_string(results.size()) + " peer(s) open"});
    else if (!results.empty())
      findings.push_back({Severity::kInfo, "bgp", port + " open on all " + std::to_string(results.size()) + " peer(s)"});
  }

  void Versions(ActionContext& ctx, const ClusterFacts& cluster, std::vector<Finding>& findings, nlohmann::json& data,
                CheckTally& checks) {
    auto table = LoadVersionTable(ctx.host().files(), params_.versions_file);
    if (!table) {
      checks.Add(findings, "versions-support", {Severity::kWarning, "versions", table.error().message()});
      return;
    }
    if (!table->note.empty())
      findings.push_back({table->file_broken ? Severity::kWarning : Severity::kInfo, "versions", table->note});
    if (!cluster.kube) {
      data["versions"] = {{"supported", "unknown"}, {"table", table->table.origin},
                          {"message", "no cluster access: versions not compared"}};
      return;
    }
    VersionInputs in;
    if (cluster.install && cluster.install->found) in.calico_image = cluster.install->image;
    in.kubernetes = cluster.server_version;
    if (cluster.node) in.kubelet = cluster.node->kubelet_version;
    VersionVerdict verdict = CheckVersions(table->table, in);
    data["versions"] = verdict.json;
    checks.Add(findings, "versions-support",
               {verdict.supported == Support::kYes ? Severity::kInfo : Severity::kWarning, "versions", verdict.message});
  }

  static Change PatchChange(const EnvPatchPlan& patch) {
    Change c;
    c.kind = "patch";
    c.target = "daemonset/" + patch.ns + "/" + patch.name;
    c.description = patch.description;
    c.diff = patch.patch.dump(2);
    c.objects = {patch.object};
    return c;
  }

  NmSectionOptions NmOptions() const {
    NmSectionOptions o;
    o.specs = params_.nm_specs;
    o.file_name = params_.nm_file;
    o.fix = params_.fix_network_manager;
    return o;
  }

  static std::string Summary(const std::vector<Finding>& findings, size_t changes) {
    size_t errors = 0, warnings = 0;
    for (const auto& f : findings) {
      if (f.severity == Severity::kError) ++errors;
      if (f.severity == Severity::kWarning) ++warnings;
    }
    std::string s = std::to_string(errors) + " error(s), " + std::to_string(warnings) + " warning(s)";
    if (changes) s += "; " + std::to_string(changes) + " change(s) planned";
    return s;
  }

  CalicoParams params_;
  NmSectionPlan nm_;
  ClusterFix fix_;
  SystemNameResolver resolver_;
};

std::unique_ptr<Action> MakeCalicoNetwork() { return std::make_unique<CalicoNetworkAction>(); }

// Read-only. The fix's `patch daemonsets` (kClusterFixPermissions) is left
// out on purpose: conf/rbac.yaml binds every node's agent, and a node that
// may patch DaemonSets in kube-system may run anything on every node. It is
// granted on its own, to one identity, by conf/rbac-calico-fix.yaml.
constexpr auto kPermissions = [] {
  constexpr size_t n = std::size(kClusterReadPermissions) + 1;
  std::array<KubePermission, n> all{};
  size_t i = 0;
  for (const auto& p : kClusterReadPermissions) all[i++] = p;
  all[i++] = Cluster("list", "crd.projectcalico.org", "ippools", "the IP pools' ipipMode and vxlanMode for tunl0's check");
  return all;
}();
static_assert(HasValidKubePermissions(kPermissions));

constexpr ConditionSpec kConditions[] = {
    {"NodeAgentCalicoNetwork", "CalicoNetworkProblem", "CalicoNetworkHealthy",
     "an error of calico-network's checks (NetworkManager, tunnels, the autodetected address, calico-node)"},
};

const ActionSpec kSpecs[] = {
    {.name = "calico-network",
     .description = "Keeps NetworkManager off Calico's interfaces (a conf.d drop-in that keeps other unmanaged "
                    "devices, then a reload), reports tunl0 and Calico's other tunnels, checks the node address "
                    "Calico autodetects against the Node's InternalIP and says which setting fixes it (patching "
                    "the calico-node DaemonSet only with allow_cluster_changes), checks this node's calico-node "
                    "pod and its BGP peers, and the Calico/Kubernetes version fit.",
     .params = CalicoParamsTable(),
     .disruptive = false,
     .create = &MakeCalicoNetwork,
     .validate = &ValidateCalicoParams,
     .permissions = kPermissions,
     .conditions = kConditions},
};

}  // namespace

std::span<const ActionSpec> CalicoNetworkActionSpecs() { return kSpecs; }

}  // namespace nodeagent::calico
