#include "ctl/cluster_view.h"

#include <algorithm>

namespace nodeagent {

namespace {

using json = nlohmann::json;

// drain-and-reboot's annotations on a node it cordoned (reboot_coordinator.h).
constexpr const char* kAnnotationRun = "nodeagent.io/run-id";
constexpr const char* kAnnotationAction = "nodeagent.io/action";
constexpr const char* kAnnotationPhase = "nodeagent.io/phase";
constexpr const char* kAnnotationSince = "nodeagent.io/since";

std::string Str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

bool Unreachable(const Error& e) {
  return e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kTimeout;
}

void ReadNode(KubeClient& kube, const ClusterViewInputs& in, json& out, bool& reachable) {
  auto node = kube.GetNode(in.node_name);
  if (!node) {
    out["errors"].push_back("node " + in.node_name + ": " + node.error().message());
    reachable = !Unreachable(node.error());
    return;
  }
  const json& spec = node->value("spec", json::object());
  const json meta = node->value("metadata", json::object());
  const json annotations = meta.value("annotations", json::object());
  const bool cordoned = spec.value("unschedulable", false);
  out["schedulable"] = !cordoned;
  const std::string run = Str(annotations, kAnnotationRun);
  if (!run.empty())
    out["nodeagent_run"] = {{"run_id", run},
                            {"action", Str(annotations, kAnnotationAction)},
                            {"phase", Str(annotations, kAnnotationPhase)},
                            {"since", Str(annotations, kAnnotationSince)}};
  out["cordoned_by"] = !cordoned ? json(nullptr) : json(run.empty() ? "other" : "nodeagent");
  for (const auto& c : node->value("status", json::object()).value("conditions", json::array())) {
    const std::string type = Str(c, "type");
    if (!type.starts_with("NodeAgent")) continue;
    out["conditions"].push_back({{"type", type},
                                 {"status", Str(c, "status")},
                                 {"reason", Str(c, "reason")},
                                 {"message", Str(c, "message")},
                                 {"since", Str(c, "lastTransitionTime")}});
  }
}

void ReadLocks(KubeClient& kube, const ClusterViewInputs& in, json& out, bool& reachable) {
  for (const auto& [ns, name] : in.lock_slots) {
    if (!reachable) return;
    auto lease = kube.GetLease(ns, name);
    json slot = {{"namespace", ns}, {"name", name}, {"holder", nullptr}, {"ours", false}, {"renewed", nullptr}};
    if (!lease) {
      if (lease.error().code() != ErrorCode::kNotFound) {
        out["errors"].push_back("lease " + ns + "/" + name + ": " + lease.error().message());
        reachable = !Unreachable(lease.error());
        continue;
      }
    } else {
      const json spec = lease->value("spec", json::object());
      const std::string holder = Str(spec, "holderIdentity");
      if (!holder.empty()) {
        slot["holder"] = holder;
        slot["ours"] = holder == in.node_name;
        slot["renewed"] = Str(spec, "renewTime");
      }
    }
    out["reboot_lock"].push_back(std::move(slot));
  }
}

void ReadEvents(KubeClient& kube, const ClusterViewInputs& in, json& out, bool& reachable) {
  if (!reachable) return;
  auto path = ResourcePath({.group = "", .version = "v1", .resource = "events", .ns = in.events_namespace});
  if (!path) {
    out["errors"].push_back("events: " + path.error().message());
    return;
  }
  KubeRequest req = KubeRequest::Get(*path);
  req.query = {{"fieldSelector", "involvedObject.kind=Node,involvedObject.name=" + in.node_name + ",source=nodeagent"},
               {"limit", "500"}};
  auto list = kube.Request(req);
  if (!list) {
    out["errors"].push_back("events in " + in.events_namespace + ": " + list.error().message());
    reachable = !Unreachable(list.error());
    return;
  }
  std::vector<json> events;
  for (const auto& e : list->value("items", json::array())) {
    // The server filters already; checked again for servers that ignore a field.
    const json involved = e.value("involvedObject", json::object());
    if (Str(involved, "kind") != "Node" || Str(involved, "name") != in.node_name) continue;
    if (Str(e.value("source", json::object()), "component") != "nodeagent" && Str(e, "reportingComponent") != "nodeagent")
      continue;
    std::string time = Str(e, "lastTimestamp");
    if (time.empty()) time = Str(e, "eventTime");
    if (time.empty()) time = Str(e.value("metadata", json::object()), "creationTimestamp");
    events.push_back({{"time", time},
                      {"type", Str(e, "type")},
                      {"reason", Str(e, "reason")},
                      {"message", Str(e, "message")},
                      {"count", e.value("count", 1)}});
  }
  // RFC 3339 in UTC sorts as text.
  std::stable_sort(events.begin(), events.end(),
                   [](const json& a, const json& b) { return a["time"].get<std::string>() > b["time"].get<std::string>(); });
  if (events.size() > in.max_events) events.resize(in.max_events);
  for (auto& e : events) out["events"].push_back(std::move(e));
}

}  // namespace

json ReadClusterView(KubeClient& kube, const ClusterViewInputs& in) {
  json out = {{"node", in.node_name},          {"schedulable", nullptr}, {"cordoned_by", nullptr},
              {"nodeagent_run", nullptr},      {"conditions", json::array()}, {"reboot_lock", json::array()},
              {"events", json::array()},       {"errors", json::array()}};
  bool reachable = true;
  ReadNode(kube, in, out, reachable);
  ReadLocks(kube, in, out, reachable);
  ReadEvents(kube, in, out, reachable);
  return out;
}

std::vector<std::pair<std::string, std::string>> RebootLockSlots(std::string ns, std::string prefix,
                                                                 int64_t concurrency) {
  if (ns.empty()) ns = "kube-system";
  if (prefix.empty()) prefix = "nodeagent-reboot-lock";
  concurrency = std::clamp<int64_t>(concurrency, 1, 100);
  std::vector<std::pair<std::string, std::string>> out;
  for (int64_t i = 0; i < concurrency; ++i) out.emplace_back(ns, prefix + "-" + std::to_string(i));
  return out;
}

}  // namespace nodeagent
