// What a run tells the cluster about this node, in one place for the runner:
// Events (ActionContext::Event and the core's own), the action's Node
// conditions after Apply, and the Event summing up a run that changed files or
// failed. It is best effort by contract: it never fails the run, logs what it
// could not do, stays off (silently) when there is no Kubernetes client (no
// kubeconfig; a broken one is logged once),
// and stops trying once its calls have taken kReportBudget in all, so a slow
// or unreachable API server costs a run a bounded time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "node_status/node_event_recorder.h"
#include "nodeagent/action.h"
#include "nodeagent/host.h"
#include "nodeagent/kube.h"

namespace nodeagent {

class NodeReporter {
 public:
  /// What all of one run's reports may take together.
  static constexpr std::chrono::seconds kReportBudget{20};

  /// Gives the run's Kubernetes client (built on first use); an error turns
  /// the reporter off for the run.
  using KubeSource = std::function<Result<KubeClient*>()>;
  using Logger = std::function<void(LogLevel, const std::string&)>;
  /// `clock` must outlive the reporter.
  NodeReporter(std::string node, Clock& clock, KubeSource kube, Logger log);

  /// Posts or counts up an Event on the Node (see NodeEventRecorder).
  void Event(EventType type, std::string_view reason, std::string_view message);

  /// Sets each condition of `table` from `findings` (see EvaluateConditions)
  /// on the Node. A Node that does not exist yet is logged and skipped.
  void SetConditions(std::span<const ConditionSpec> table, std::span<const Finding> findings);

 private:
  /// The client, or null when the reporter is off or out of time.
  KubeClient* Client();
  /// Counts the time since `start` against the budget.
  void Spent(std::chrono::steady_clock::time_point start);

  std::string node_;
  Clock& clock_;
  KubeSource kube_source_;
  Logger log_;
  bool off_ = false;
  std::chrono::steady_clock::duration spent_{};
  std::unique_ptr<NodeEventRecorder> events_;
};

/// The Event the core posts after a real run, if any: Warning "RunFailed"
/// when it failed, else Normal "FilesFixed" when a change names a file
/// ("file:..." in Change::objects). The message names the action and the
/// run's summary. nullopt otherwise.
struct RunEndEvent {
  EventType type;
  std::string reason;
  std::string message;
};
std::optional<RunEndEvent> RunEndEventFor(std::string_view action, RunStatus status, std::string_view summary,
                                          std::span<const Change> changes);

}  // namespace nodeagent
