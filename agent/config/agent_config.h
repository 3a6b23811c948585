// The agent's configuration: /etc/nodeagent/agent.toml, then conf.d/*.toml
// in lexical order, later keys winning, every key checked. Loading is two
// steps because task parameters are validated by the tables of the plugins,
// and where the plugins live is itself configured: LoadConfigFiles() +
// ParseAgentSettings() first, then ResolveTasks() once the catalog exists.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/param_validation.h"
#include "loader/action_catalog.h"
#include "nodeagent/params.h"
#include "notify/notify_target.h"

namespace nodeagent {

inline constexpr const char* kDefaultConfigPath = "/etc/nodeagent/agent.toml";

struct KubeSettings {
  std::string kubeconfig;  // empty: KUBECONFIG, then /etc/nodeagent/kubeconfig
  std::string context;     // empty: current-context
  double qps = 50;
  int64_t burst = 100;
  Duration request_timeout{std::chrono::seconds(30)};
};

struct AgentSettings {
  std::string root = "/";
  std::string state_dir = "/var/lib/nodeagent";
  std::string socket = "/run/nodeagent/agent.sock";
  std::string socket_group = "nodeagent";
  std::string plugin_dir = "/usr/lib/nodeagent/plugins";
  std::string exec_plugin_dir = "/etc/nodeagent/exec-plugins";
  std::string node_name;  // resolved: config, kubelet --hostname-override, hostname
  std::string log_level = "info";
  std::string timezone;   // empty: the host's /etc/localtime
  bool demo = false;      // every run forced to dry run
  Duration shutdown_grace{std::chrono::seconds(20)};
  Duration kill_grace{std::chrono::seconds(10)};
  bool allow_unsafe_plugin_owner = false;  // tests only: skip the root-owner check
  int64_t history_max_runs = 1000;
  Duration history_max_age{std::chrono::hours(24 * 30)};
  /// [audit]: the trail's files rotate at this size, this many kept.
  int64_t audit_max_file_mib = 8;
  int64_t audit_max_files = 5;
  /// Prometheus textfile written at start and after every run ("" off).
  std::string metrics_textfile = "/var/lib/node_exporter/textfile_collector/nodeagent.prom";
  /// Set in the config (then its folder is created); else written only
  /// when node-exporter's folder exists.
  bool metrics_textfile_configured = false;
  /// `[metrics] listen` as written ("" off): see config/listen_address.h.
  std::string metrics_listen;
  KubeSettings kube;
  /// The [[notify]] targets, in config order (conf.d files add theirs).
  std::vector<NotifyTarget> notify;
};

struct TaskConfig {
  std::string name;
  std::string action;
  std::string schedule;  // empty: on demand only
  Duration jitter{0};
  std::string window;    // empty: any time
  Duration timeout{std::chrono::hours(1)};
  bool enabled = true;
  bool catch_up = false;
  bool dry_run = false;
  Params params;
  std::set<std::string> secret_params;  // shown as kRedacted by RenderEffectiveConfig
  std::string file;  // where it was defined
  int line = 0;
};

/// The merged TOML of all files, kept with source positions.
struct RawConfig {
  std::vector<std::string> files;  // in load order
  std::shared_ptr<const void> table_holder;  // owns a toml::table
  const toml::table* table = nullptr;
};

/// Reads `path` then `<dir of path>/conf.d/*.toml`. A missing main file is an
/// error unless `allow_missing` (then defaults apply). Syntax errors are
/// problems with file:line:col.
Result<RawConfig> LoadConfigFiles(const std::string& path, bool allow_missing,
                                  std::vector<ConfigProblem>& problems);
/// Parses a config from text (tests, the embedded demo config).
RawConfig ParseConfigText(const std::string& text, const std::string& name, std::vector<ConfigProblem>& problems);

/// Checks [agent], [kubernetes], [history] and top-level keys. node_name is
/// left empty when not configured (see ResolveNodeName).
AgentSettings ParseAgentSettings(const RawConfig& raw, std::vector<ConfigProblem>& problems);

/// The node name when not configured: the kubelet's --hostname-override
/// (from /var/lib/kubelet/kubeadm-flags.env or /etc/default/kubelet, under the
/// host root), else the lowercased hostname.
class Host;
std::string ResolveNodeName(Host& host);

/// Checks every [tasks.NAME] against the catalog (action exists, core keys,
/// action parameters by the plugin's table, the plugin's own validate()).
std::map<std::string, TaskConfig> ResolveTasks(const RawConfig& raw, const ActionCatalog& catalog,
                                               std::vector<ConfigProblem>& problems);

/// Parses `--set KEY=VALUE` items into a TOML table (VALUE as TOML when it
/// parses, else as a string). Problems name the item.
std::shared_ptr<toml::table> ParseOverrides(const std::vector<std::string>& items,
                                            std::vector<ConfigProblem>& problems);

/// Params for a run of `action` from a task's table (may be null) overlaid
/// with `overrides`; validates like ResolveTasks.
Params ResolveRunParams(const ActionInfo& action, const toml::table* task_table, const toml::table* overrides,
                        const std::string& key_prefix, std::vector<ConfigProblem>& problems);

/// The [tasks.NAME] table, or null.
const toml::table* TaskTable(const RawConfig& raw, const std::string& task);

/// The effective config as TOML text with defaults filled in.
std::string RenderEffectiveConfig(const AgentSettings& agent, const std::map<std::string, TaskConfig>& tasks);

/// The core keys of a [tasks.NAME] table (not action parameters).
std::span<const ParamSpec> TaskCoreKeys();
/// The keys of [agent], [kubernetes], [history], for docs and the man page.
std::span<const ParamSpec> AgentKeys();
std::span<const ParamSpec> KubernetesKeys();
std::span<const ParamSpec> HistoryKeys();
std::span<const ParamSpec> MetricsKeys();
/// The keys of one [[notify]] table.
std::span<const ParamSpec> NotifyKeys();
std::span<const ParamSpec> AuditKeys();

}  // namespace nodeagent
