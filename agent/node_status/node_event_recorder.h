// Events about this Node, posted the way `kubectl describe node` shows the
// kubelet's: core/v1 Events in "default" whose involvedObject is the Node
// (uid = the node's name, as the kubelet writes it), source "nodeagent". A
// repeat of the same (type, reason, message) on the node counts up the Event
// it made before (count, lastTimestamp) instead of making a new one, like
// client-go's EventLogger; see README.md for how and where we differ.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "nodeagent/action.h"
#include "nodeagent/host.h"
#include "nodeagent/kube.h"

namespace nodeagent {

/// Events live here, as the kubelet's Node events do.
inline constexpr std::string_view kNodeEventNamespace = "default";
/// Every reason the agent posts starts with this.
inline constexpr std::string_view kNodeEventReasonPrefix = "Nodeagent";
/// An Event's message is cut to this many bytes.
inline constexpr size_t kMaxEventMessageBytes = 1024;

/// The Event's name for this key: "NODE.nodeagent.<16 hex digits of FNV-1a
/// over type, reason and message>", the node part shortened so the name stays
/// within 253 bytes. The same key always gives the same name.
std::string NodeEventName(std::string_view node, std::string_view type, std::string_view reason,
                          std::string_view message);

/// `reason` with kNodeEventReasonPrefix in front, unless it has it already.
std::string NodeEventReason(std::string_view reason);

class NodeEventRecorder {
 public:
  /// `kube` and `clock` must outlive the recorder.
  NodeEventRecorder(KubeClient& kube, Clock& clock, std::string node);

  enum class Outcome { kCreated, kCounted };
  /// Creates the Event for (type, reason, message), or counts up the one a
  /// previous call (or run) made: GET it, then a strategic-merge patch of
  /// count and lastTimestamp guarded by its resourceVersion, tried again
  /// (at most 3 times) when someone else counted meanwhile. `reason` gets the
  /// prefix. An error from the client otherwise.
  Result<Outcome> Record(EventType type, std::string_view reason, std::string_view message);

 private:
  KubeClient& kube_;
  Clock& clock_;
  std::string node_;
};

}  // namespace nodeagent
