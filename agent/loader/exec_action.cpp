#include "loader/exec_action.h"

#include "config/param_validation.h"
#include "nodeagent/plan_objects.h"

namespace nodeagent {

namespace {

/// An executable's answer is bounded by the command runner (1 MiB of head
/// and tail); objects per change are bounded here too.
constexpr size_t kMaxObjectsPerChange = 10000;

Severity ParseSeverity(const std::string& s) {
  if (s == "error") return Severity::kError;
  if (s == "warning") return Severity::kWarning;
  return Severity::kInfo;
}

class ExecAction : public Action {
 public:
  explicit ExecAction(std::shared_ptr<const ExecActionConfig> config) : config_(std::move(config)) {}

  // A real run asks the executable for its plan first, as a dry run does,
  // then hands that plan back with the apply request: what it then reports
  // changing is checked against the plan's objects by the core.
  Result<Plan> MakePlan(ActionContext& ctx) override {
    Plan plan;
    if (!config_->plan_by_executable) {
      plan.summary = "run " + config_->executable;
    } else {
      auto outcome = Call(ctx, "plan", nullptr);
      if (!outcome) return outcome.error();
      plan.summary = outcome->summary;
      plan.findings = outcome->findings;
      plan.changes = outcome->changes;
      plan.data = outcome->data;
    }
    // Running the executable to apply is itself a change the plan names.
    Change run{"run", config_->executable, "the exec plugin's apply step"};
    run.objects = {CommandObject(config_->executable)};
    plan.changes.push_back(std::move(run));
    return plan;
  }

  Result<Outcome> Apply(ActionContext& ctx, const Plan& plan) override { return Call(ctx, "apply", &plan); }

 private:
  Result<Outcome> Call(ActionContext& ctx, std::string_view mode, const Plan* plan) {
    CommandSpec spec;
    spec.argv = {config_->executable};
    nlohmann::json request = ExecRequest(*config_, ctx, mode);
    if (plan) request["plan"] = ExecPlanJson(*plan);
    spec.stdin_data = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    spec.timeout = std::chrono::milliseconds(0);  // the run's own timeout kills us all
    // The protocol: in "plan" mode the executable only looks and answers what
    // it would change, so the core may run it while planning (dry runs).
    spec.read_only = mode == "plan";
    spec.env["NODEAGENT_ROOT"] = ctx.host().files().root().empty() ? "/" : ctx.host().files().root();
    auto r = ctx.host().commands().Run(spec);
    if (!r) return r.error().Wrap("exec plugin " + config_->action_name);
    if (!r->stderr_data.empty()) {
      size_t start = 0;
      while (start < r->stderr_data.size()) {
        size_t nl = r->stderr_data.find('\n', start);
        if (nl == std::string::npos) nl = r->stderr_data.size();
        ctx.Log(LogLevel::kInfo, r->stderr_data.substr(start, nl - start));
        start = nl + 1;
      }
    }
    return ParseExecAnswer(*r);
  }

  std::shared_ptr<const ExecActionConfig> config_;
};

}  // namespace

nlohmann::json ExecPlanJson(const Plan& plan) {
  nlohmann::json changes = nlohmann::json::array();
  for (const Change& c : plan.changes) {
    changes.push_back({{"kind", c.kind}, {"target", c.target}, {"description", c.description}, {"diff", c.diff},
                       {"bytes", c.bytes}, {"objects", c.objects}});
  }
  nlohmann::json findings = nlohmann::json::array();
  for (const Finding& f : plan.findings) {
    findings.push_back({{"severity", SeverityName(f.severity)}, {"subject", f.subject}, {"message", f.message}});
    if (!f.condition.empty()) findings.back()["condition"] = f.condition;
  }
  return {{"summary", plan.summary}, {"findings", findings}, {"changes", changes}, {"data", plan.data}};
}

nlohmann::json ExecRequest(const ExecActionConfig& config, ActionContext& ctx, std::string_view mode) {
  return {{"action", config.action_name}, {"mode", mode},          {"dry_run", ctx.dry_run()},
          {"node", ctx.node_name()},      {"run_id", ctx.run_id()}, {"params", ParamsToJson(ctx.params())},
          {"root", ctx.host().files().root().empty() ? "/" : ctx.host().files().root()}};
}

Result<Outcome> ParseExecAnswer(const CommandResult& r) {
  Outcome out;
  if (r.term_signal != 0) {
    out.status = RunStatus::kFailed;
    out.summary = "exec plugin was killed by signal " + std::to_string(r.term_signal);
    return out;
  }
  nlohmann::json answer = nlohmann::json::object();  // no output: no summary, no findings
  std::string text = r.stdout_data;
  if (text.find_first_not_of(" \t\r\n") != std::string::npos) {
    answer = nlohmann::json::parse(text, nullptr, false);
    if (answer.is_discarded() || !answer.is_object()) {
      // Plain text output is accepted as the summary (like NPD's message).
      answer = {{"summary", text.substr(0, text.find_last_not_of(" \t\r\n") + 1)}};
    }
  }
  out.summary = answer.value("summary", "");
  for (const auto& f : answer.value("findings", nlohmann::json::array())) {
    if (!f.is_object()) continue;
    // "condition": the type (of the manifest's [[condition]] rows) an error finding holds True.
    std::string condition = f.contains("condition") && f["condition"].is_string() ? f["condition"].get<std::string>() : "";
    out.findings.push_back(
        {ParseSeverity(f.value("severity", "info")), f.value("subject", ""), f.value("message", ""), condition});
  }
  for (const auto& c : answer.value("changes", nlohmann::json::array())) {
    if (!c.is_object()) continue;
    Change ch;
    ch.kind = c.value("kind", "change");
    ch.target = c.value("target", "");
    ch.description = c.value("description", "");
    ch.diff = c.value("diff", "");
    if (auto b = c.find("bytes"); b != c.end() && b->is_number_integer()) ch.bytes = b->get<int64_t>();
    for (const auto& o : c.value("objects", nlohmann::json::array())) {
      if (o.is_string() && ch.objects.size() < kMaxObjectsPerChange) ch.objects.push_back(o.get<std::string>());
    }
    out.changes.push_back(ch);
  }
  if (answer.contains("data")) out.data = answer["data"];
  if (r.exit_code == 0) {
    out.status = answer.value("changed", false) || !out.changes.empty() ? RunStatus::kChanged : RunStatus::kOk;
    if (out.summary.empty()) out.summary = "ok";
  } else if (r.exit_code == 1) {
    out.status = RunStatus::kFailed;
    if (out.summary.empty()) out.summary = "problem found";
  } else {
    out.status = RunStatus::kFailed;
    out.summary = "unknown state (exit code " + std::to_string(r.exit_code) + ")" +
                  (out.summary.empty() ? "" : ": " + out.summary);
  }
  return out;
}

std::unique_ptr<Action> MakeExecAction(std::shared_ptr<const ExecActionConfig> config) {
  return std::make_unique<ExecAction>(std::move(config));
}

}  // namespace nodeagent
