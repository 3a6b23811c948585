// Which files are open right now. A log that a process still holds open is
// not freed by deleting it (the space stays in use until the process closes
// it) and the writer loses its log, so log-cleanup skips such files. The set
// of (device, inode) pairs is gathered once from /proc/*/fd under the host
// root; under a test's temp root that /proc is a fixture of symlinks.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <unordered_set>

#include "nodeagent/result.h"

namespace nodeagent::logc {

class OpenFileIndex {
 public:
  /// Reads every `<proc_dir>/<pid>/fd/*` (stat through the link). Processes
  /// that vanish or deny access are skipped (counted in unreadable()). An Error
  /// when `proc_dir` itself cannot be listed.
  static Result<OpenFileIndex> Gather(const std::string& proc_dir);

  bool Contains(dev_t dev, ino_t ino) const { return set_.count(Key{dev, ino}) != 0; }
  size_t size() const { return set_.size(); }
  int processes() const { return processes_; }
  int unreadable() const { return unreadable_; }

 private:
  struct Key {
    dev_t dev;
    ino_t ino;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<uint64_t>()(static_cast<uint64_t>(k.ino) * 0x9E3779B97F4A7C15ULL ^ static_cast<uint64_t>(k.dev));
    }
  };
  std::unordered_set<Key, KeyHash> set_;
  int processes_ = 0;
  int unreadable_ = 0;
};

}  // namespace nodeagent::logc
