#include "cluster/calico_pod.h"

#include "cluster/json_fields.h"

namespace nodeagent::calico {
namespace {

using nlohmann::json;
using jsonf::At;
using jsonf::Str;

// The time an Event last happened, as text that sorts by time (RFC 3339 UTC).
std::string EventTime(const json& e) {
  for (const char* p : {"/lastTimestamp", "/eventTime", "/series/lastObservedTime", "/metadata/creationTimestamp"}) {
    std::string t = Str(e, p);
    if (!t.empty()) return t;
  }
  return "";
}

}  // namespace

CalicoPodView DescribeCalicoPod(const json& pod, const json& events) {
  CalicoPodView v;
  v.found = true;
  v.ns = Str(pod, "/metadata/namespace");
  v.name = Str(pod, "/metadata/name");
  v.phase = Str(pod, "/status/phase");
  const json& conditions = At(pod, "/status/conditions");
  if (conditions.is_array()) {
    for (const json& c : conditions)
      if (Str(c, "/type") == "Ready") v.ready = Str(c, "/status") == "True";
  }
  const json& statuses = At(pod, "/status/containerStatuses");
  if (statuses.is_array()) {
    for (const json& s : statuses) {
      if (Str(s, "/name") != "calico-node") continue;
      v.restart_count = static_cast<int>(jsonf::Int(s, "/restartCount", 0));
      v.waiting_reason = Str(s, "/state/waiting/reason");
      v.terminated_reason = Str(s, "/state/terminated/reason");
      if (v.terminated_reason.empty()) v.terminated_reason = Str(s, "/lastState/terminated/reason");
    }
  }
  const json& items = At(events, "/items");
  if (items.is_array()) {
    for (const json& e : items) {
      if (Str(e, "/reason") != "Unhealthy") continue;
      if (Str(e, "/involvedObject/name") != v.name) continue;
      std::string message = Str(e, "/message");
      if (message.rfind("Readiness probe failed", 0) != 0) continue;
      std::string when = EventTime(e);
      if (!v.readiness_message.empty() && when < v.readiness_time) continue;
      v.readiness_message = message.substr(0, 1000);
      v.readiness_time = when;
      v.readiness_count = static_cast<int>(jsonf::Int(e, "/count", 1));
    }
  }
  return v;
}

Result<CalicoPodView> ReadCalicoPod(KubeClient& client, const std::string& ns, const std::string& node) {
  ListOptions options;
  options.label_selector = "k8s-app=calico-node";
  options.field_selector = OnNodeSelector(node);
  options.limit = 10;
  KubeResult<json> pods = client.ListPods(ns, options);
  if (!pods.ok())
    return pods.error().Wrap("listing calico-node pods on " + node + " (GET /api/v1/namespaces/" + ns + "/pods)");
  const json& items = At(*pods, "/items");
  if (!items.is_array() || items.empty()) {
    CalicoPodView none;
    none.ns = ns;
    return none;
  }
  // A pod being replaced (deletionTimestamp set) only when it is the only one.
  size_t chosen = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (At(items[i], "/metadata/deletionTimestamp").is_null()) {
      chosen = i;
      break;
    }
  }
  const json& pod = items[chosen];
  CalicoPodView first = DescribeCalicoPod(pod, json());
  if (first.ready) return first;
  auto path = ResourcePath({"", "v1", "events", ns});
  if (!path.ok()) return first;
  KubeRequest r = KubeRequest::Get(*path);
  r.query = {{"fieldSelector", "involvedObject.name=" + first.name + ",reason=Unhealthy"}, {"limit", "100"}};
  KubeResult<json> events = client.Request(r);
  if (!events.ok()) {
    first.events_problem = "reading Events (GET " + *path + "): " + events.error().message();
    return first;
  }
  return DescribeCalicoPod(pod, *events);
}

json ToJson(const CalicoPodView& v) {
  if (!v.found) return {{"found", false}, {"namespace", v.ns}};
  return {{"found", true},
          {"namespace", v.ns},
          {"name", v.name},
          {"phase", v.phase},
          {"ready", v.ready},
          {"restart_count", v.restart_count},
          {"waiting_reason", v.waiting_reason},
          {"terminated_reason", v.terminated_reason},
          {"readiness_message", v.readiness_message},
          {"readiness_time", v.readiness_time},
          {"readiness_count", v.readiness_count},
          {"events_problem", v.events_problem}};
}

}  // namespace nodeagent::calico
