#include "join_prep_actions.h"

#include "join_params.h"
#include "join_step.h"
#include "kubelet_config.h"
#include "nodeagent/kube.h"
#include "preflight.h"

namespace nodeagent::join_prep {

namespace {

// The checks and fixes both actions share: plan them, apply them, check again.
class Preflight {
 public:
  /// `for_join`: the checks that say "not joined yet" (a kubelet.conf, the
  /// kubelet's port in use, a Node with this name) are errors. join-prep
  /// on a node that is already joined (scheduled to catch drift) takes them
  /// as what they are: the signs of that join.
  explicit Preflight(bool for_join) : for_join_(for_join) {}

  /// Runs every check (read-only) and keeps the result for Apply.
  Status Plan(ActionContext& ctx, Plan& plan) {
    auto p = ParamsFromValues(ctx.params(), ctx.node_name());
    if (!p) return p.error();
    params_ = std::move(*p);
    report_ = Check(ctx);
    std::vector<Change> changes;
    size_t fixes = 0;
    for (const auto& c : report_.checks) {
      if (c.status == CheckStatus::kPass || !c.fix) continue;
      if (!IsFixAllowed(params_.checks, c.fix->id)) continue;
      ++fixes;
      for (const auto& step : c.fix->steps) changes.push_back(StepChange(step));
      if (!c.fix->warning.empty()) plan.findings.push_back({Severity::kWarning, c.id, c.fix->warning});
    }
    auto findings = CheckFindings(report_.checks);
    plan.findings.insert(plan.findings.begin(), findings.begin(), findings.end());
    plan.changes.insert(plan.changes.end(), changes.begin(), changes.end());
    plan.data["checks"] = ChecksJson(report_.checks, params_.checks);
    plan.data["firewall"] = {{"ports", report_.firewall_ports}};
    plan.summary = Summary(report_.checks, fixes);
    return Status::Ok();
  }

  /// Carries out the planned fixes, then checks again. Fills `out` (changes,
  /// findings, data) and says whether an error still blocks.
  bool Apply(ActionContext& ctx, Outcome& out) {
    std::vector<std::string> failed_fixes;
    size_t applied = 0;
    for (const auto& c : report_.checks) {
      if (c.status == CheckStatus::kPass || !c.fix || !IsFixAllowed(params_.checks, c.fix->id)) continue;
      if (ctx.cancelled()) break;
      ctx.Progress("fixing " + c.id + " (" + c.fix->id + ")");
      for (const auto& step : c.fix->steps) {
        Status st = ApplyStep(ctx.host(), step);
        if (!st.ok()) {
          std::string msg = "fix " + c.fix->id + " failed: " + st.error().message();
          if (msg.find("Read-only file system") != std::string::npos ||
              msg.find("Operation not permitted") != std::string::npos)
            msg += " (run by the daemon? its sandbox allows join-prep's fixes only with the drop-in "
                   "/usr/share/doc/nodeagent/examples/nodeagent.service.d/join-prep.conf installed in "
                   "/etc/systemd/system/nodeagent.service.d/; or run agentctl --local as root)";
          out.findings.push_back({Severity::kError, c.id, msg, CheckCondition(c.id)});
          failed_fixes.push_back(c.id);
          break;
        }
        out.changes.push_back(StepChange(step));
        ctx.Info("fixed " + c.id + ": " + StepChange(step).target);
      }
      ++applied;
      if (!c.fix->warning.empty()) out.findings.push_back({Severity::kWarning, c.id, c.fix->warning});
    }
    std::vector<CheckResult> before = std::move(report_.checks);
    report_ = Check(ctx);
    // A check that failed before and passes now was fixed by this run. Some
    // units report only failures (the firewall: one result per closed
    // port), so a failure that is gone now counts as passing.
    for (const auto& b : before) {
      if (b.status == CheckStatus::kPass) continue;
      auto now = std::find_if(report_.checks.begin(), report_.checks.end(),
                              [&](const CheckResult& c) { return c.id == b.id; });
      if (now == report_.checks.end()) {
        if (!b.fix || !IsFixAllowed(params_.checks, b.fix->id)) continue;
        CheckResult fixed = b;
        fixed.status = CheckStatus::kFixed;
        fixed.message = "was: " + b.message;
        fixed.fix.reset();
        report_.checks.push_back(std::move(fixed));
      } else if (now->status == CheckStatus::kPass) {
        now->status = CheckStatus::kFixed;
      }
    }
    auto findings = CheckFindings(report_.checks);
    out.findings.insert(out.findings.begin(), findings.begin(), findings.end());
    out.data["checks"] = ChecksJson(report_.checks, params_.checks);
    out.data["firewall"] = {{"ports", report_.firewall_ports}};
    size_t fixed = std::count_if(report_.checks.begin(), report_.checks.end(),
                                 [](const CheckResult& c) { return c.status == CheckStatus::kFixed; });
    out.summary = Summary(report_.checks, 0);
    if (applied > 0) out.summary += "; fixed " + std::to_string(fixed) + " check(s) with " +
                                    std::to_string(out.changes.size()) + " change(s)";
    return std::any_of(report_.checks.begin(), report_.checks.end(), Blocks);
  }

