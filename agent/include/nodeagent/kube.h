// The Kubernetes seam. Actions that cordon, drain, take a reboot lease, post
// Events or touch any other resource (a ConfigMap, a CRD; KubeClient::Request
// with a path from ResourcePath) talk to the cluster only through KubeClient,
// so that their logic is tested against a test API server (tests/apiserver/)
// or a fake, and the real
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
#include <string_view>
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
  kApply,           // application/apply-patch+yaml (server-side apply; JSON is YAML);
                    // needs the query parameter fieldManager
};

/// The Content-Type a patch of `type` is sent with.
inline const char* PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kStrategicMerge: return "application/strategic-merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
    case PatchType::kApply: return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

/// Where an object or a collection lives in the API, for ResourcePath.
struct KubeResourceRef {
  std::string group;          // "" for core, "apps", "crd.projectcalico.org", "operator.tigera.io"
  std::string version = "v1";
  std::string resource;       // the plural: "configmaps", "ippools", "installations"
  std::string ns;             // "" for cluster-scoped objects, or a collection across all namespaces
  std::string name;           // "" for the collection
  std::string subresource;    // "status", "eviction", or ""; needs a name
};

/// "%41"-style encoding of everything but RFC 3986's unreserved characters
/// (letters, digits, '-', '.', '_', '~'): safe as one path segment or query value.
inline std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

namespace kube_path_detail {

inline bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

inline bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    if (!IsDnsLabel(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start)))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace kube_path_detail

/// Why `name` cannot be an object name in a path, or "" when it can. The API
/// server's own rule (apimachinery's IsValidPathSegmentName) forbids ".",
/// "..", '/' and '%'; control characters and names over 253 bytes are refused
/// too. Anything else ('?', '#', ':', spaces) is percent-encoded.
inline std::string ObjectNameProblem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name == "." || name == "..") return "may not be \"" + std::string(name) + "\"";
  if (name.size() > 253) return "is longer than 253 bytes";
  for (unsigned char c : name) {
    if (c == '/' || c == '%') return std::string("may not contain '") + static_cast<char>(c) + "'";
    if (c < 0x20 || c == 0x7f) return "may not contain control characters";
  }
  return "";
}

/// The API path of `ref`: "/apis/crd.projectcalico.org/v1/ippools",
/// "/api/v1/namespaces/kube-system/configmaps/kubeadm-config",
/// "/api/v1/namespaces/default/pods/web-1/eviction". Group, version, resource,
/// subresource and namespace must be lowercase DNS names (labels; the group a
/// subdomain) and the name a valid path segment (ObjectNameProblem), so no
/// part can add a segment, a query or a fragment. kInvalidArgument naming the
/// part otherwise.
inline Result<std::string> ResourcePath(const KubeResourceRef& ref) {
  using namespace kube_path_detail;
  auto bad = [](const char* part, std::string_view value, const std::string& why) {
    return Error(ErrorCode::kInvalidArgument,
                 std::string("Kubernetes resource path: ") + part + " \"" + std::string(value) + "\" " + why);
  };
  if (!ref.group.empty() && !IsDnsSubdomain(ref.group))
    return bad("group", ref.group, "is not a lowercase DNS subdomain");
  if (!IsDnsLabel(ref.version)) return bad("version", ref.version, "is not like v1 or v1beta1");
  if (!IsDnsLabel(ref.resource)) return bad("resource", ref.resource, "is not a lowercase plural like configmaps");
  if (!ref.ns.empty() && !IsDnsLabel(ref.ns)) return bad("namespace", ref.ns, "is not a lowercase DNS label");
  if (!ref.name.empty()) {
    if (std::string why = ObjectNameProblem(ref.name); !why.empty()) return bad("name", ref.name, why);
  }
  if (!ref.subresource.empty()) {
    if (ref.name.empty()) return bad("subresource", ref.subresource, "needs an object name");
    if (!IsDnsLabel(ref.subresource)) return bad("subresource", ref.subresource, "is not a lowercase DNS label");
  }
  std::string path = ref.group.empty() ? "/api/" + ref.version : "/apis/" + ref.group + "/" + ref.version;
  if (!ref.ns.empty()) path += "/namespaces/" + ref.ns;
  path += "/" + ref.resource;
  if (!ref.name.empty()) path += "/" + PercentEncode(ref.name);
  if (!ref.subresource.empty()) path += "/" + ref.subresource;
  return path;
}

