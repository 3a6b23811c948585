#include "drain_actions.h"

#include <set>

#include "reboot_blockers.h"
#include "reboot_checker.h"
#include "reboot_coordinator.h"
#include "run_options.h"

namespace nodeagent::drain {

namespace {

enum class Kind { kCordon, kUncordon, kDrain, kDrainAndReboot, kRebootIfRequired };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kCordon: return "cordon";
    case Kind::kUncordon: return "uncordon";
    case Kind::kDrain: return "drain";
    case Kind::kDrainAndReboot: return "drain-and-reboot";
    case Kind::kRebootIfRequired: return "reboot-if-required";
  }
  return "?";
}

class NodeAction : public Action {
 public:
  explicit NodeAction(Kind kind) : kind_(kind) {}

  Result<Plan> MakePlan(ActionContext& ctx) override {
    auto c = Coordinator(ctx);
    if (!c) return c.error();
    if (kind_ == Kind::kCordon || kind_ == Kind::kUncordon) {
      Plan p;
      bool on = kind_ == Kind::kCordon;
      p.summary = std::string(on ? "cordon" : "uncordon") + " node " + options_.node;
      p.changes.push_back({on ? "cordon" : "uncordon", "node/" + options_.node, "", "", 0, {NodeObject(options_.node)}});
      if (!on) {
        auto slot = (*c)->HeldLockSlot();
        if (!slot) return slot.error();
        if (*slot) {
          p.summary += " and release its reboot lock slot " + **slot;
          // Given back to the longest-waiting node: its ticket and the slot are written.
          p.changes.push_back({"release-lock", "lease/" + options_.lock.ns + "/" + **slot,
                               "hand it to the node that has waited longest in the reboot queue, or delete it", "",
                               0, {LeaseObject(options_.lock.ns, **slot), LeaseObject(options_.lock.ns, "*")}});
        }
      }
      return p;
    }
    if (kind_ == Kind::kRebootIfRequired) {
      auto gate = Gate(ctx);
      if (!gate) return gate.error();
      if (!gate->empty()) {
        Plan p;
        p.summary = *gate;
        p.data = {{"required", false}, {"why", *gate}};
        return p;
      }
    }
    auto plan = (*c)->PlanDrain();
    if (plan && kind_ == Kind::kRebootIfRequired) {
      plan->summary = why_ + "; " + plan->summary;
      plan->data["required"] = true;
    }
    return plan;
  }

  Result<Outcome> Apply(ActionContext& ctx, const Plan& plan) override {
    auto c = Coordinator(ctx);
    if (!c) return c.error();
    // The plan is the contract: only what its changes name is changed.
    const std::set<std::string> planned = PlannedObjects(plan);
    if (kind_ == Kind::kCordon || kind_ == Kind::kUncordon) return (*c)->Cordon(kind_ == Kind::kCordon, &planned);
    if (kind_ == Kind::kRebootIfRequired && !plan.data.value("required", false)) {
      Outcome out;
      out.status = RunStatus::kSkipped;
      out.summary = plan.summary;
      return out;
    }
    if (plan.data.value("block", 0) > 0) {
      Outcome out;
      out.status = RunStatus::kFailed;
      out.summary = "not started: " + std::to_string(plan.data.value("block", 0)) +
                    " pod(s) cannot be drained with these options (nothing was changed)";
      for (const auto& f : plan.findings)
        if (f.severity == Severity::kError) out.findings.push_back(f);
      return out;
    }
    return (*c)->Run(plan);
  }

  Result<Outcome> Resume(ActionContext& ctx, const nlohmann::json& checkpoint) override {
    auto c = Coordinator(ctx);
    if (!c) return c.error();
    return (*c)->Resume(checkpoint);
  }

 private:
  Result<RebootCoordinator*> Coordinator(ActionContext& ctx) {
    if (coordinator_) return coordinator_.get();
    auto o = OptionsFromParams(ctx.params(), ctx.node_name());
    if (!o) return o.error();
    options_ = *o;
    auto kube = ctx.Kube();
    if (!kube) return kube.error().Wrap(std::string(KindName(kind_)) + " needs the Kubernetes API");
    kube_ = *kube;
    // Webhooks are best effort without HTTP; the Prometheus gate is not (Gate()).
    auto http = ctx.Http();
    if (http) http_ = *http;
    else http_error_ = http.error().message();
    coordinator_ = std::make_unique<RebootCoordinator>(ctx, **kube, options_, KindName(kind_));
    return coordinator_.get();
  }

