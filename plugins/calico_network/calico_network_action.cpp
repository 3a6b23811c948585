#include "calico_network_action.h"

#include <algorithm>

#include "autodetect/autodetect_report.h"
#include "autodetect/system_resolver.h"
#include "calico_params.h"
#include "network_manager/nm_section.h"
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
  void Check(ActionContext& ctx, std::vector<Finding>& findings, nlohmann::json& data,
             std::vector<Change>* changes = nullptr) {
    Host& host = ctx.host();
    nm_ = PlanNmSection(host, NmOptions());
    Append(findings, nm_.findings);
    if (changes) changes->insert(changes->end(), nm_.changes.begin(), nm_.changes.end());
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

  NmSectionOptions NmOptions() const {
    NmSectionOptions o;
    o.specs = params_.nm_specs;
    o.file_name = params_.nm_file;
    o.fix = params_.fix_network_manager;
    return o;
  }

  static void Append(std::vector<Finding>& to, const std::vector<Finding>& from) {
    to.insert(to.end(), from.begin(), from.end());
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
