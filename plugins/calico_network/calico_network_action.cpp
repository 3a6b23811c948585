#include "calico_network_action.h"

#include <algorithm>

#include "autodetect/autodetect_report.h"
#include "autodetect/system_resolver.h"
#include "calico_params.h"
#include "network_manager/nm_config.h"
#include "nodeagent/file_edit.h"
#include "nodeagent/kube.h"
#include "nodeagent/plan_objects.h"

namespace nodeagent::calico {

namespace {

bool HasError(const std::vector<Finding>& findings) {
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.severity == Severity::kError; });
}

// What the cluster says about this node and its Calico, as far as it could
// be read; each part that could not be is a finding and stays empty.
struct ClusterFacts {
  KubeClient* kube = nullptr;
  bool node_known = false;
  std::vector<NodeAddress> node_addresses;
  std::string ipv4_annotation, ipv6_annotation;
};

ClusterFacts ReadCluster(ActionContext& ctx, const CalicoParams& p, std::vector<Finding>& findings) {
  ClusterFacts facts;
  auto kube = ctx.Kube();
  if (!kube) {
    findings.push_back({Severity::kWarning, "cluster",
                        "no usable kubeconfig (" + kube.error().message() +
                            "): the checks against the cluster (the DaemonSet's method, the Node's InternalIP, the "
                            "calico-node pod, the versions) were skipped"});
    return facts;
  }
  facts.kube = *kube;
  auto node = facts.kube->GetNode(p.node_name);
  if (!node) {
    findings.push_back({Severity::kWarning, "node/" + p.node_name,
                        "cannot read the Node: " + node.error().message()});
    return facts;
  }
  facts.node_known = true;
  for (const auto& a : (*node)["status"].value("addresses", nlohmann::json::array()))
    if (a.is_object()) facts.node_addresses.push_back({a.value("type", ""), a.value("address", "")});
  const auto& ann = (*node)["metadata"].value("annotations", nlohmann::json::object());
  facts.ipv4_annotation = ann.value("projectcalico.org/IPv4Address", "");
  facts.ipv6_annotation = ann.value("projectcalico.org/IPv6Address", "");
  return facts;
}

// The NetworkManager part: which Calico interfaces it would manage, and the
// drop-in that stops it.
struct NmPart {
  std::optional<FileEdit> edit;
  nlohmann::json data = nlohmann::json::object();
};

NmPart PlanNetworkManager(Host& host, const CalicoParams& p, std::vector<Finding>& findings) {
  NmPart part;
  NmConfig config = ReadNmConfig(host.files());
  auto coverage = CheckCoverage(config, p.nm_specs);
  std::vector<std::string> missing;
  for (const auto& c : coverage)
    if (!c.covered) missing.push_back(c.spec);
  part.data = {{"effective_unmanaged", config.unmanaged_devices.value_or(std::vector<std::string>{})},
               {"missing", missing},
               {"files_read", config.files_read},
               {"file", nullptr}};
  for (const auto& e : config.errors)
    findings.push_back({Severity::kError, e.path + ":" + std::to_string(e.line),
                        "NetworkManager cannot load this file (" + e.message + "); it is left as it is"});
  for (const auto& problem : config.problems) findings.push_back({Severity::kWarning, "NetworkManager", problem});
  if (!config.ok()) return part;
  NmFixOptions options;
  options.file_name = p.nm_file;
  options.specs = p.nm_specs;
  auto fix = PlanNmFix(host.files(), options);
  if (!fix) {
    findings.push_back({Severity::kError, "NetworkManager", fix.error().message()});
    return part;
  }
  part.data["file"] = fix->path;
  for (const auto& n : fix->notes) findings.push_back({Severity::kInfo, fix->path, n});
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    findings.push_back({p.fix_network_manager ? Severity::kWarning : Severity::kError, "NetworkManager",
                        "NetworkManager would manage Calico's interfaces (" + list + ")" +
                            (p.fix_network_manager ? "" : "; fix_network_manager = false: not fixed")});
  }
  if (fix->edit && p.fix_network_manager) part.edit = fix->edit;
  return part;
}

