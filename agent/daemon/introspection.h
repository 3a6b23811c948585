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
/// [{"file","reason"}...] of plugins that were not loaded.
nlohmann::json PluginProblemsJson(const AgentSetup& setup);
/// {"type":"list","plugins":[..],"plugin_problems":[..],"actions":[..],"tasks":[..]}.
nlohmann::json ListJson(const AgentSetup& setup, const TaskPlanner* planner, const TaskStateStore& task_state,
                        std::chrono::system_clock::time_point started_at, const std::string& boot_id,
                        const std::function<bool(const std::string&)>& task_running);

}  // namespace nodeagent
