// A scripted KubeClient for unit tests of the core and the plugins. Every call, typed or
// generic, is turned into "METHOD PATH" (the path ResourcePath gives, no
// query) and answered from a table the test fills: an object, or an error
// with its HTTP status. Anything not scripted answers kUnavailable "not
// scripted: METHOD PATH", so a test sees at once a call it did not expect.
// Every request is recorded with its query and body, for assertions on what
// was sent (selectors, limits, patches).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nodeagent/kube.h"

namespace nodeagent {

class FakeKubeClient : public KubeClient {
 public:
  struct Sent {
    std::string method;
    std::string path;
    std::vector<std::pair<std::string, std::string>> query;
    nlohmann::json body;
    std::string content_type;
    std::string key() const { return method + " " + path; }
  };

  /// Answers `key` ("GET /api/v1/nodes/n1") with `object`.
  void Answer(const std::string& key, nlohmann::json object) {
    Reply r;
    r.object = std::move(object);
    answers_[key] = std::move(r);
  }
  /// Answers `key` with an error like the real client's (code from the status).
  void Fail(const std::string& key, int http_status, std::string reason, std::string message = "") {
    Reply r;
    r.http_status = http_status;
    r.reason = std::move(reason);
    r.message = message.empty() ? r.reason : std::move(message);
    answers_[key] = std::move(r);
  }

  std::vector<Sent> sent;

  /// The recorded requests with this key.
  std::vector<Sent> SentTo(const std::string& key) const {
    std::vector<Sent> out;
    for (const Sent& s : sent)
      if (s.key() == key) out.push_back(s);
    return out;
  }
  /// The query value of `name` in `s`, "" when absent.
  static std::string Query(const Sent& s, const std::string& name) {
    for (const auto& [k, v] : s.query)
      if (k == name) return v;
    return "";
  }

  KubeResult<nlohmann::json> Request(const KubeRequest& r) override {
    return Call(Sent{r.method, r.path, r.query, r.body, r.content_type});
  }
  KubeResult<nlohmann::json> GetVersion() override { return Call({"GET", "/version"}); }
  KubeResult<nlohmann::json> GetNode(const std::string& name) override {
    return Call({"GET", Path({"", "v1", "nodes", "", name})});
  }
  KubeResult<nlohmann::json> ListNodes(const ListOptions& o) override {
    return Call({"GET", Path({"", "v1", "nodes"}), ListQuery(o)});
  }
  KubeResult<nlohmann::json> PatchNode(const std::string& name, const nlohmann::json& patch, PatchType t) override {
    return Call({"PATCH", Path({"", "v1", "nodes", "", name}), {}, patch, PatchContentType(t)});
  }
  KubeResult<nlohmann::json> ListPods(const std::string& ns, const ListOptions& o) override {
    return Call({"GET", Path({"", "v1", "pods", ns}), ListQuery(o)});
  }
  KubeResult<nlohmann::json> GetPod(const std::string& ns, const std::string& name) override {
    return Call({"GET", Path({"", "v1", "pods", ns, name})});
  }
  KubeResult<nlohmann::json> DeletePod(const std::string& ns, const std::string& name, const DeleteOptions&) override {
    return Call({"DELETE", Path({"", "v1", "pods", ns, name})});
  }
  KubeResult<nlohmann::json> EvictPod(const std::string& ns, const std::string& name, const DeleteOptions&) override {
    return Call({"POST", Path({"", "v1", "pods", ns, name, "eviction"})});
  }
  KubeStatus Watch(const WatchRequest&, const WatchCallback&, const std::atomic<bool>*) override {
    return KubeStatus(Error(ErrorCode::kUnavailable, "not scripted: watch"));
  }
  KubeResult<nlohmann::json> GetLease(const std::string& ns, const std::string& name) override {
    return Call({"GET", Path({"coordination.k8s.io", "v1", "leases", ns, name})});
  }
  KubeResult<nlohmann::json> CreateLease(const std::string& ns, const nlohmann::json& lease) override {
    return Call({"POST", Path({"coordination.k8s.io", "v1", "leases", ns}), {}, lease});
  }
  KubeResult<nlohmann::json> UpdateLease(const std::string& ns, const nlohmann::json& lease) override {
    return Call({"PUT", Path({"coordination.k8s.io", "v1", "leases", ns, lease.value(nlohmann::json::json_pointer("/metadata/name"), "")}),
                 {}, lease});
  }
  KubeResult<nlohmann::json> DeleteLease(const std::string& ns, const std::string& name, const std::string&) override {
    return Call({"DELETE", Path({"coordination.k8s.io", "v1", "leases", ns, name})});
  }
  KubeResult<nlohmann::json> CreateEvent(const EventSpec& e) override {
    return Call({"POST", Path({"", "v1", "events", e.ns}), {}, {{"reason", e.reason}, {"message", e.message}}});
  }
  KubeResult<nlohmann::json> GetDaemonSet(const std::string& ns, const std::string& name) override {
    return Call({"GET", Path({"apps", "v1", "daemonsets", ns, name})});
  }
  KubeResult<nlohmann::json> PatchDaemonSet(const std::string& ns, const std::string& name, const nlohmann::json& patch,
                                            PatchType t) override {
    return Call({"PATCH", Path({"apps", "v1", "daemonsets", ns, name}), {}, patch, PatchContentType(t)});
  }
  KubeResult<nlohmann::json> ListPodDisruptionBudgets(const std::string& ns) override {
    return Call({"GET", Path({"policy", "v1", "poddisruptionbudgets", ns})});
  }
  KubeResult<AccessDecision> CheckAccess(const ResourceAttributes&) override {
    return KubeResult<AccessDecision>(Error(ErrorCode::kUnavailable, "not scripted: access review"));
  }

