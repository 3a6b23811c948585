// Keeps what a probe read from a native module (its tables as wire JSON,
// plugin_tables.h) between runs, so the daemon and `agentctl --local` do not
// exec the runner once per installed module every time they start: those four
// probes were 36 ms of the 85 ms `agentctl --local run` spent before doing
// anything (issue 16). An entry is one file per module under a root-only
// folder of the state dir, and it is only used while both the module and the
// probe executable are the very files it was read from: device, inode, size,
// mtime and ctime (ctime cannot be set from user space). Like git's "racy
// clean" rule, a module changed in the last 2 seconds is not kept, since a
// rewrite within the file system's timestamp granularity could look unchanged.
// A cache only: every failure to read or write it means "probe again", and a
// module the probe refuses is never kept, so its reason stays current. What it
// cannot see is a library the module links changing under it: a module that
// now crashes while loading is then found by what loads it to run an action,
// a worker (the run fails as any worker crash does) or `agentctl --local run`
// (which crashes with it).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace nodeagent {

/// "dev:ino:size:mtime_ns:ctime_ns" of `path` (not following a symlink);
/// empty when it cannot be read.
std::string FileIdentity(const std::string& path);

class ProbeCache {
 public:
  /// `dir` is created (0700) when its parent exists. `probe_exe`'s identity
  /// is part of every key, so a new runner probes again. `racy_seconds`: a
  /// module changed more recently is not kept (tests set 0).
  ProbeCache(std::string dir, const std::string& probe_exe, bool require_root_owner, int racy_seconds = 2);

  /// The key of `module` as it is now; empty when it cannot be cached.
  std::string Key(const std::string& module) const;
  /// The tables kept for `module` under `key`; none when absent, unreadable,
  /// too large, kept under another key, or the folder is not safe.
  std::optional<nlohmann::json> Find(const std::string& module, const std::string& key) const;
  /// Keeps `tables` for `module` under `key` (a temp file renamed into place)
  /// when `key` is still the module's key and its last change is at least 2 s
  /// old. Says whether it was kept.
  bool Keep(const std::string& module, const std::string& key, const nlohmann::json& tables) const;

  /// The entry's file for `module` (its name, then a hash of its path).
  std::string EntryPath(const std::string& module) const;

 private:
  bool DirSafe() const;
  /// The key of `module` whose file identity (FileIdentity) is `identity`.
  std::string KeyFor(const std::string& module, const std::string& identity) const;

  std::string dir_;
  std::string probe_identity_;
  bool require_root_owner_;
  int racy_seconds_;
};

}  // namespace nodeagent
