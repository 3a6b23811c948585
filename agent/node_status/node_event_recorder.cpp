#include "node_status/node_event_recorder.h"

#include <cstdio>

#include "node_status/node_conditions.h"

namespace nodeagent {

namespace {

uint64_t Fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  // A separator that cannot occur in the text, so ("ab","c") != ("a","bc").
  h ^= 0xff;
  h *= 1099511628211ULL;
  return h;
}

const char* TypeName(EventType t) { return t == EventType::kWarning ? "Warning" : "Normal"; }

}  // namespace

std::string NodeEventName(std::string_view node, std::string_view type, std::string_view reason,
                          std::string_view message) {
  uint64_t h = 14695981039346656037ULL;
  h = Fnv1a(Fnv1a(Fnv1a(h, type), reason), message);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  std::string suffix = std::string(".nodeagent.") + hex;
  std::string prefix(node.substr(0, 253 - suffix.size()));
  while (!prefix.empty() && (prefix.back() == '.' || prefix.back() == '-')) prefix.pop_back();
  return prefix + suffix;
}

std::string NodeEventReason(std::string_view reason) {
  if (reason.starts_with(kNodeEventReasonPrefix)) return std::string(reason);
  return std::string(kNodeEventReasonPrefix) + std::string(reason);
}

NodeEventRecorder::NodeEventRecorder(KubeClient& kube, Clock& clock, std::string node)
    : kube_(kube), clock_(clock), node_(std::move(node)) {}

Result<NodeEventRecorder::Outcome> NodeEventRecorder::Record(EventType type, std::string_view reason_in,
                                                             std::string_view message_in) {
  const std::string reason = NodeEventReason(reason_in);
  const std::string message = CutUtf8(message_in, kMaxEventMessageBytes);
  const std::string name = NodeEventName(node_, TypeName(type), reason, message);
  const std::string ns(kNodeEventNamespace);
  auto collection = ResourcePath({"", "v1", "events", ns});
  auto object = ResourcePath({"", "v1", "events", ns, name});
  if (!collection) return collection.error();
  if (!object) return object.error();

  const std::string now = KubeTimestamp(clock_.Now());
  nlohmann::json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", name}, {"namespace", ns}}},
      // The kubelet's Node events carry the node's name as uid, and that is
      // what `kubectl describe node` looks for when no Event has the real uid.
      {"involvedObject", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node_}, {"uid", node_}}},
      {"type", TypeName(type)},
      {"reason", reason},
      {"message", message},
      {"source", {{"component", "nodeagent"}, {"host", node_}}},
      {"reportingComponent", "nodeagent"},
      {"reportingInstance", node_},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1}};
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto created = kube_.Request(KubeRequest::Post(*collection, event));
    if (created) return Outcome::kCreated;
    if (created.error().code() != ErrorCode::kConflict) return created.error();
    // It exists: the same report was made before. Count it.
    auto existing = kube_.Request(KubeRequest::Get(*object));
    if (!existing) {
      if (existing.error().code() == ErrorCode::kNotFound) continue;  // expired meanwhile: create again
      return existing.error();
    }
    int64_t count = existing->value("count", int64_t{1});
    nlohmann::json patch = {
        {"metadata", {{"resourceVersion", existing->value("/metadata/resourceVersion"_json_pointer, "")}}},
        {"count", count + 1},
        {"lastTimestamp", KubeTimestamp(clock_.Now())}};
    auto counted = kube_.Request(KubeRequest::Patch(*object, patch, PatchType::kStrategicMerge));
    if (counted) return Outcome::kCounted;
    // Conflict: counted by someone else meanwhile; NotFound: expired. Again.
    if (counted.error().code() != ErrorCode::kConflict && counted.error().code() != ErrorCode::kNotFound)
      return counted.error();
  }
  return Error(ErrorCode::kConflict, "Event " + ns + "/" + name + " kept changing; not counted");
}

}  // namespace nodeagent
