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

nlohmann::json ActionToJson(const ActionInfo& action);
/// Builds the planner for the setup's enabled, scheduled tasks.
std::unique_ptr<TaskPlanner> MakePlanner(const AgentSetup& setup, Host& host);
/// {"type":"list","plugins":[..],"actions":[..],"tasks":[..]}.
nlohmann::json ListJson(const AgentSetup& setup, const TaskPlanner* planner, const TaskStateStore& task_state,
                        std::chrono::system_clock::time_point started_at, const std::string& boot_id,
                        const std::function<bool(const std::string&)>& task_running);

}  // namespace nodeagent
