// The actions the agent knows, whatever kind of plugin they come from (a
// native .so or an exec plugin). Config validation, `agentctl list/describe`,
// the man page and the run executor all look actions up here by name.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nodeagent/action.h"

namespace nodeagent {

struct ActionInfo {
  std::string name;
  std::string plugin;       // plugin name
  std::string source;       // the .so or manifest file it came from
  std::string kind;         // "native" or "exec"
  std::string description;
  std::string maturity;
  std::vector<ParamSpec> params;  // views into the plugin's (or the catalog's) memory
  std::vector<KubePermission> permissions;  // the same; checked by the loader
  std::vector<ConditionSpec> conditions;    // the same; checked by the loader (CheckConditionTable)
  bool disruptive = false;
  bool resumable = false;
  /// Keeps alive the memory the views above point into when the tables were
  /// read from a probe (loader/plugin_tables.h); null otherwise.
  std::shared_ptr<const void> tables;
  /// Empty where the module's code is not loaded (the daemon and agentctl
  /// read native plugins' tables only): the action runs in a worker, which
  /// loads its module.
  std::function<std::unique_ptr<Action>()> create;
  std::function<Status(const Params&)> validate;  // may be empty
};

/// `action.validate(params)`, Ok when it has none; an exception it throws
/// (a plugin's bug) becomes an Internal error saying so.
Status CallValidate(const ActionInfo& action, const Params& params);

/// A problem found while loading a plugin; the plugin was skipped.
struct PluginLoadProblem {
  std::string file;
  std::string reason;
};

class ActionCatalog {
 public:
  /// Adds an action; false (and nothing added) if the name is taken.
  bool Add(ActionInfo info);
  /// Null when unknown.
  const ActionInfo* Find(std::string_view name) const;
  std::vector<const ActionInfo*> All() const;
  std::vector<std::string> Names() const;

  /// Plugins loaded (name -> source) and problems, for `agentctl list`/status.
  std::map<std::string, std::string> plugins;
  std::vector<PluginLoadProblem> problems;
  /// Every plugin folder searched, so that an empty catalog can say why.
  struct SearchedDir {
    std::string dir;
    std::string kind;       ///< "native" (*.so) or "exec" (*.toml manifests)
    bool exists = false;    ///< a directory was there
    size_t candidates = 0;  ///< files with the kind's extension found in it
  };
  std::vector<SearchedDir> searched;

 private:
  std::map<std::string, ActionInfo, std::less<>> actions_;
};

}  // namespace nodeagent
