// An action backed by an operator's executable (an exec plugin), in the manner
// of node-problem-detector's custom plugins: the executable gets a JSON request
// on stdin and answers JSON on stdout; exit 0 means ok, 1 a problem was found,
// anything else an unknown state. No compiling needed to add a check.
#pragma once

#include <memory>
#include <string>

#include "nodeagent/action.h"

namespace nodeagent {

struct ExecActionConfig {
  std::string action_name;
  std::string executable;  // absolute
  bool plan_by_executable = true;  // dry runs call it with "mode": "plan"
};

std::unique_ptr<Action> MakeExecAction(std::shared_ptr<const ExecActionConfig> config);

/// Builds the request JSON sent to an exec plugin.
nlohmann::json ExecRequest(const ExecActionConfig& config, ActionContext& ctx, std::string_view mode);
/// Parses findings/changes/summary out of an exec plugin's answer.
Result<Outcome> ParseExecAnswer(const CommandResult& result);

}  // namespace nodeagent