  const JoinParams& params() const { return params_; }
  const PreflightReport& report() const { return report_; }

 private:
  PreflightReport Check(ActionContext& ctx) {
    KubeClient* kube = nullptr;
    if (auto k = ctx.Kube(); k) kube = *k;
    CheckInputs in{ctx.host(), params_.checks, kube, ReadKubeletConfig(ctx.host().files(), kube)};
    PreflightReport report = RunPreflight(in);
    if (!in.kubelet.problem.empty()) {
      report.checks.push_back(CheckResult::Fail("KubeletConfig", CheckSeverity::kWarning,
                                                "cannot read the kubelet configuration: " + in.kubelet.problem,
                                                "the kubelet's defaults were assumed"));
    }
    if (!kube) {
      CheckResult r = CheckResult::Pass("ClusterAccess", "no usable kubeconfig: the checks against the cluster "
                                                         "(a Node with this name, the kubelet-config ConfigMap) were skipped");
      report.checks.push_back(std::move(r));
    }
    if (!for_join_ && ctx.host().files().Exists(kJoinedMarker)) {
      for (auto& c : report.checks) {
        if (c.status != CheckStatus::kFail || !IsJoinedSign(c.id)) continue;
        c.status = CheckStatus::kPass;
        c.message = "expected on a joined node (" + std::string(kJoinedMarker) + " exists): " + c.message;
      }
    }
    MarkIgnored(params_.checks, report.checks);
    return report;
  }

  static constexpr const char* kJoinedMarker = "/etc/kubernetes/kubelet.conf";
  // The checks that fail because the node has joined: kubeadm's "not
  // joined yet" files and ports, and our Node with this name.
  static bool IsJoinedSign(std::string_view id) {
    return id.rfind("FileAvailable--", 0) == 0 || id.rfind("DirAvailable--", 0) == 0 || id.rfind("Port-", 0) == 0 ||
           id == "ExistingNode";
  }

  static std::string Summary(const std::vector<CheckResult>& checks, size_t fixes) {
    size_t errors = 0, warnings = 0, ignored = 0;
    for (const auto& c : checks) {
      if (Blocks(c)) ++errors;
      else if (c.status == CheckStatus::kFail) ++warnings;
      else if (c.status == CheckStatus::kIgnored) ++ignored;
    }
    std::string s = std::to_string(checks.size()) + " checks: " + std::to_string(errors) + " error(s), " +
                    std::to_string(warnings) + " warning(s)";
    if (ignored) s += ", " + std::to_string(ignored) + " ignored";
    if (fixes) s += "; " + std::to_string(fixes) + " fix(es) planned";
    return s;
  }

  bool for_join_;
  JoinParams params_;
  PreflightReport report_;
};

class JoinPrepAction : public Action {
 public:
  JoinPrepAction() : preflight_(false) {}

  Result<Plan> MakePlan(ActionContext& ctx) override {
    Plan plan;
    if (Status st = preflight_.Plan(ctx, plan); !st.ok()) return st.error();
    return plan;
  }

  Result<Outcome> Apply(ActionContext& ctx, const Plan& plan) override {
    Outcome out;
    bool blocked = preflight_.Apply(ctx, out);
    out.status = blocked ? RunStatus::kFailed : out.changes.empty() ? RunStatus::kOk : RunStatus::kChanged;
    return out;
  }

 private:
  Preflight preflight_;
};

class JoinAction : public Action {
 public:
  JoinAction() : preflight_(true) {}

