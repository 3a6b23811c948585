// The Kubernetes seam. Actions that cordon, drain, take a reboot lease or post
// Events talk to the cluster only through KubeClient, so that their logic is
// tested against a test API server (tests/apiserver/) or a fake, and the real
// libcurl client (agent/kube/, CurlKubeClient, built by MakeKubeClient) can
// retry, rate-limit and authenticate in one place. Objects are plain
// nlohmann::json in the API's own shape; errors carry a nodeagent ErrorCode
// plus the HTTP status and the API Status reason (KubeErrorDetail). This header
// is inline-only: plugins need no symbols beyond the virtual calls.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeagent/result.h"

namespace nodeagent {

/// What the API server said when a call failed. Error codes by HTTP status:
/// 400/422 kInvalidArgument, 401/403 kPermissionDenied, 404 kNotFound,
/// 409 kConflict (also for create races: reason "AlreadyExists"), 410 kGone,
/// 429 kTooManyRequests, 5xx and connection failures kUnavailable.
struct KubeErrorDetail {
  int http_status = 0;          // 0 when no HTTP response was received
  std::string reason;           // Status.reason: "NotFound", "Conflict", "AlreadyExists", ...
  std::string status_message;   // Status.message (for 403: the RBAC denial text)
  std::optional<std::chrono::seconds> retry_after;  // from Retry-After, if sent
  int attempts = 0;             // HTTP attempts made, including retries
};

/// A Result that also carries KubeErrorDetail on failure. Converts to
/// Result<T> by slicing, so `return client.GetNode(n);` works in any function
/// returning Result<nlohmann::json>.
template <typename T>
class [[nodiscard]] KubeResult : public Result<T> {
 public:
  KubeResult(T value) : Result<T>(std::move(value)) {}  // NOLINT: implicit by design
  KubeResult(Error error, KubeErrorDetail detail = {})   // NOLINT: implicit by design
      : Result<T>(std::move(error)), detail_(std::move(detail)) {}

  /// Meaningful only when !ok().
  const KubeErrorDetail& detail() const { return detail_; }
  int http_status() const { return detail_.http_status; }

 private:
  KubeErrorDetail detail_;
};

/// Status with KubeErrorDetail; for calls that return no object.
class [[nodiscard]] KubeStatus : public Status {
 public:
  KubeStatus() = default;
  KubeStatus(Error error, KubeErrorDetail detail = {})  // NOLINT: implicit by design
      : Status(std::move(error)), detail_(std::move(detail)) {}
  const KubeErrorDetail& detail() const { return detail_; }

 private:
  KubeErrorDetail detail_;
};

/// Query of a list call. Empty strings and 0 are left out of the request.
struct ListOptions {
  std::string label_selector;   // "app=web,tier!=db"
  std::string field_selector;   // "spec.nodeName=n1"
  int64_t limit = 0;            // page size; 0: server default (all)
  std::string continue_token;   // from the previous page's metadata.continue
  std::string resource_version;
};

/// Field selector for the pods bound to a node.
inline std::string OnNodeSelector(const std::string& node) { return "spec.nodeName=" + node; }

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in kinds only)
  kJson,            // application/json-patch+json (RFC 6902 operations)
};

/// Options of pod delete and eviction.
struct DeleteOptions {
  std::optional<int64_t> grace_period_seconds;  // unset: the pod's own
  std::string precondition_uid;                 // when set, only that incarnation
  std::string precondition_resource_version;
};

enum class WatchResource { kPods, kNodes };

enum class WatchEventType {
  kAdded,
  kModified,
  kDeleted,
  kBookmark,  // object carries only metadata.resourceVersion
  kRelisted,  // object is a whole List: replace all state you hold (start, or after 410 Gone)
};

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  nlohmann::json object;
};

struct WatchRequest {
  WatchResource resource = WatchResource::kPods;
  std::string ns;                  // pods only; empty: all namespaces
  std::string label_selector;
  std::string field_selector;
  /// Resume point. Empty: start with a list delivered as one kRelisted event.
  std::string resource_version;
  /// Returns after this long (Ok). 0: until stopped or the callback says stop.
  std::chrono::milliseconds duration{0};
};

