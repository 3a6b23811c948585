// What the daemon tells a worker process, and what the worker streams back.
// The daemon resolves and validates everything before it starts a worker, and
// sends the result (settings, action, typed parameters, the run record), so a
// worker never re-reads a config that may have changed since.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "config/agent_config.h"
#include "state/run_record.h"

namespace nodeagent {

/// Bumped on any change to WorkerRequest or the events. The daemon and
/// nodeagent-runner are separate files: after a package upgrade under a
/// running daemon, an old daemon may start a new runner, and the worker must
/// refuse a request it cannot read right instead of misreading it.
/// 2: plugin_file. 3: record.preview and record.confirmed_plan (an older
/// worker would apply a plan nobody confirmed), record.plan. 4:
/// settings.notify (the [[notify]] targets, URLs included).
inline constexpr int kWorkerProtocolVersion = 4;

struct WorkerRequest {
  int protocol = kWorkerProtocolVersion;
  AgentSettings settings;
  std::string action;
  /// The .so or manifest that provides `action`: the worker loads only it.
  std::string plugin_file;
  nlohmann::json params_wire;
  bool dry_run = false;
  RunRecord record;
  std::optional<nlohmann::json> checkpoint;  // set: resume
};

nlohmann::json SettingsToJson(const AgentSettings& s);
AgentSettings SettingsFromJson(const nlohmann::json& j);
nlohmann::json ToJson(const WorkerRequest& r);
WorkerRequest WorkerRequestFromJson(const nlohmann::json& j);

// Event lines: {"type":"log","line":{...}}, {"type":"progress","message":..,
// "fraction":..}, {"type":"result","record":{...}}.

}  // namespace nodeagent
