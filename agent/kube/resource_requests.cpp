#include "kube/resource_requests.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace nodeagent::kube {

std::string FormatRfc3339(std::chrono::system_clock::time_point t) {
  time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace requests {

namespace {

using json = nlohmann::json;

KubeResourceRef Ref(const char* group, const char* resource, const std::string& ns = "",
                    const std::string& name = "", const char* subresource = "") {
  KubeResourceRef r;
  r.group = group;
  r.resource = resource;
  r.ns = ns;
  r.name = name;
  r.subresource = subresource;
  return r;
}

// A request of `method` to `ref`; the path's error when `ref` is not valid.
Result<KubeRequest> At(const char* method, const KubeResourceRef& ref, json body = nullptr,
                       std::string content_type = "") {
  auto path = ResourcePath(ref);
  if (!path) return path.error();
  KubeRequest r;
  r.method = method;
  r.path = std::move(*path);
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

json DeleteOptionsJson(const DeleteOptions& o, const char* api_version) {
  json d = {{"apiVersion", api_version}, {"kind", "DeleteOptions"}};
  if (o.grace_period_seconds) d["gracePeriodSeconds"] = *o.grace_period_seconds;
  if (!o.precondition_uid.empty()) d["preconditions"]["uid"] = o.precondition_uid;
  if (!o.precondition_resource_version.empty())
    d["preconditions"]["resourceVersion"] = o.precondition_resource_version;
  return d;
}

json AsLease(json lease) {
  lease["apiVersion"] = "coordination.k8s.io/v1";
  lease["kind"] = "Lease";
  return lease;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ListQuery(const ListOptions& o) {
  return {{"labelSelector", o.label_selector},
          {"fieldSelector", o.field_selector},
          {"limit", o.limit > 0 ? std::to_string(o.limit) : ""},
          {"continue", o.continue_token},
          {"resourceVersion", o.resource_version}};
}

Result<KubeRequest> GetVersion() { return KubeRequest::Get("/version"); }

Result<KubeRequest> GetNode(const std::string& name) { return At("GET", Ref("", "nodes", "", name)); }
Result<KubeRequest> ListNodes(const ListOptions& o) {
  auto r = At("GET", Ref("", "nodes"));
  if (r) r->query = ListQuery(o);
  return r;
}
Result<KubeRequest> PatchNode(const std::string& name, const json& patch, PatchType type) {
  return At("PATCH", Ref("", "nodes", "", name), patch, PatchContentType(type));
}

Result<KubeRequest> ListPods(const std::string& ns, const ListOptions& o) {
  auto r = At("GET", Ref("", "pods", ns));
  if (r) r->query = ListQuery(o);
  return r;
}
Result<KubeRequest> GetPod(const std::string& ns, const std::string& name) {
  return At("GET", Ref("", "pods", ns, name));
}
Result<KubeRequest> DeletePod(const std::string& ns, const std::string& name, const DeleteOptions& o) {
  return At("DELETE", Ref("", "pods", ns, name), DeleteOptionsJson(o, "v1"));
}
Result<KubeRequest> EvictPod(const std::string& ns, const std::string& name, const DeleteOptions& o) {
  json eviction = {{"apiVersion", "policy/v1"},
                   {"kind", "Eviction"},
                   {"metadata", {{"name", name}, {"namespace", ns}}},
                   {"deleteOptions", DeleteOptionsJson(o, "meta.k8s.io/v1")}};
  auto r = At("POST", Ref("", "pods", ns, name, "eviction"), std::move(eviction));
  if (r) r->retry_too_many_requests = false;  // the caller decides when to ask again
  return r;
}

Result<KubeRequest> GetLease(const std::string& ns, const std::string& name) {
  return At("GET", Ref("coordination.k8s.io", "leases", ns, name));
}
Result<KubeRequest> CreateLease(const std::string& ns, const json& lease) {
  return At("POST", Ref("coordination.k8s.io", "leases", ns), AsLease(lease));
}
Result<KubeRequest> UpdateLease(const std::string& ns, const json& lease) {
  std::string name = lease.value("/metadata/name"_json_pointer, "");
  if (name.empty()) return InvalidArgument("UpdateLease: lease has no metadata.name");
  if (lease.value("/metadata/resourceVersion"_json_pointer, "").empty())
    return InvalidArgument("UpdateLease " + ns + "/" + name +
                           ": metadata.resourceVersion is required (read the lease first)");
  return At("PUT", Ref("coordination.k8s.io", "leases", ns, name), AsLease(lease));
}
Result<KubeRequest> DeleteLease(const std::string& ns, const std::string& name, const std::string& resource_version) {
  DeleteOptions o;
  o.precondition_resource_version = resource_version;
  return At("DELETE", Ref("coordination.k8s.io", "leases", ns, name), DeleteOptionsJson(o, "v1"));
}

Result<KubeRequest> CreateEvent(const EventSpec& e, std::chrono::system_clock::time_point now) {
  int64_t nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%" PRIx64, static_cast<uint64_t>(nanos));
  std::string ts = FormatRfc3339(now);
  json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"name", e.involved_object.value("name", "nodeagent") + suffix}, {"namespace", e.ns}}},
             {"involvedObject", e.involved_object},
             {"reason", e.reason},
             {"message", e.message},
             {"type", e.type},
             {"source", {{"component", e.component}}},
             {"reportingComponent", e.component},
             {"firstTimestamp", ts},
             {"lastTimestamp", ts},
             {"count", 1}};
  if (!e.host.empty()) {
    ev["source"]["host"] = e.host;
    ev["reportingInstance"] = e.host;
  }
  return At("POST", Ref("", "events", e.ns), std::move(ev));
}

Result<KubeRequest> GetDaemonSet(const std::string& ns, const std::string& name) {
  return At("GET", Ref("apps", "daemonsets", ns, name));
}
Result<KubeRequest> PatchDaemonSet(const std::string& ns, const std::string& name, const json& patch,
                                   PatchType type) {
  return At("PATCH", Ref("apps", "daemonsets", ns, name), patch, PatchContentType(type));
}

Result<KubeRequest> ListPodDisruptionBudgets(const std::string& ns) {
  return At("GET", Ref("policy", "poddisruptionbudgets", ns));
}

Result<KubeRequest> CheckAccess(const ResourceAttributes& a) {
  json attrs = {{"verb", a.verb}, {"resource", a.resource}};
  if (!a.group.empty()) attrs["group"] = a.group;
  if (!a.subresource.empty()) attrs["subresource"] = a.subresource;
  if (!a.ns.empty()) attrs["namespace"] = a.ns;
  if (!a.name.empty()) attrs["name"] = a.name;
  json review = {{"apiVersion", "authorization.k8s.io/v1"},
                 {"kind", "SelfSubjectAccessReview"},
                 {"spec", {{"resourceAttributes", attrs}}}};
  return At("POST", Ref("authorization.k8s.io", "selfsubjectaccessreviews"), std::move(review));
}

AccessDecision AccessDecisionFrom(const json& review) {
  AccessDecision d;
  d.allowed = review.value("/status/allowed"_json_pointer, false);
  d.reason = review.value("/status/reason"_json_pointer, "");
  if (d.reason.empty()) d.reason = review.value("/status/evaluationError"_json_pointer, "");
  return d;
}

}  // namespace requests

}  // namespace nodeagent::kube
