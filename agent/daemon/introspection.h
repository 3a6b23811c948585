// The agent described as data: its actions with their parameter tables, and
// its tasks with last and next run times. The daemon serves this over the
// socket and `agentctl --local` computes the same, so both print alike.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "loader/agent_setup.h"
#include "state/history_store.h"

namespace nodeagent {

class TaskPlanner;
struct PlanInput;

/// The planner's input at this moment from the recorded last runs.
PlanInput MakePlanInput(const std::map<std::string, TaskRunState>& states,
                        std::chrono::system_clock::time_point started_at, const std::string& boot_id,
                        bool first_start_this_boot);

nlohmann::json ActionToJson(const ActionInfo& action);
/// Builds the planner for the setup's enabled, scheduled tasks.
std::unique_ptr<TaskPlanner> MakePlanner(const AgentSetup& setup, Host& host);
/// [{"name","action","schedule","window","enabled","dry_run","running",
/// "last_run_ms","next_run_ms"}...], in config order.
nlohmann::json TasksJson(const AgentSetup& setup, const TaskPlanner* planner, const TaskStateStore& task_state,
                         std::chrono::system_clock::time_point started_at, const std::string& boot_id,
                         const std::function<bool(const std::string&)>& task_running);
/// Where the agent looked, so that nothing is silent about an empty list:
/// {"config_files":[...read...], "config_missing": PATH or null (then
/// defaults apply), "plugin_dirs":[{"dir","kind","exists","candidates",
/// "loaded":[plugin names from it]}...]}.
nlohmann::json SourcesJson(const AgentSetup& setup);
/// One sentence of the same for error messages: "config: none
/// (/etc/nodeagent/agent.toml does not exist, defaults apply); plugins
/// searched: /usr/lib/nodeagent/plugins (does not exist), ...".
std::string SourcesSentence(const nlohmann::json& sources);
/// "unknown action 'X'" with the actions known (or that none are) and
/// SourcesSentence: the one wording of every unknown-action error.
std::string UnknownActionMessage(const std::string& name, const AgentSetup& setup);
/// [{"file","reason"}...] of plugins that were not loaded.
nlohmann::json PluginProblemsJson(const AgentSetup& setup);
/// {"type":"list","plugins":[..],"plugin_problems":[..],"actions":[..],"tasks":[..]}.
nlohmann::json ListJson(const AgentSetup& setup, const TaskPlanner* planner, const TaskStateStore& task_state,
                        std::chrono::system_clock::time_point started_at, const std::string& boot_id,
                        const std::function<bool(const std::string&)>& task_running);

}  // namespace nodeagent