/// Checks a path given to KubeClient::Request: absolute, no query ('?') or
/// fragment ('#'), no empty, "." or ".." segment, no control character or
/// space, and percent escapes well formed and decoding to neither '/' nor a
/// control character nor a "."/".." segment. Paths from ResourcePath always
/// pass. kInvalidArgument saying what is wrong otherwise.
inline Status CheckRequestPath(std::string_view path) {
  auto bad = [&path](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, "Kubernetes request path \"" + std::string(path) + "\" " + why);
  };
  if (path.empty() || path.front() != '/') return bad("does not start with '/'");
  if (path.size() > 4096) return bad("is longer than 4096 bytes");
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view raw = path.substr(start, end - start);
    if (raw.empty() && !(end == path.size() && path.size() == 1)) return bad("has an empty segment");
    std::string decoded;
    for (size_t i = 0; i < raw.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(raw[i]);
      if (c == '?' || c == '#') return bad("may not contain '?' or '#': give query parameters in KubeRequest::query");
      if (c <= 0x20 || c >= 0x7f) return bad("may not contain spaces, control or non-ASCII characters (percent-encode them)");
      if (c == '%') {
        int h = i + 1 < raw.size() ? hex(raw[i + 1]) : -1;
        int l = i + 2 < raw.size() ? hex(raw[i + 2]) : -1;
        if (h < 0 || l < 0) return bad("has a malformed percent escape");
        c = static_cast<unsigned char>(h * 16 + l);
        if (c == '/' || c < 0x20 || c == 0x7f) return bad("may not encode '/' or control characters");
        i += 2;
      }
      decoded.push_back(static_cast<char>(c));
    }
    if (decoded == "." || decoded == "..") return bad("may not have a \".\" or \"..\" segment");
    start = end + 1;
  }
  return Status();
}

/// A call to any part of the API, for resources without a typed method
/// (ConfigMaps, CRDs such as Calico's IPPools, a DaemonSet's env). The client
/// adds the server, authentication, retries, the rate limit and the caps.
struct KubeRequest {
  std::string method = "GET";  // GET POST PUT PATCH DELETE
  /// From ResourcePath (or another API path such as "/version"); checked by
  /// CheckRequestPath.
  std::string path;
  /// Percent-encoded by the client, in this order: {"labelSelector", "app=x"};
  /// pairs with an empty value are left out.
  std::vector<std::pair<std::string, std::string>> query;
  /// Sent as JSON when not null (POST, PUT, PATCH; DeleteOptions on DELETE).
  nlohmann::json body;
  /// Empty: application/json. Patches: PatchContentType(type).
  std::string content_type;
  /// False: a 429 is returned at once (kTooManyRequests) instead of retried,
  /// as for an eviction a PodDisruptionBudget refuses.
  bool retry_too_many_requests = true;

  static KubeRequest Get(std::string path) { return KubeRequest{"GET", std::move(path)}; }
  static KubeRequest Post(std::string path, nlohmann::json body) {
    return KubeRequest{"POST", std::move(path), {}, std::move(body)};
  }
  static KubeRequest Put(std::string path, nlohmann::json body) {
    return KubeRequest{"PUT", std::move(path), {}, std::move(body)};
  }
  static KubeRequest Patch(std::string path, nlohmann::json patch, PatchType type) {
    return KubeRequest{"PATCH", std::move(path), {}, std::move(patch), PatchContentType(type)};
  }
  static KubeRequest Delete(std::string path, nlohmann::json delete_options = nullptr) {
    return KubeRequest{"DELETE", std::move(path), {}, std::move(delete_options)};
  }
};

/// True for the methods that only read (GET); what a plan may send.
inline bool IsReadOnlyMethod(std::string_view method) { return method == "GET"; }

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
  /// Any other collection, from ResourcePath without a name
  /// ("/apis/crd.projectcalico.org/v1/ippools"); when set, resource and ns
  /// are ignored.
  std::string path;
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

  /// Any API call (see KubeRequest): the decoded JSON answer ({} for an
  /// empty one), with the same retries, rate limit, caps and errors as the
  /// typed calls below. kInvalidArgument, before anything is sent, for a path
  /// CheckRequestPath refuses or a method outside GET POST PUT PATCH DELETE.
  /// Build paths with ResourcePath.
  virtual KubeResult<nlohmann::json> Request(const KubeRequest& request) = 0;

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
