#include "node_status/node_reporter.h"

#include <algorithm>

#include "node_status/node_conditions.h"

namespace nodeagent {

NodeReporter::NodeReporter(std::string node, Clock& clock, KubeSource kube, Logger log)
    : node_(std::move(node)), clock_(clock), kube_source_(std::move(kube)), log_(std::move(log)) {}

KubeClient* NodeReporter::Client() {
  if (off_) return nullptr;
  if (spent_ >= kReportBudget) {
    off_ = true;
    log_(LogLevel::kWarning, "Node Events and conditions: this run's reports took " +
                                 std::to_string(kReportBudget.count()) + " s already; the rest are not sent");
    return nullptr;
  }
  if (node_.empty()) {
    off_ = true;
    log_(LogLevel::kInfo, "Node Events and conditions are off: no node name (agent.node_name)");
    return nullptr;
  }
  auto kube = kube_source_ ? kube_source_() : Result<KubeClient*>(Error(ErrorCode::kUnavailable, "no client"));
  if (!kube) {
    off_ = true;
    // No kubeconfig (or no client at all) is a node outside a cluster: off,
    // silently. A kubeconfig that is there but broken deserves a word.
    ErrorCode code = kube.error().code();
    if (code != ErrorCode::kNotFound && code != ErrorCode::kUnavailable)
      log_(LogLevel::kWarning, "Node Events and conditions are off: " + kube.error().message());
    return nullptr;
  }
  if (!events_) events_ = std::make_unique<NodeEventRecorder>(**kube, clock_, node_);
  return *kube;
}

void NodeReporter::Spent(std::chrono::steady_clock::time_point start) { spent_ += clock_.Monotonic() - start; }

void NodeReporter::Event(EventType type, std::string_view reason, std::string_view message) {
  if (!Client()) return;
  auto start = clock_.Monotonic();
  auto r = events_->Record(type, reason, message);
  Spent(start);
  if (!r) log_(LogLevel::kWarning, "could not post Event " + NodeEventReason(reason) + " on node " + node_ + ": " +
                                       r.error().message());
}

void NodeReporter::SetConditions(std::span<const ConditionSpec> table, std::span<const Finding> findings) {
  if (table.empty()) return;
  std::vector<std::string> undeclared;
  std::vector<NodeConditionState> states = EvaluateConditions(table, findings, &undeclared);
  for (const std::string& type : undeclared)
    log_(LogLevel::kWarning, "a finding names condition " + type + ", which this action does not declare; ignored");
  KubeClient* kube = Client();
  if (!kube) return;
  auto start = clock_.Monotonic();
  auto r = SetNodeConditions(*kube, node_, states, clock_.Now());
  Spent(start);
  std::string names;
  for (const NodeConditionState& s : states) names += (names.empty() ? "" : ", ") + s.type + "=" + s.status;
  if (!r) {
    log_(LogLevel::kWarning, "could not set Node conditions (" + names + ") on node " + node_ + ": " +
                                 r.error().message());
  } else if (*r == NodeConditionsOutcome::kNoNode) {
    log_(LogLevel::kInfo, "Node " + node_ + " does not exist (yet): conditions " + names + " not set");
  } else {
    log_(LogLevel::kInfo, "Node conditions set: " + names);
  }
}

std::optional<RunEndEvent> RunEndEventFor(std::string_view action, RunStatus status, std::string_view summary,
                                          std::span<const Change> changes) {
  std::string what = std::string(action) + (summary.empty() ? "" : ": " + std::string(summary));
  if (status == RunStatus::kFailed) return RunEndEvent{EventType::kWarning, "RunFailed", what};
  bool files = std::any_of(changes.begin(), changes.end(), [](const Change& c) {
    return std::any_of(c.objects.begin(), c.objects.end(), [](const std::string& o) { return o.starts_with("file:"); });
  });
  if (files) return RunEndEvent{EventType::kNormal, "FilesFixed", what};
  return std::nullopt;
}

}  // namespace nodeagent