 private:
  struct Reply {
    nlohmann::json object;
    std::string reason, message;
    int http_status = 0;  // 0: success
  };

  static std::string Path(const KubeResourceRef& ref) {
    auto p = ResourcePath(ref);
    return p.ok() ? *p : "(bad path: " + p.error().message() + ")";
  }
  static std::vector<std::pair<std::string, std::string>> ListQuery(const ListOptions& o) {
    std::vector<std::pair<std::string, std::string>> q = {{"labelSelector", o.label_selector},
                                                          {"fieldSelector", o.field_selector}};
    if (o.limit) q.emplace_back("limit", std::to_string(o.limit));
    if (!o.continue_token.empty()) q.emplace_back("continue", o.continue_token);
    return q;
  }
  static ErrorCode CodeFor(int status) {
    switch (status) {
      case 400: case 422: return ErrorCode::kInvalidArgument;
      case 401: case 403: return ErrorCode::kPermissionDenied;
      case 404: return ErrorCode::kNotFound;
      case 409: return ErrorCode::kConflict;
      case 410: return ErrorCode::kGone;
      case 429: return ErrorCode::kTooManyRequests;
      default: return ErrorCode::kUnavailable;
    }
  }
  KubeResult<nlohmann::json> Call(Sent s) {
    std::string key = s.key();
    sent.push_back(std::move(s));
    auto it = answers_.find(key);
    if (it == answers_.end())
      return KubeResult<nlohmann::json>(Error(ErrorCode::kUnavailable, "not scripted: " + key));
    const Reply& r = it->second;
    if (r.http_status == 0) return r.object;
    KubeErrorDetail d;
    d.http_status = r.http_status;
    d.reason = r.reason;
    d.status_message = r.message;
    return KubeResult<nlohmann::json>(
        Error(CodeFor(r.http_status), key + ": " + std::to_string(r.http_status) + " " + r.message), d);
  }

  std::map<std::string, Reply> answers_;
};

}  // namespace nodeagent