  Result<Plan> MakePlan(ActionContext& ctx) override {
    Plan plan;
    if (Status st = preflight_.Plan(ctx, plan); !st.ok()) return st.error();
    auto token = ReadToken(ctx.host().files(), preflight_.params());
    if (!token) return token.error();
    std::string blocked;
    for (const auto& c : preflight_.report().checks)
      if (Blocks(c) && !(c.fix && IsFixAllowed(preflight_.params().checks, c.fix->id)))
        blocked = "an error has no allowed fix (" + c.id + ")";
    auto join = PlanJoin(ctx, preflight_.params());
    if (join) {
      for (auto& c : join->changes) plan.changes.push_back(std::move(c));
      plan.data["join"] = join->data;
    } else {
      // kubeadm missing or too old: a finding, and the join will not run.
      plan.findings.push_back({Severity::kError, "kubeadm", join.error().message()});
      blocked = "kubeadm cannot be used";
      join_error_ = join.error().message();
    }
    plan.summary += blocked.empty() ? "; then kubeadm join " + preflight_.params().checks.endpoint
                                    : "; the join will not run: " + blocked;
    return plan;
  }

  Result<Outcome> Apply(ActionContext& ctx, const Plan& plan) override {
    Outcome out;
    bool blocked = preflight_.Apply(ctx, out);
    if (blocked || !join_error_.empty()) {
      out.status = RunStatus::kFailed;
      out.summary = "not joined: " + (blocked ? "preflight errors remain (" + out.summary + ")" : join_error_);
      if (!join_error_.empty()) out.findings.push_back({Severity::kError, "kubeadm", join_error_});
      return out;
    }
    auto token = ReadToken(ctx.host().files(), preflight_.params());
    if (!token) return token.error();
    Status joined = RunJoin(ctx, preflight_.params(), *token, out);
    if (!joined.ok()) {
      out.status = RunStatus::kFailed;
      out.summary = joined.error().message();
      return out;
    }
    out.status = RunStatus::kChanged;
    return out;
  }

 private:
  Preflight preflight_;
  std::string join_error_;
};

template <typename A>
std::unique_ptr<Action> Make() {
  return std::make_unique<A>();
}

Status ValidatePrep(const Params& params) { return ValidateJoinPrep(params); }
Status ValidateJoinAction(const Params& params) { return ValidateJoin(params); }

constexpr KubePermission kPrepPermissions[] = {
    Cluster("get list", "", "nodes", "no Node in the cluster already has this node's name or system UUID"),
    InNamespace("kube-system", "get", "", "configmaps",
                "the kubelet configuration the node will get (kubelet-config: failSwapOn, cgroupDriver)"),
};
constexpr KubePermission kJoinPermissions[] = {
    Cluster("get list", "", "nodes",
            "no Node already has this node's name or system UUID; after the join, wait until the Node is Ready"),
    InNamespace("kube-system", "get", "", "configmaps",
                "the kubelet configuration the node will get (kubelet-config: failSwapOn, cgroupDriver)"),
};
static_assert(HasValidKubePermissions(kPrepPermissions));
static_assert(HasValidKubePermissions(kJoinPermissions));

// The Node conditions join-prep keeps once the node has joined (before, there
// is no Node: the core skips them): kSwapCondition for the swap checks,
// NodeAgentJoinPrep for every other error.
constexpr ConditionSpec kPrepConditions[] = {
    {"NodeAgentJoinPrep", "JoinPrepProblem", "JoinPrepPassed",
     "an error of join-prep's checks (other than swap) on this joined node"},
    {kSwapCondition, "SwapEnabled", "SwapDisabled", "swap is on now or at the next boot, and the kubelet fails on it"},
};

const ActionSpec kSpecs[] = {
    {.name = "join-prep",
     .description = "Every check kubeadm join makes (and those it does not: swap at the next boot, firewall verdicts "
                    "as the kernel gives them, sysctls after a reboot, the runtime's cgroup driver, the CA hash), "
                    "with the safe fixes: --dry-run shows each with its diff or command.",
     .params = JoinPrepParams(),
     .disruptive = false,
     .create = &Make<JoinPrepAction>,
     .validate = &ValidatePrep,
     .permissions = kPrepPermissions,
     .conditions = kPrepConditions},
    {.name = "join",
     .description = "join-prep's checks and fixes, then kubeadm join with a private JoinConfiguration (the token "
                    "never on a command line), then wait for the Node to be Ready.",
     .params = JoinParamsTable(),
     .disruptive = true,
     .create = &Make<JoinAction>,
     .validate = &ValidateJoinAction,
     .permissions = kJoinPermissions},
};

}  // namespace

std::span<const ActionSpec> JoinPrepActionSpecs() { return kSpecs; }

}  // namespace nodeagent::join_prep
