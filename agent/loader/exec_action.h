// An action backed by an operator's executable (an exec plugin), in the manner
// of node-problem-detector's custom plugins: the executable gets a JSON request
// on stdin and answers JSON on stdout; exit 0 means ok, 1 a problem was found,
// anything else an unknown state. No compiling needed to add a check. A run
// asks for the plan first ("mode": "plan", read-only) and, unless it is a dry
// run, then asks the executable to apply that plan ("mode": "apply", with
// "plan" in the request); the changes it reports are held to the plan.
#pragma once

#include <memory>
#include <string>

#include "nodeagent/action.h"

namespace nodeagent {

struct ExecActionConfig {
  std::string action_name;
  std::string executable;  // absolute
  /// Every run calls it with "mode": "plan" first (a dry run stops there),
  /// then a real run with "mode": "apply" and that plan.
  bool plan_by_executable = true;
};

std::unique_ptr<Action> MakeExecAction(std::shared_ptr<const ExecActionConfig> config);

/// Builds the request JSON sent to an exec plugin.
nlohmann::json ExecRequest(const ExecActionConfig& config, ActionContext& ctx, std::string_view mode);
/// The plan as an apply request carries it ("plan": {summary, findings,
/// changes (with objects), data}).
nlohmann::json ExecPlanJson(const Plan& plan);
/// Parses findings/changes (with objects)/summary out of an exec plugin's answer.
Result<Outcome> ParseExecAnswer(const CommandResult& result);

}  // namespace nodeagent
