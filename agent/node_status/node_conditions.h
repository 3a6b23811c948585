// The Node conditions an action keeps (ActionSpec::conditions): from the error
// findings of a real run to one status patch of this Node. Only our own
// condition types are sent, as a strategic-merge patch of nodes/NAME/status,
// which the API server merges by `type`, so the kubelet's conditions (Ready,
// MemoryPressure, ...) and ours never overwrite each other, in either order.
// node-problem-detector keeps its conditions the same way (see README.md).
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeagent/action.h"
#include "nodeagent/kube.h"

namespace nodeagent {

/// The most conditions one action may declare.
inline constexpr size_t kMaxConditionsPerAction = 8;
/// A condition's message is cut to this many bytes.
inline constexpr size_t kMaxConditionMessageBytes = 1024;

/// Checks an action's condition table: at most kMaxConditionsPerAction rows,
/// each type CamelCase (letters and digits, upper case first, at most 63
/// bytes) starting with "NodeAgent" and declared once, reasons CamelCase and
/// not empty. kInvalidArgument naming the row otherwise.
Status CheckConditionTable(std::span<const ConditionSpec> table);

/// One declared condition as a run leaves it.
struct NodeConditionState {
  std::string type;
  std::string status;   // "True" or "False"
  std::string reason;
  std::string message;  // at most kMaxConditionMessageBytes
};

/// What the findings of a run say about each condition of `table`: True with
/// its true_reason and the error messages joined ("; ") when an error finding
/// names the type (Finding::condition; empty: the first row), else False with
/// its false_reason. Types named by findings but not declared go to
/// `undeclared` (may be null), once each.
std::vector<NodeConditionState> EvaluateConditions(std::span<const ConditionSpec> table,
                                                   std::span<const Finding> findings,
                                                   std::vector<std::string>* undeclared = nullptr);

/// The strategic-merge patch of nodes/NAME/status that sets `states` on
/// `node` (the Node as read): lastHeartbeatTime `now`, lastTransitionTime
/// kept from the Node unless the status changes.
nlohmann::json NodeConditionsPatch(std::span<const NodeConditionState> states, const nlohmann::json& node,
                                   std::chrono::system_clock::time_point now);

enum class NodeConditionsOutcome { kSet, kNoNode };

/// Reads the Node and patches its status with `states`. kNoNode when there is
/// no such Node (join-prep before the join): nothing is sent. An error from
/// the client otherwise.
Result<NodeConditionsOutcome> SetNodeConditions(KubeClient& kube, const std::string& node,
                                                std::span<const NodeConditionState> states,
                                                std::chrono::system_clock::time_point now);

/// "2026-12-06T23:49:16Z", as the API writes times.
std::string KubeTimestamp(std::chrono::system_clock::time_point t);

/// `text` cut to at most `max` bytes without splitting a UTF-8 sequence,
/// with "..." at the end when cut.
std::string CutUtf8(std::string_view text, size_t max);

}  // namespace nodeagent
