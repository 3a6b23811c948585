// Finds and loads plugins into the ActionCatalog. Native plugins are *.so
// modules exporting `nodeagent_plugin`; exec plugins are NAME.toml manifests
// naming an executable that speaks JSON on stdin/stdout. Like osquery, only
// root-owned files that nobody else can write are loaded. A broken plugin is
// recorded with its file and the reason and skipped; loading never fails as a
// whole, so one bad module cannot keep the daemon from starting.
#pragma once

#include <string>

#include "loader/action_catalog.h"

namespace nodeagent {

struct PluginLoaderOptions {
  std::string plugin_dir;
  std::string exec_plugin_dir;
  /// When set, plugin files and folders must be owned by root and not be
  /// group- or world-writable. Off only in tests and development.
  bool require_root_owner = true;
};

/// Loads everything it can; problems end up in catalog.problems.
void LoadPlugins(const PluginLoaderOptions& options, ActionCatalog& catalog);

/// Loads one native module. Error says why it was refused.
Status LoadNativePlugin(const std::string& path, bool require_root_owner, ActionCatalog& catalog);
/// Loads one exec plugin manifest.
Status LoadExecPlugin(const std::string& manifest_path, bool require_root_owner, ActionCatalog& catalog);

/// Refuses files not owned by root or writable by group/others, and symlinks.
Status CheckPluginFileSafety(const std::string& path, bool require_root_owner);

}  // namespace nodeagent
