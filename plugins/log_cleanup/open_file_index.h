// Which files are open right now. A log that a process still holds open is
// not freed by deleting it (the space stays in use until the process closes
// it) and the writer loses its log, so log-cleanup skips such files. The set
// of (device, inode) pairs is gathered from /proc/*/fd under the host root;
// under a test's temp root that /proc is a fixture of symlinks.
//
// Reading every process's descriptor table is the expensive part (one
// fstatat per open descriptor: 50,000 for 500 processes holding 100 files),
// so it is split in two: Open() checks that /proc can be listed at all (a
// run fails then, before it walks), and Read() is called only once there are
// files to check, keeping only the devices those are on: the plan's read
// runs on a thread beside the walk from its first planned file (for the top
// paths' devices, or every device when the walk crosses mounts), Apply's is
// for the planned files' devices. The set is a sorted vector: 16 bytes per
// open regular file kept.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nodeagent/result.h"

namespace nodeagent::logc {

class OpenFileIndex {
 public:
  OpenFileIndex() = default;
  ~OpenFileIndex();
  OpenFileIndex(OpenFileIndex&& other) noexcept;
  OpenFileIndex& operator=(OpenFileIndex&& other) noexcept;
  OpenFileIndex(const OpenFileIndex&) = delete;
  OpenFileIndex& operator=(const OpenFileIndex&) = delete;

  /// Open() then Read() of every device.
  static Result<OpenFileIndex> Gather(const std::string& proc_dir);
  /// Opens `proc_dir` and lists it once. An Error (with the advice to set
  /// skip_open_files=false) when it cannot be listed. Reads no fd table.
  static Result<OpenFileIndex> Open(const std::string& proc_dir);
  /// Reads every `<proc_dir>/<pid>/fd/*` (stat through the link), keeping
  /// regular files on one of `devices` (every device when empty). Processes
  /// that vanish or deny access are skipped (counted in unreadable()). May be
  /// called again to read afresh. An Error when `proc_dir` cannot be read.
  Status Read(const std::vector<dev_t>& devices = {});

  bool Contains(dev_t dev, ino_t ino) const;
  size_t size() const { return keys_.size(); }
  int processes() const { return processes_; }
  int unreadable() const { return unreadable_; }
  /// Descriptors looked at by the last Read().
  int64_t descriptors() const { return descriptors_; }

 private:
  struct Key {
    dev_t dev;
    ino_t ino;
    auto operator<=>(const Key&) const = default;
  };
  std::string proc_dir_;
  int proc_fd_ = -1;
  std::vector<Key> keys_;  // sorted, unique
  int processes_ = 0;
  int unreadable_ = 0;
  int64_t descriptors_ = 0;
};

}  // namespace nodeagent::logc