  /// reboot-if-required: "" when a reboot is required and nothing blocks it,
  /// else the reason to skip.
  Result<std::string> Gate(ActionContext& ctx) {
    RebootChecker checker(ctx.host(), options_.checker);
    auto need = checker.Check();
    if (!need) return need.error();
    if (!need->required) return "no reboot required: " + need->why;
    why_ = "reboot required: " + need->why;
    std::vector<std::unique_ptr<RebootBlocker>> blockers;
    if (!options_.blocking_pod_selector.empty())
      blockers.push_back(std::make_unique<PodBlocker>(*kube_, options_.node, options_.blocking_pod_selector));
    if (!options_.prometheus_url.empty()) {
      if (!http_) return Error(ErrorCode::kUnavailable, "prometheus_url is set but " + http_error_);
      blockers.push_back(std::make_unique<PrometheusBlocker>(*http_, options_.prometheus_url, options_.alert_filter_regex));
    }
    auto b = CheckBlockers(blockers);
    if (!b) return "reboot required (" + need->why + ") but blocked: the blocker check failed: " + b.error().message();
    if (b->blocked) return "reboot required (" + need->why + ") but blocked: " + b->why;
    return std::string();
  }

  Kind kind_;
  HttpClient* http_ = nullptr;  // owned by the context
  std::string http_error_;
  RunOptions options_;
  KubeClient* kube_ = nullptr;
  std::unique_ptr<RebootCoordinator> coordinator_;
  std::string why_;
};

template <Kind K>
std::unique_ptr<Action> Make() {
  return std::make_unique<NodeAction>(K);
}

// What each action calls on the API server (the KubeClient calls of
// RebootCoordinator, Drainer, LeaseLock and PodBlocker). Node Events go to
// "default" like the kubelet's; the Event about a taken-over lock goes beside
// the Lease. tests/drain runs every action with exactly these rows granted.
#define NODE_PERMISSIONS                                                                          \
  Cluster("get patch", "", "nodes", "read the node; cordon, uncordon, annotate and taint it"),  \
      Cluster("patch", "", "nodes/status",                                                         \
              "set the NodeAgentReboot condition while a reboot lasts (and on a node whose expired lock it takes over)"), \
      InNamespace("default", "create", "", "events", "record Events about the node")
#define DRAIN_PERMISSIONS                                                                         \
  Cluster("list watch get delete", "", "pods",                                                    \
          "list and watch the node's pods; delete them with disable_eviction or on_drain_timeout = delete"), \
      Cluster("create", "", "pods/eviction", "evict the node's pods"),                            \
      Cluster("get", "apps", "daemonsets", "check that a DaemonSet pod's DaemonSet exists"),      \
      Cluster("list", "policy", "poddisruptionbudgets", "name the PodDisruptionBudgets that hold up a drain")
#define LOCK_PERMISSIONS                                                                          \
  InParamNamespace("lock_namespace", "get list watch create update delete", "coordination.k8s.io", "leases", \
                   "take, renew and give back the reboot lock; wait in its queue (watch the node's ticket)"), \
      InParamNamespace("lock_namespace", "create", "", "events", "record taking over an expired reboot lock")

constexpr KubePermission kCordonPermissions[] = {NODE_PERMISSIONS};
constexpr KubePermission kUncordonPermissions[] = {
    NODE_PERMISSIONS,
    InParamNamespace("lock_namespace", "get list watch update delete", "coordination.k8s.io", "leases",
                     "find and give back the node's reboot lock slot (to the longest-waiting node)"),
};
constexpr KubePermission kDrainPermissions[] = {NODE_PERMISSIONS, DRAIN_PERMISSIONS};
constexpr KubePermission kRebootPermissions[] = {NODE_PERMISSIONS, DRAIN_PERMISSIONS, LOCK_PERMISSIONS};
static_assert(HasValidKubePermissions(kCordonPermissions) && HasValidKubePermissions(kUncordonPermissions) &&
                  HasValidKubePermissions(kDrainPermissions) && HasValidKubePermissions(kRebootPermissions),
              "malformed permission table");

const ActionSpec kSpecs[] = {
    {"cordon", "Marks the node unschedulable (kubectl cordon).", NodeOnlyParams(), false, false,
     &Make<Kind::kCordon>, &ValidateParams, kCordonPermissions},
    {"uncordon",
     "Marks the node schedulable again, removes nodeagent's annotations and taint, and gives back the node's "
     "reboot lock slot.",
     UncordonParams(),
     false, false, &Make<Kind::kUncordon>, &ValidateParams, kUncordonPermissions},
    {"drain", "Cordons the node and evicts its pods like kubectl drain, concurrently; the node stays cordoned.",
     DrainParams(), true, true, &Make<Kind::kDrain>, &ValidateParams, kDrainPermissions},
    {"drain-and-reboot",
     "Takes the cluster reboot lock, cordons, drains, reboots, waits for the node to come back Ready, uncordons "
     "and releases the lock; resumes after the boot and rolls back after a crash.",
     DrainRebootParams(), true, true, &Make<Kind::kDrainAndReboot>, &ValidateParams, kRebootPermissions},
    {"reboot-if-required",
     "drain-and-reboot when a reboot is required (sentinel file or command) and no blocker (pods, Prometheus "
     "alerts) objects; for schedules with a maintenance window.",
     RebootIfRequiredParams(), true, true, &Make<Kind::kRebootIfRequired>, &ValidateParams, kRebootPermissions},
};

}  // namespace

std::span<const ActionSpec> DrainActionSpecs() { return kSpecs; }

}  // namespace nodeagent::drain
