// The "log-cleanup" action: the safe replacement for the root cron job
// `find /path -name "*.log" -mtime +10 -exec rm {} \;`. MakePlan walks the
// configured trees (CleanupWalker) and lists what would be deleted or
// compressed; Apply carries out exactly that plan (PlanExecutor), re-checking
// every file when it gets to it. Output is per configured path, in text
// (summary, changes, findings) and as JSON data.
#pragma once

#include <memory>

#include "cleanup_options.h"
#include "cleanup_plan.h"
#include "cleanup_walker.h"
#include "nodeagent/action.h"

namespace nodeagent::logc {

class LogCleanupAction : public Action {
 public:
  /// `hooks` (tests only) is not owned; `threads` 0 means one per core.
  explicit LogCleanupAction(WalkHooks* hooks = nullptr, int threads = 0) : hooks_(hooks), threads_(threads) {}

  /// Walks and lists. Changes rows: the first kListLimit files in path order
  /// and a "(N more files)" row naming each configured path's subtree (the
  /// CleanupPlan keeps them all, in its spool); a dry run also appends every
  /// file to the run's full list (ActionContext::AppendListLines). An Error
  /// when the parameters are invalid or open files cannot be listed.
  Result<Plan> MakePlan(ActionContext& ctx) override;
  /// Applies the plan made just before by this object. The outcome's rows
  /// are the first kListLimit changes; every change done (deleted, gzipped,
  /// directory removed) goes to the run's full list, in the dry run's format
  /// (run_list.h) but in the order the threads did them.
  Result<Outcome> Apply(ActionContext& ctx, const Plan& plan) override;

  /// Rows of a plan and of an outcome. Each row is held several times at the
  /// end of a run (plan, record, JSON, output: about 6 KiB of peak memory per
  /// row through agentctl), so this bounds the run's memory; 250 keeps
  /// `agentctl --local run` under 16 MiB whatever the number of files.
  static constexpr size_t kListLimit = 250;
  /// Entries of Plan.data's `files[]`, the JSON twin of the first rows (each
  /// is in the record too): every file is in the run's full list.
  static constexpr size_t kDataFilesLimit = 100;

 private:
  WalkHooks* hooks_;
  int threads_;
  std::unique_ptr<CleanupOptions> options_;
  std::unique_ptr<CleanupPlan> plan_;
};

/// The action's row for the plugin descriptor.
const ActionSpec& LogCleanupActionSpec();

}  // namespace nodeagent::logc
