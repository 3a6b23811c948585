// Finds and loads plugins into the ActionCatalog. Native plugins are *.so
// modules exporting `nodeagent_plugin`; exec plugins are NAME.toml manifests
// naming an executable that speaks JSON on stdin/stdout. Like osquery, only
// root-owned files that nobody else can write are loaded. A broken plugin is
// recorded with its file and the reason and skipped; loading never fails as a
// whole, so one bad module cannot keep the daemon from starting. With a probe
// executable set (the daemon, agentctl's local half), a module is loaded only
// in a child process (`nodeagent-runner probe-plugin FILE`), which prints its
// tables as data (plugin_tables.h): one that crashes or hangs while loading (a
// static constructor, its entry point) is skipped instead of taking the daemon
// down with it, and the caller maps no module and runs no plugin code. Without
// one (a worker, tests, build-time generators) the module is dlopen()ed here.
#pragma once

#include <iosfwd>

#include <string>

#include "loader/action_catalog.h"
#include "loader/probe_cache.h"

namespace nodeagent {

struct PluginLoaderOptions {
  std::string plugin_dir;
  std::string exec_plugin_dir;
  /// When set, plugin files and folders must be owned by root and not be
  /// group- or world-writable. Off only in tests and development.
  bool require_root_owner = true;
  /// When set, the executable run as `PROBE probe-plugin FILE` to read each
  /// native module's tables, instead of loading it here (config/runner_path.h
  /// finds it). The actions then have no `create`: they run in a worker.
  std::string probe_exe;
  /// With `probe_exe`: where probes' answers are kept between runs
  /// (probe_cache.h; the daemon and agentctl use <state_dir>/plugin-probes).
  /// Empty: every module is probed every time.
  std::string probe_cache_dir;
};

/// Loads everything it can; problems end up in catalog.problems.
void LoadPlugins(const PluginLoaderOptions& options, ActionCatalog& catalog);

/// Loads one native module: with `probe_exe`, only its tables, read from a
/// probe child (ActionInfo::create stays empty, validate() runs in a child);
/// without, dlopen()ed in this process for good. Error says why it was refused.
/// With `cache` (and `probe_exe`), tables kept for the very same module file
/// are taken instead of probing, and a probe's answer is kept.
Status LoadNativePlugin(const std::string& path, bool require_root_owner, ActionCatalog& catalog,
                        const std::string& probe_exe = "", const ProbeCache* cache = nullptr);
/// For an action read from a probe (no `create`): loads the module that
/// provides it (ActionInfo::source) into `code`, in this process, as a worker
/// does, and returns the action there. `action` itself when it has code (an
/// exec plugin, a catalog loaded without a probe). Error: the module cannot
/// be loaded now, or no longer provides the action.
Result<const ActionInfo*> LoadActionCode(const ActionInfo& action, bool require_root_owner, ActionCatalog& code);
/// `probe-plugin FILE`: loads the module in this process (so a crash ends
/// only the probe), checks it as LoadNativePlugin does, and writes to
/// `answer` {"ok": true, "plugin": PluginTablesToWire(...)} or {"ok": false,
/// "code": N, "message": "why it was refused"}. Returns the same verdict.
Status ProbeNativePlugin(const std::string& path, std::ostream& answer);
/// `validate-params FILE ACTION` with the parameters (ParamsToWire) on
/// `wire_in`: runs the action's validate() in this process and writes
/// {"ok": bool, "message": "..."} to `answer`. Returns the exit code. A
/// plugin that aborts or crashes there ends only this process.
int ValidateParamsMain(const std::string& path, const std::string& action, std::istream& wire_in,
                       std::ostream& answer);
/// The daemon's and agentctl's way to call a native action's validate():
/// in `probe_exe validate-params` (above), so no plugin code but its
/// descriptor runs in their process. A crash, an exception or a hang (10 s)
/// there is an Error saying so.
Status ValidateInChild(const std::string& probe_exe, const std::string& path, const std::string& action,
                       const Params& params);
/// Loads one exec plugin manifest.
Status LoadExecPlugin(const std::string& manifest_path, bool require_root_owner, ActionCatalog& catalog);

/// Refuses files not owned by root or writable by group/others, and symlinks.
Status CheckPluginFileSafety(const std::string& path, bool require_root_owner);

}  // namespace nodeagent
