// Runs one action, start to end, in this process: resolves the target (a task
// or an action) and its parameters, makes the plan, applies it unless it is a
// dry run, and records everything in the history. The daemon's worker
// processes and `agentctl --local` both run actions through this one class,
// so a run behaves the same wherever it executes.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "config/agent_config.h"
#include "loader/action_catalog.h"
#include "nodeagent/http.h"
#include "nodeagent/kube.h"
#include "runner/run_observer.h"
#include "state/history_store.h"
#include "state/run_lock.h"

namespace nodeagent {

/// Builds the Kubernetes client on first use by an action. `cancelled` is the
/// run's cancel flag (never null; read with atomic_ref): the client stops
/// retrying once it is set.
using KubeFactory = std::function<Result<std::unique_ptr<KubeClient>>(const bool* cancelled)>;
/// Builds the HTTP client on first use by an action.
using HttpFactory = std::function<Result<std::unique_ptr<HttpClient>>()>;
/// The network clients actions may ask their context for. An empty factory
/// makes the context answer kUnavailable.
struct ClientFactories {
  KubeFactory kube;
  HttpFactory http;
};

struct RunRequest {
  std::string target;                  // task or action name
  std::vector<std::string> overrides;  // "--set KEY=VALUE" items
  bool dry_run = false;
  std::string trigger = "manual";
  std::string requested_by;
  /// Plan as a real run would, then stop (the first half of `agentctl run
  /// --confirm`); implies a dry run.
  bool preview = false;
  /// The fingerprint of the plan the user confirmed (see plan_fingerprint.h):
  /// the run fails, applying nothing, when the plan it makes differs.
  std::string confirmed_plan;
};

/// A validated run, ready to execute (or to hand to a worker).
struct PreparedRun {
  const ActionInfo* action = nullptr;
  std::string task;
  Params params;
  bool dry_run = false;
  Duration timeout{std::chrono::hours(1)};
  RunRecord record;  // id, action, task, node, trigger, params, dry_run filled in
};

class RunExecutor {
 public:
  /// References must outlive the executor. With `audit` (which must outlive
  /// it too), every change a run that is not a dry run makes is appended to
  /// the audit trail (runner/audit_hooks.h); null: no trail.
  RunExecutor(const AgentSettings& settings, const RawConfig& raw, const std::map<std::string, TaskConfig>& tasks,
              const ActionCatalog& catalog, Host& host, HistoryStore& history, ClientFactories clients,
              AuditLog* audit = nullptr);

  /// kNotFound for an unknown target, kInvalidArgument (listing every
  /// problem) for bad parameters.
  Result<PreparedRun> Prepare(const RunRequest& request);

  /// Runs it here: plan, then apply unless dry run (or Resume() when
  /// `checkpoint` is set). Apply (and Resume, when the record kept its plan)
  /// may change only what the plan's changes name (apply_phase_guard.h). `cancel` (may be null) is read with atomic_ref:
  /// set it from a signal handler or another thread to stop the action.
  /// Writes the record when it starts and when it ends.
  /// Never throws; a plugin exception becomes a failed run.
  RunRecord Execute(PreparedRun& run, RunObserver* observer, const bool* cancel,
                    const std::optional<nlohmann::json>& checkpoint = std::nullopt);

 private:
  const AgentSettings& settings_;
  const RawConfig& raw_;
  const std::map<std::string, TaskConfig>& tasks_;
  const ActionCatalog& catalog_;
  Host& host_;
  HistoryStore& history_;
  ClientFactories clients_;
  AuditLog* audit_;
};

/// The locks a run holds while it executes: one per task (or per action for
/// ad-hoc runs), plus the node-wide one for disruptive actions that are not
/// dry runs. Taken by the daemon and by `agentctl --local` alike.
struct RunLocks {
  RunLock task;
  RunLock disruptive;
};
/// kConflict naming the run in the way.
Result<RunLocks> AcquireRunLocks(const std::string& state_dir, const PreparedRun& run);

/// Fills the record's parameters: `params` for people, with every secret
/// parameter of `action` shown as kRedacted; `params_wire` without the
/// secrets; `secret_params_wire` with them (see HistoryStore::Put).
void RecordParams(const ActionInfo& action, const Params& params, RunRecord& record);
/// The parameters a recorded run started with, secrets included: what a
/// resumed run gets.
Params ResumeParams(const RunRecord& record, const HistoryStore& history);

/// The audit trail runs append to: <state_dir>/audit, sized by [audit].
std::unique_ptr<AuditLog> OpenRunAuditLog(const AgentSettings& settings);

/// Milliseconds since the epoch of a clock reading.
int64_t ToMillis(std::chrono::system_clock::time_point t);

}  // namespace nodeagent