class CalicoNetworkAction : public Action {
 public:
  Result<Plan> MakePlan(ActionContext& ctx) override {
    auto p = CalicoParamsFromValues(ctx.params(), ctx.node_name());
    if (!p) return p.error();
    params_ = std::move(*p);
    Plan plan;
    Check(ctx, plan.findings, plan.data);
    if (nm_.edit) {
      plan.changes.push_back(FileEditChange(*nm_.edit, "keep NetworkManager off Calico's interfaces"));
    }
    plan.summary = Summary(plan.findings, plan.changes.size());
    return plan;
  }

  Result<Outcome> Apply(ActionContext& ctx, const Plan&) override {
    Outcome out;
    if (nm_.edit) {
      Status st = ApplyFileEdit(ctx.host().files(), *nm_.edit);
      if (!st.ok()) {
        out.findings.push_back({Severity::kError, nm_.edit->path, st.error().message()});
      } else {
        out.changes.push_back(FileEditChange(*nm_.edit, "keep NetworkManager off Calico's interfaces"));
        ctx.Info("wrote " + nm_.edit->path);
      }
    }
    std::vector<Finding> after;
    Check(ctx, after, out.data);
    out.findings.insert(out.findings.end(), after.begin(), after.end());
    out.summary = Summary(out.findings, 0);
    out.status = HasError(out.findings) ? RunStatus::kFailed
                 : out.changes.empty()  ? RunStatus::kOk
                                        : RunStatus::kChanged;
    return out;
  }

 private:
  // Every read-only check; keeps what Apply needs.
  void Check(ActionContext& ctx, std::vector<Finding>& findings, nlohmann::json& data) {
    Host& host = ctx.host();
    nm_ = PlanNetworkManager(host, params_, findings);
    data["network_manager"] = nm_.data;

    ClusterFacts cluster = ReadCluster(ctx, params_, findings);
    AutodetectReportInputs in;
    in.family = AddressFamily::kIpv4;
    in.method_text = params_.method;
    in.method_source = params_.method.empty() ? "unset: Calico's default first-found" : "the method parameter";
    in.ip_env = "autodetect";
    in.current_ip = cluster.ipv4_annotation;
    in.inputs.node_known = cluster.node_known;
    in.inputs.node_addresses = cluster.node_addresses;
    in.inputs.resolver = &resolver_;
    AutodetectReport v4 = ReportAutodetection(host.network(), in);
    findings.insert(findings.end(), v4.findings.begin(), v4.findings.end());
    data["autodetection"] = v4.data;
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
  NmPart nm_;
  SystemNameResolver resolver_;
};

std::unique_ptr<Action> MakeCalicoNetwork() { return std::make_unique<CalicoNetworkAction>(); }

constexpr KubePermission kPermissions[] = {
    Cluster("get", "", "nodes", "this node's InternalIP and the address calico-node chose (its annotations)"),
};
static_assert(HasValidKubePermissions(kPermissions));

const ActionSpec kSpecs[] = {
    {.name = "calico-network",
     .description = "Keeps NetworkManager off Calico's interfaces (a conf.d drop-in that keeps other unmanaged "
                    "devices, then a reload), reports tunl0 and Calico's other tunnels, checks the node address "
                    "Calico autodetects against the Node's InternalIP and says which setting fixes it, checks this "
                    "node's calico-node pod and its BGP peers, and the Calico/Kubernetes version fit.",
     .params = CalicoParamsTable(),
     .disruptive = false,
     .create = &MakeCalicoNetwork,
     .validate = &ValidateCalicoParams,
     .permissions = kPermissions},
};

}  // namespace

std::span<const ActionSpec> CalicoNetworkActionSpecs() { return kSpecs; }

}  // namespace nodeagent::calico
