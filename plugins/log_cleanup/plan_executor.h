// Carries out a CleanupPlan. Each planned directory is re-opened through its
// parent's descriptor (O_NOFOLLOW, identity compared with the plan), and each
// file re-checked right before it is unlinked: still a regular file, the same
// device and inode, still older than the cut-off, not open. So whatever
// changed between plan and apply is left alone, and nothing outside the
// planned trees can be reached. Nor is anything the plan handed to Apply does
// not name (ExecutorEnv::planned). Directories are handled by several threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cleanup_plan.h"
#include "nodeagent/host.h"
#include "nodeagent/plan_objects.h"
#include "open_file_index.h"

namespace nodeagent::logc {

/// What Apply did under one top path.
struct TopOutcome {
  int64_t deleted_files = 0, deleted_bytes = 0;
  int64_t compressed_files = 0, compressed_bytes_in = 0, compressed_bytes_out = 0;
  int64_t removed_dirs = 0;
  int64_t skipped_changed = 0;  // replaced, modified or no longer old enough since the plan
  int64_t skipped_open = 0;     // opened since the plan
  int64_t vanished = 0;         // already gone
  int64_t errors = 0;
};

/// One file (or directory) actually changed; escaped path.
struct DoneChange {
  std::string kind;  // "delete", "compress", "rmdir"
  std::string path;
  int64_t bytes = 0;
};

struct ExecutionResult {
  std::vector<TopOutcome> tops;  // parallel to plan.tops
  std::vector<DoneChange> changes;  // the first `list_limit`
  int64_t changes_total = 0;
  std::vector<Issue> issues;  // the first CleanupPlan::kMaxIssues
  int64_t issue_count = 0;
  bool listed_all = false;  // ExecutorEnv::list took a row for every change
  double seconds = 0;
};

struct ExecutorEnv {
  Clock* clock = nullptr;
  /// The objects of the plan Apply was given: a planned file or directory
  /// they do not cover ("file:" + escaped path) is left alone, as an issue.
  /// Null: not checked.
  const PlanObjects* planned = nullptr;
  const OpenFileIndex* open = nullptr;  // null: not re-checked
  int threads = 0;
  size_t list_limit = 1000;  // how many changes to keep in ExecutionResult::changes
  /// Takes every change done as rows of the run's full list (run_list.h),
  /// a directory's worth at a time, from one thread at a time; false when
  /// it keeps no more (then no more rows are built). Null: no list.
  std::function<bool(std::string_view rows)> list;
  std::function<void(std::string_view)> progress;  // about once a second, calling thread
  std::function<bool()> cancelled;
};

class PlanExecutor {
 public:
  explicit PlanExecutor(ExecutorEnv env) : env_(std::move(env)) {}
  /// Applies `plan`. Problems with single files or directories become issues;
  /// the run goes on. Stops early (remaining work untouched) when cancelled.
  ExecutionResult Execute(const CleanupPlan& plan);

 private:
  ExecutorEnv env_;
};

}  // namespace nodeagent::logc
