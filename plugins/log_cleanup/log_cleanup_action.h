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

  /// Walks and lists. Changes rows: every file in a dry run, the first
  /// kListLimit otherwise (the plan itself keeps them all). An Error when the
  /// parameters are invalid or open files cannot be listed.
  Result<Plan> MakePlan(ActionContext& ctx) override;
  /// Applies the plan made just before by this object.
  Result<Outcome> Apply(ActionContext& ctx, const Plan& plan) override;

  static constexpr size_t kListLimit = 1000;

 private:
  WalkHooks* hooks_;
  int threads_;
  std::unique_ptr<CleanupOptions> options_;
  std::unique_ptr<CleanupPlan> plan_;
};

/// The action's row for the plugin descriptor.
const ActionSpec& LogCleanupActionSpec();

}  // namespace nodeagent::logc
