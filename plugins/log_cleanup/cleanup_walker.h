// The cleanup walker: reads the configured directory trees and decides, file
// by file, what log-cleanup would delete or compress, without changing
// anything. It is written for root walking directories that other users can
// write: only directory descriptors are used (openat with O_NOFOLLOW on every
// child, fstatat with AT_SYMLINK_NOFOLLOW), a directory's identity is checked
// after opening it, symlinks are never followed, and mount points are not
// crossed unless asked. Directories are read with getdents64 into one large
// buffer per thread and walked by several threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "cleanup_options.h"
#include "cleanup_plan.h"
#include "nodeagent/host.h"
#include "nodeagent/result.h"
#include "open_file_index.h"

namespace nodeagent::logc {

/// Test seam inside the walk. Called from walker threads.
class WalkHooks {
 public:
  virtual ~WalkHooks() = default;
  /// Called after a subdirectory was seen by fstatat and before it is opened.
  /// May change the tree (swap the directory for a symlink). Returning an
  /// errno value makes the open fail with it (simulates EACCES as root).
  virtual int BeforeOpenDir(const std::string& host_path) { return 0; }
};

struct WalkerEnv {
  FileSystem* files = nullptr;        // resolves host paths under the root
  Clock* clock = nullptr;             // progress timing
  /// Opened (OpenFileIndex::Open), not yet read: the walk reads it once it
  /// found files to act on, and leaves out those open. Null: open files are
  /// not skipped.
  OpenFileIndex* open = nullptr;
  WalkHooks* hooks = nullptr;
  int threads = 0;  // 0: one per core, at most 4
  /// Called about once a second from the calling thread.
  std::function<void(std::string_view)> progress;
  /// Polled about every 100 ms; true stops the walk early.
  std::function<bool()> cancelled;
};

class CleanupWalker {
 public:
  CleanupWalker(const CleanupOptions& options, WalkerEnv env) : options_(options), env_(std::move(env)) {}

  /// Walks every path and fills `plan` (its start and cutoffs are set from
  /// `start`). Problems with single paths, directories or files become plan
  /// issues, not an Error; an Error only for a broken environment.
  /// kCancelled when stopped early (the plan then holds what was found so far).
  Status Walk(std::chrono::system_clock::time_point start, CleanupPlan& plan);

 private:
  const CleanupOptions& options_;
  WalkerEnv env_;
};

/// Number of worker threads for `requested` (0: per core, capped at 4).
int WorkerThreads(int requested);

}  // namespace nodeagent::logc