/// Called on the watching thread, once per event. Return false to stop.
using WatchCallback = std::function<bool(const WatchEvent&)>;

/// Attributes of an access question (SelfSubjectAccessReview), also one
/// resolved row of an action's declared permissions (one verb).
struct ResourceAttributes {
  std::string verb;         // get list watch patch create update delete
  std::string group;        // "" for core, "apps", "policy", "coordination.k8s.io", ...
  std::string resource;     // "nodes", "pods", ...
  std::string subresource;  // "eviction", or ""
  std::string ns;           // "" for cluster-scoped or all namespaces
  std::string name;         // "" for any
};

struct AccessDecision {
  bool allowed = false;
  std::string reason;  // the authorizer's reason or evaluation error, may be empty
};

/// A core/v1 Event about one object (the node, a pod).
struct EventSpec {
  /// The object it is about: apiVersion, kind, name, namespace, uid as in an
  /// ObjectReference (fields left out are omitted).
  nlohmann::json involved_object;
  std::string ns = "default";  // where the Event lives; the object's namespace for pods
  std::string type = "Normal";  // or "Warning"
  std::string reason;           // CamelCase: "NodeRebootScheduled"
  std::string message;
  std::string component = "nodeagent";
  std::string host;             // reporting node
};

/// The cluster as nodeagent sees it. Safe to call from several threads. Every
/// call returns the API object (JSON) on success, or an Error whose code
/// follows KubeErrorDetail's table and whose message names method and URL and
/// never contains credentials. Transient failures (connection errors, 429, 5xx)
/// are retried within the client's retry budget before an error is returned.
class KubeClient {
 public:
  virtual ~KubeClient() = default;

  /// GET /version: {"major","minor","gitVersion",...}.
  virtual KubeResult<nlohmann::json> GetVersion() = 0;

  /// The Node; kNotFound when there is none by that name.
  virtual KubeResult<nlohmann::json> GetNode(const std::string& name) = 0;
  /// One page of a NodeList (follow metadata.continue for more).
  virtual KubeResult<nlohmann::json> ListNodes(const ListOptions& options) = 0;
  /// Patches the Node (spec.unschedulable, labels, annotations, taints) and
  /// returns the result. kConflict if a JSON patch "test" op fails.
  virtual KubeResult<nlohmann::json> PatchNode(const std::string& name, const nlohmann::json& patch,
                                               PatchType type) = 0;

  /// One page of a PodList in `ns` ("" for all namespaces). See ListAllPods.
  virtual KubeResult<nlohmann::json> ListPods(const std::string& ns, const ListOptions& options) = 0;
  /// The Pod; kNotFound when gone.
  virtual KubeResult<nlohmann::json> GetPod(const std::string& ns, const std::string& name) = 0;
  /// Deletes the pod; returns the pod (now terminating) or a Status. kNotFound
  /// when already gone; kConflict when the UID precondition does not match.
  virtual KubeResult<nlohmann::json> DeletePod(const std::string& ns, const std::string& name,
                                               const DeleteOptions& options) = 0;
  /// POST pods/NAME/eviction (policy/v1). kTooManyRequests (not retried) when a
  /// PodDisruptionBudget forbids it now; kNotFound when the pod is gone.
  virtual KubeResult<nlohmann::json> EvictPod(const std::string& ns, const std::string& name,
                                              const DeleteOptions& options) = 0;

  /// Watches pods or nodes, calling `callback` per event, and blocks until
  /// `*stop` becomes true (checked at least once a second), the callback returns
  /// false or request.duration passes: then Ok. Reconnects from the last seen
  /// resourceVersion and relists (kRelisted) on 410 Gone. An Error when the
  /// server cannot be reached within the retry budget or refuses (403).
  virtual KubeStatus Watch(const WatchRequest& request, const WatchCallback& callback,
                           const std::atomic<bool>* stop) = 0;

