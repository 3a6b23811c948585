// Everything the agent knows after reading its configuration: settings, the
// plugins' action catalog, and the validated tasks. The daemon, its workers
// and `agentctl --local` all build it the same way, so `agentctl config
// check` judges a config exactly as the daemon will.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/agent_config.h"
#include "loader/action_catalog.h"
#include "nodeagent/host.h"
#include "scheduler/maintenance_window.h"
#include "scheduler/time_zone.h"

namespace nodeagent {

struct AgentSetup {
  std::string config_path;
  RawConfig raw;
  AgentSettings settings;
  ActionCatalog catalog;
  std::map<std::string, TaskConfig> tasks;
  std::vector<ConfigProblem> problems;  // empty when the config is valid
  /// Not errors, but worth an operator's attention (a secret parameter in a
  /// file every user can read). Logged by the daemon, printed by config check.
  std::vector<ConfigProblem> warnings;

  bool ok() const { return problems.empty(); }
  std::string ProblemsText() const;
};

struct SetupOptions {
  std::string config_path = kDefaultConfigPath;
  bool allow_missing_config = false;
  /// Config text used instead of a file (the embedded demo config).
  std::optional<std::string> config_text;
  /// Also validate schedules and windows (needs zoneinfo under the root).
  bool check_schedules = true;
  /// Loads each native plugin in a child of this executable first
  /// (PluginLoaderOptions::probe_exe); empty: no probe.
  std::string plugin_probe_exe;
};

/// Reads config, loads plugins, validates tasks. A config that cannot be read
/// at all is an Error; validation problems are listed in `problems`.
/// `node_name` is resolved through a host under the configured root.
Result<std::unique_ptr<AgentSetup>> LoadAgentSetup(const SetupOptions& options);

/// The zone schedules and windows are evaluated in: `agent.timezone`, else
/// the host's /etc/localtime (UTC when it has none). An Error only for a
/// configured zone that cannot be loaded.
Result<TimeZone> ScheduleTimeZone(const AgentSettings& settings, const FileSystem& files);
/// A task's maintenance window (nullopt when it has none); zones named in it
/// are loaded from `files`. Error says what is wrong with the window text.
Result<std::optional<MaintenanceWindow>> TaskWindow(const TaskConfig& task, const TimeZone& zone,
                                                    const FileSystem& files);

}  // namespace nodeagent