  /// coordination.k8s.io/v1 Lease; kNotFound when absent.
  virtual KubeResult<nlohmann::json> GetLease(const std::string& ns, const std::string& name) = 0;
  /// Creates the Lease (metadata.name set by the caller). kConflict (reason
  /// "AlreadyExists") when someone else created it first: re-read it.
  virtual KubeResult<nlohmann::json> CreateLease(const std::string& ns, const nlohmann::json& lease) = 0;
  /// PUT with the lease's metadata.resourceVersion. kConflict when it changed
  /// since it was read: re-read and decide again.
  virtual KubeResult<nlohmann::json> UpdateLease(const std::string& ns, const nlohmann::json& lease) = 0;
  /// Deletes the lease, only if still at `resource_version` when non-empty.
  /// kNotFound when absent; kConflict when the precondition fails.
  virtual KubeResult<nlohmann::json> DeleteLease(const std::string& ns, const std::string& name,
                                                 const std::string& resource_version) = 0;

  /// Creates a core/v1 Event (name generated, timestamps now).
  virtual KubeResult<nlohmann::json> CreateEvent(const EventSpec& event) = 0;

  /// apps/v1 DaemonSet; kNotFound when absent.
  virtual KubeResult<nlohmann::json> GetDaemonSet(const std::string& ns, const std::string& name) = 0;
  virtual KubeResult<nlohmann::json> PatchDaemonSet(const std::string& ns, const std::string& name,
                                                    const nlohmann::json& patch, PatchType type) = 0;

  /// policy/v1 PodDisruptionBudgetList in `ns` ("" for all namespaces).
  virtual KubeResult<nlohmann::json> ListPodDisruptionBudgets(const std::string& ns) = 0;

  /// Asks the server whether this client may do `what` (SelfSubjectAccessReview).
  virtual KubeResult<AccessDecision> CheckAccess(const ResourceAttributes& what) = 0;
};

/// All pods matching `options` in `ns`, following continue tokens page by page
/// (page size options.limit, 500 when 0). Returns one PodList with every item.
/// kGone when a continue token expired between pages: call again.
inline KubeResult<nlohmann::json> ListAllPods(KubeClient& client, const std::string& ns,
                                              ListOptions options) {
  if (options.limit == 0) options.limit = 500;
  nlohmann::json all = {{"apiVersion", "v1"}, {"kind", "PodList"}, {"items", nlohmann::json::array()}};
  for (;;) {
    KubeResult<nlohmann::json> page = client.ListPods(ns, options);
    if (!page.ok()) return page;
    for (auto& item : (*page)["items"]) all["items"].push_back(std::move(item));
    using Ptr = nlohmann::json::json_pointer;
    all["metadata"]["resourceVersion"] = page->value(Ptr("/metadata/resourceVersion"), "");
    options.continue_token = page->value(Ptr("/metadata/continue"), "");
    if (options.continue_token.empty()) return all;
  }
}

/// "create pods/eviction", "get leases.coordination.k8s.io in kube-system".
inline std::string DescribePermission(const ResourceAttributes& a) {
  std::string s = a.verb + " " + a.resource;
  if (!a.subresource.empty()) s += "/" + a.subresource;
  if (!a.group.empty()) s += "." + a.group;
  if (!a.ns.empty()) s += " in " + a.ns;
  return s;
}

/// Asks the server about each of `wanted` (the rows the actions declare, see
/// nodeagent/kube_permission.h); returns the denied ones (empty: all
/// granted). An Error when a review itself fails.
inline Result<std::vector<ResourceAttributes>> CheckPermissions(KubeClient& client,
                                                                const std::vector<ResourceAttributes>& wanted) {
  std::vector<ResourceAttributes> missing;
  for (const ResourceAttributes& p : wanted) {
    KubeResult<AccessDecision> d = client.CheckAccess(p);
    if (!d.ok()) return d.error().Wrap("checking permission to " + DescribePermission(p));
    if (!d->allowed) missing.push_back(p);
  }
  return missing;
}

}  // namespace nodeagent
