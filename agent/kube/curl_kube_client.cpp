#include "kube/curl_kube_client.h"

#include "http/curl_global.h"

#include <curl/curl.h>

#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>
#include <vector>

#include "kube/exec_credential.h"
#include "kube/token_bucket.h"

namespace nodeagent::kube {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

std::string PercentEncode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string Seg(const std::string& s) { return PercentEncode(s); }

std::string TrimWs(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

void AddQuery(std::string& q, const std::string& key, const std::string& value) {
  if (value.empty()) return;
  q += q.empty() ? "" : "&";
  q += key + "=" + PercentEncode(value);
}

std::string ListQuery(const ListOptions& o) {
  std::string q;
  AddQuery(q, "labelSelector", o.label_selector);
  AddQuery(q, "fieldSelector", o.field_selector);
  if (o.limit > 0) AddQuery(q, "limit", std::to_string(o.limit));
  AddQuery(q, "continue", o.continue_token);
  AddQuery(q, "resourceVersion", o.resource_version);
  return q;
}

const char* PatchContentType(PatchType t) {
  switch (t) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kStrategicMerge: return "application/strategic-merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
  }
  return "application/merge-patch+json";
}

json DeleteOptionsJson(const DeleteOptions& o, const char* api_version) {
  json d = {{"apiVersion", api_version}, {"kind", "DeleteOptions"}};
  if (o.grace_period_seconds) d["gracePeriodSeconds"] = *o.grace_period_seconds;
  if (!o.precondition_uid.empty()) d["preconditions"]["uid"] = o.precondition_uid;
  if (!o.precondition_resource_version.empty())
    d["preconditions"]["resourceVersion"] = o.precondition_resource_version;
  return d;
}

std::string Seconds1(milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

// Transport errors that retrying cannot fix (bad TLS material, bad URL).
bool IsPermanentCurlError(CURLcode c) {
  switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_NOT_BUILT_IN:
    case CURLE_FILESIZE_EXCEEDED:  // our response cap: the same answer would be as large again
      return true;
    default:
      return false;
  }
}

// Parsed server URL: scheme://host:port/base.
struct ServerUrl {
  std::string scheme, host, port, base;
};

Result<ServerUrl> SplitServer(const std::string& server, const std::string& source) {
  ServerUrl u;
  size_t p = server.find("://");
  if (p == std::string::npos) return InvalidArgument(source + ": server \"" + server + "\" is not a URL");
  u.scheme = server.substr(0, p);
  std::string rest = server.substr(p + 3);
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) u.base = rest.substr(slash);
  while (!u.base.empty() && u.base.back() == '/') u.base.pop_back();
  size_t colon = hostport.rfind(':');
  if (colon != std::string::npos && hostport.find(']', colon) == std::string::npos) {
    u.host = hostport.substr(0, colon);
    u.port = hostport.substr(colon + 1);
  } else {
    u.host = hostport;
    u.port = u.scheme == "https" ? "443" : "80";
  }
  if (u.host.empty()) return InvalidArgument(source + ": server \"" + server + "\" has no host");
  return u;
}

struct Request {
  std::string method = "GET";
  std::string path;  // "/api/v1/nodes/n1"
  std::string query;
  std::string body;
  std::string content_type = "application/json";
  bool retry_429 = true;
};

// What one HTTP attempt produced.
struct Response {
  int status = 0;  // 0: no HTTP response
  CURLcode curl_code = CURLE_OK;
  std::string curl_error;
  std::string body;
  std::optional<std::chrono::seconds> retry_after;
  size_t max_body = 0;       // CollectBody stops past this
  bool body_too_large = false;
};

/// Error bodies (Status objects, proxies' HTML pages) are kept up to this.
constexpr size_t kMaxErrorBodyBytes = 64 * 1024;

// Credentials used for one attempt (secrets: never logged).
struct Credentials {
  std::string bearer;
  std::string cert_pem;
  std::string key_pem;
};

// Streaming state of a watch request.
struct WatchSink {
  const WatchCallback* callback = nullptr;
  std::string* resource_version = nullptr;
  std::string buffer;
  size_t max_event = 0;  // a line (event) longer than this ends the stream
  std::string error_body;
  bool gone = false;
  bool callback_stopped = false;
  bool stream_error = false;
  std::string stream_error_message;
  int events = 0;
  CURL* handle = nullptr;
};

class CurlKubeClient final : public KubeClient {
 public:
  CurlKubeClient(KubeConfig config, ServerUrl url, KubeOptions options, CommandRunner& runner,
                 FileSystem& files, Clock& clock, KubeLogger logger)
      : config_(std::move(config)),
        url_(std::move(url)),
        options_(std::move(options)),
        files_(files),
        clock_(clock),
        logger_(std::move(logger)),
        limiter_(options_.qps, options_.burst, clock),
        rng_(std::random_device{}()) {
    if (config_.exec)
      exec_.emplace(*config_.exec, config_.server, config_.ca_pem, runner, clock);
    if (!config_.tls_server_name.empty()) {
      // Connect to the server's address but speak TLS (SNI, verification) to
      // tls-server-name.
      connect_to_ = config_.tls_server_name + ":" + url_.port + ":" + url_.host + ":" + url_.port;
      url_.host = config_.tls_server_name;
    }
  }

  ~CurlKubeClient() override {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }

  KubeResult<json> GetVersion() override { return Call({"GET", "/version"}); }

  KubeResult<json> GetNode(const std::string& name) override {
    return Call({"GET", "/api/v1/nodes/" + Seg(name)});
  }
  KubeResult<json> ListNodes(const ListOptions& o) override {
    return Call({"GET", "/api/v1/nodes", ListQuery(o)});
  }
  KubeResult<json> PatchNode(const std::string& name, const json& patch, PatchType type) override {
    return Call({"PATCH", "/api/v1/nodes/" + Seg(name), "", patch.dump(), PatchContentType(type)});
  }

  KubeResult<json> ListPods(const std::string& ns, const ListOptions& o) override {
    return Call({"GET", ns.empty() ? "/api/v1/pods" : "/api/v1/namespaces/" + Seg(ns) + "/pods", ListQuery(o)});
  }
  KubeResult<json> GetPod(const std::string& ns, const std::string& name) override {
    return Call({"GET", PodPath(ns, name)});
  }
  KubeResult<json> DeletePod(const std::string& ns, const std::string& name, const DeleteOptions& o) override {
    return Call({"DELETE", PodPath(ns, name), "", DeleteOptionsJson(o, "v1").dump()});
  }
  KubeResult<json> EvictPod(const std::string& ns, const std::string& name, const DeleteOptions& o) override {
    json eviction = {{"apiVersion", "policy/v1"},
                     {"kind", "Eviction"},
                     {"metadata", {{"name", name}, {"namespace", ns}}},
                     {"deleteOptions", DeleteOptionsJson(o, "meta.k8s.io/v1")}};
    Request r{"POST", PodPath(ns, name) + "/eviction", "", eviction.dump()};
    r.retry_429 = false;  // a PDB says "not now": the caller decides when to ask again
    return Call(r);
  }

  KubeStatus Watch(const WatchRequest& request, const WatchCallback& callback,
                   const std::atomic<bool>* stop) override;

  KubeResult<json> GetLease(const std::string& ns, const std::string& name) override {
    return Call({"GET", LeasePath(ns) + "/" + Seg(name)});
  }
  KubeResult<json> CreateLease(const std::string& ns, const json& lease) override {
    json l = lease;
    l["apiVersion"] = "coordination.k8s.io/v1";
    l["kind"] = "Lease";
    return Call({"POST", LeasePath(ns), "", l.dump()});
  }
  KubeResult<json> UpdateLease(const std::string& ns, const json& lease) override {
    std::string name = lease.value("/metadata/name"_json_pointer, "");
    if (name.empty()) return Error(InvalidArgument("UpdateLease: lease has no metadata.name"));
    if (lease.value("/metadata/resourceVersion"_json_pointer, "").empty())
      return Error(InvalidArgument("UpdateLease " + ns + "/" + name +
                                   ": metadata.resourceVersion is required (read the lease first)"));
    json l = lease;
    l["apiVersion"] = "coordination.k8s.io/v1";
    l["kind"] = "Lease";
    return Call({"PUT", LeasePath(ns) + "/" + Seg(name), "", l.dump()});
  }
  KubeResult<json> DeleteLease(const std::string& ns, const std::string& name,
                               const std::string& resource_version) override {
    DeleteOptions o;
    o.precondition_resource_version = resource_version;
    return Call({"DELETE", LeasePath(ns) + "/" + Seg(name), "", DeleteOptionsJson(o, "v1").dump()});
  }

  KubeResult<json> CreateEvent(const EventSpec& e) override {
    auto now = clock_.Now();
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
    return Call({"POST", "/api/v1/namespaces/" + Seg(e.ns) + "/events", "", ev.dump()});
  }

  KubeResult<json> GetDaemonSet(const std::string& ns, const std::string& name) override {
    return Call({"GET", "/apis/apps/v1/namespaces/" + Seg(ns) + "/daemonsets/" + Seg(name)});
  }
  KubeResult<json> PatchDaemonSet(const std::string& ns, const std::string& name, const json& patch,
                                  PatchType type) override {
    return Call({"PATCH", "/apis/apps/v1/namespaces/" + Seg(ns) + "/daemonsets/" + Seg(name), "", patch.dump(),
                 PatchContentType(type)});
  }

  KubeResult<json> ListPodDisruptionBudgets(const std::string& ns) override {
    return Call({"GET", ns.empty() ? "/apis/policy/v1/poddisruptionbudgets"
                                   : "/apis/policy/v1/namespaces/" + Seg(ns) + "/poddisruptionbudgets"});
  }

  KubeResult<AccessDecision> CheckAccess(const ResourceAttributes& a) override {
    json attrs = {{"verb", a.verb}, {"resource", a.resource}};
    if (!a.group.empty()) attrs["group"] = a.group;
    if (!a.subresource.empty()) attrs["subresource"] = a.subresource;
    if (!a.ns.empty()) attrs["namespace"] = a.ns;
    if (!a.name.empty()) attrs["name"] = a.name;
    json review = {{"apiVersion", "authorization.k8s.io/v1"},
                   {"kind", "SelfSubjectAccessReview"},
                   {"spec", {{"resourceAttributes", attrs}}}};
    auto r = Call({"POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "", review.dump()});
    if (!r) return KubeResult<AccessDecision>(r.error(), r.detail());
    AccessDecision d;
    d.allowed = r->value("/status/allowed"_json_pointer, false);
    d.reason = r->value("/status/reason"_json_pointer, "");
    if (d.reason.empty()) d.reason = r->value("/status/evaluationError"_json_pointer, "");
    return d;
  }

 private:
  static std::string PodPath(const std::string& ns, const std::string& name) {
    return "/api/v1/namespaces/" + Seg(ns) + "/pods/" + Seg(name);
  }
  static std::string LeasePath(const std::string& ns) {
    return "/apis/coordination.k8s.io/v1/namespaces/" + Seg(ns) + "/leases";
  }

  std::string Url(const Request& r) const {
    std::string u = url_.scheme + "://" + url_.host + ":" + url_.port + url_.base + r.path;
    if (!r.query.empty()) u += "?" + r.query;
    return u;
  }
  // For messages: the URL as the kubeconfig names the server.
  std::string Describe(const Request& r) const {
    std::string u = config_.server + r.path;
    if (!r.query.empty()) u += "?" + r.query;
    return r.method + " " + u;
  }

  void Log(LogLevel level, const std::string& m) const {
    if (logger_) logger_(level, m);
  }

  Result<Credentials> CurrentCredentials() {
    Credentials c;
    c.cert_pem = config_.client_cert_pem;
    c.key_pem = config_.client_key_pem;
    if (!config_.token.empty()) {
      c.bearer = config_.token;
    } else if (!config_.token_file.empty()) {
      // Re-read every time: rotated (projected) tokens take effect at once.
      auto t = files_.ReadFile(config_.token_file);
      if (!t) return Error(t.error().code(), config_.source + ": tokenFile " + config_.token_file +
                                                 " not readable: " + t.error().message());
      c.bearer = TrimWs(*t);
    }
    if (exec_) {
      auto e = exec_->Get();
      if (!e) return e.error().Wrap(config_.source);
      if (!e->token.empty()) c.bearer = e->token;
      if (!e->client_cert_pem.empty()) {
        c.cert_pem = e->client_cert_pem;
        c.key_pem = e->client_key_pem;
      }
    }
    return c;
  }

  CURL* TakeHandle() {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  void ReturnHandle(CURL* h) {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (idle_.size() < 4) {
      idle_.push_back(h);
    } else {
      curl_easy_cleanup(h);
    }
  }

  // Progress/abort hook: stop flag and deadline of a watch.
  struct AbortCheck {
    const std::atomic<bool>* stop = nullptr;
    std::optional<std::chrono::steady_clock::time_point> deadline;
    Clock* clock = nullptr;
    bool fired = false;
  };

  static size_t CollectBody(char* data, size_t size, size_t n, void* user) {
    auto* r = static_cast<Response*>(user);
    if (r->body.size() + size * n > r->max_body) {
      r->body_too_large = true;
      return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
    r->body.append(data, size * n);
    return size * n;
  }
  static size_t CollectHeader(char* data, size_t size, size_t n, void* user) {
    std::string line(data, size * n);
    auto* r = static_cast<Response*>(user);
    if (line.rfind("HTTP/", 0) == 0) r->retry_after.reset();  // a new response (after 100-continue)
    static const std::string key = "retry-after:";
    if (line.size() > key.size()) {
      std::string head = line.substr(0, key.size());
      for (char& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (head == key) r->retry_after = ParseRetryAfter(line.substr(key.size()));
    }
    return size * n;
  }
  static int Progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* a = static_cast<AbortCheck*>(user);
    if ((a->stop && a->stop->load()) || (a->deadline && a->clock->Monotonic() >= *a->deadline)) {
      a->fired = true;
      return 1;
    }
    return 0;
  }

  // One HTTP exchange. With `sink`, the body streams into the watch parser.
  Response Perform(const Request& req, const Credentials& creds, WatchSink* sink, AbortCheck* abort,
                   milliseconds timeout) {
    Response resp;
    CURL* h = TakeHandle();
    if (!h) {
      resp.curl_code = CURLE_FAILED_INIT;
      resp.curl_error = "cannot create a curl handle";
      return resp;
    }
    curl_easy_reset(h);
    char errbuf[CURL_ERROR_SIZE] = {0};
    std::string url = Url(req);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_slist* connect_to = nullptr;
    if (!connect_to_.empty()) {
      connect_to = curl_slist_append(connect_to, connect_to_.c_str());
      curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to);
    }
    if (req.method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Accept: application/json");
    headers = curl_slist_append(headers, "Expect:");
    if (req.method != "GET") headers = curl_slist_append(headers, ("Content-Type: " + req.content_type).c_str());
    std::string auth;
    if (!creds.bearer.empty()) {
      auth = "Authorization: Bearer " + creds.bearer;
      headers = curl_slist_append(headers, auth.c_str());
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

    if (config_.insecure_skip_tls_verify) {
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
      if (!config_.ca_pem.empty()) {
        curl_blob ca{const_cast<char*>(config_.ca_pem.data()), config_.ca_pem.size(), CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
      }
    }
    if (!creds.cert_pem.empty()) {
      curl_blob cert{const_cast<char*>(creds.cert_pem.data()), creds.cert_pem.size(), CURL_BLOB_COPY};
      curl_blob key{const_cast<char*>(creds.key_pem.data()), creds.key_pem.size(), CURL_BLOB_COPY};
      curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
      curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
      curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
      curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &CollectHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp);
    if (sink) {
      sink->handle = h;
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &StreamWatch);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
    } else {
      resp.max_body = options_.max_response_bytes;
      curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(resp.max_body));  // by Content-Length
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &CollectBody);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    }
    if (abort) {
      curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &Progress);
      curl_easy_setopt(h, CURLOPT_XFERINFODATA, abort);
    }
    CURLcode code = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (resp.body_too_large) code = CURLE_FILESIZE_EXCEEDED;
    resp.curl_code = code;
    if (code == CURLE_FILESIZE_EXCEEDED) {
      resp.body.clear();
      resp.curl_error = "the response is larger than " + std::to_string(options_.max_response_bytes >> 20) +
                        " MiB (the client's limit); not read";
    } else if (code != CURLE_OK) {
      resp.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(code);
      while (!resp.curl_error.empty() && resp.curl_error.back() == '\n') resp.curl_error.pop_back();
    }
    resp.status = code == CURLE_OK || (sink && status > 0) ? static_cast<int>(status) : 0;
    if (sink && resp.status != 200) resp.body = sink->error_body;
    curl_slist_free_all(headers);
    curl_slist_free_all(connect_to);
    // Reset so no blob or header pointer outlives this call, but keep the
    // handle (and its connection cache) for the next request.
    curl_easy_reset(h);
    ReturnHandle(h);
    return resp;
  }

  static size_t StreamWatch(char* data, size_t size, size_t n, void* user) {
    auto* s = static_cast<WatchSink*>(user);
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(s->handle, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
      s->error_body.append(data, std::min(len, kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, s->error_body.size())));
      return len;
    }
    s->buffer.append(data, len);
    size_t start = 0;
    for (;;) {
      size_t nl = s->buffer.find('\n', start);
      if (nl == std::string::npos) break;
      std::string line = s->buffer.substr(start, nl - start);
      start = nl + 1;
      if (TrimWs(line).empty()) continue;
      if (!HandleWatchLine(*s, line)) {
        s->buffer.erase(0, start);
        return 0;  // abort the transfer
      }
    }
    s->buffer.erase(0, start);
    if (s->buffer.size() > s->max_event) {  // an event this long is not one we could use
      s->stream_error = true;
      s->stream_error_message = "watch event larger than " + std::to_string(s->max_event >> 20) +
                                " MiB (the client's limit)";
      s->buffer.clear();
      return 0;
    }
    return len;
  }

  // One line of a watch stream. False stops the stream.
  static bool HandleWatchLine(WatchSink& s, const std::string& line) {
    json ev = json::parse(line, nullptr, false);
    if (ev.is_discarded() || !ev.is_object() || !ev.contains("type")) {
      s.stream_error = true;
      s.stream_error_message = "malformed watch event";
      return false;
    }
    std::string type = ev.value("type", "");
    json object = ev.contains("object") ? ev["object"] : json::object();
    if (type == "ERROR") {
      if (object.value("code", 0) == 410) {
        s.gone = true;
      } else {
        s.stream_error = true;
        s.stream_error_message = "watch error: " + object.value("message", object.dump());
      }
      return false;
    }
    WatchEvent we;
    if (type == "ADDED") we.type = WatchEventType::kAdded;
    else if (type == "MODIFIED") we.type = WatchEventType::kModified;
    else if (type == "DELETED") we.type = WatchEventType::kDeleted;
    else if (type == "BOOKMARK") we.type = WatchEventType::kBookmark;
    else return true;  // unknown types are skipped
    std::string rv = object.value("/metadata/resourceVersion"_json_pointer, "");
    if (!rv.empty()) *s.resource_version = rv;
    ++s.events;
    we.object = std::move(object);
    if (!(*s.callback)(we)) {
      s.callback_stopped = true;
      return false;
    }
    return true;
  }

  bool RunCancelled() const {
    return options_.cancelled && std::atomic_ref<const bool>(*options_.cancelled).load();
  }

  // Sleeps `d` on the clock, waking for `stop` or the run's cancellation
  // (checked every 100 ms).
  bool SleepUnlessStopped(milliseconds d, const std::atomic<bool>* stop) {
    while (d.count() > 0) {
      if (stop && stop->load()) return false;
      milliseconds slice = std::min(d, milliseconds(100));
      if (!clock_.SleepFor(slice, options_.cancelled)) return false;
      d -= slice;
    }
    return !(stop && stop->load()) && !RunCancelled();
  }

  KubeResult<json> CancelledRetry(const Request& req, const std::string& last, const KubeErrorDetail& detail,
                                  int attempt) {
    return KubeResult<json>(Error(ErrorCode::kCancelled, Describe(req) + ": " + last + "; not retried: the run was "
                                                             "cancelled (after " + std::to_string(attempt) +
                                                             (attempt == 1 ? " attempt)" : " attempts)")),
                            detail);
  }

  double Jitter() {
    std::lock_guard<std::mutex> lock(rng_mu_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  }

  std::string LastErrorText(const Response& r) const {
    if (r.status == 0) return r.curl_error;
    std::string t = std::to_string(r.status);
    if (const char* p = HttpReasonPhrase(r.status); *p) t += std::string(" ") + p;
    return t;
  }

  // A request with retries, rate limit and error mapping; parses the JSON body.
  KubeResult<json> Call(const Request& req) {
    auto start = clock_.Monotonic();
    bool reauthed = false;
    for (int attempt = 1;; ++attempt) {
      limiter_.Acquire();
      auto creds = CurrentCredentials();
      if (!creds) return KubeResult<json>(creds.error(), KubeErrorDetail{0, "", "", std::nullopt, attempt - 1});
      Response r = Perform(req, *creds, nullptr, nullptr, options_.request_timeout);
      if (r.status >= 200 && r.status < 300) {
        if (TrimWs(r.body).empty()) return json::object();
        json j = json::parse(r.body, nullptr, false);
        if (j.is_discarded())
          return KubeResult<json>(Error(ErrorCode::kInternal, Describe(req) + ": response is not JSON"),
                                  KubeErrorDetail{r.status, "", "", std::nullopt, attempt});
        return j;
      }
      if (r.status == 401 && exec_ && !reauthed) {
        // The plugin's credential may have been revoked early: fetch a new one.
        exec_->Invalidate();
        reauthed = true;
        Log(LogLevel::kInfo, Describe(req) + ": 401 Unauthorized; running the exec credential plugin again");
        continue;
      }
      bool retryable = r.status == 0 ? !IsPermanentCurlError(r.curl_code)
                                     : IsRetryableStatus(r.status) && (r.status != 429 || req.retry_429);
      KubeStatus mapped = r.status == 0
                              ? KubeStatus(Error(ErrorCode::kUnavailable, Describe(req) + ": " + r.curl_error),
                                           KubeErrorDetail{})
                              : ErrorFromResponse(Describe(req), r.status, r.body, r.retry_after);
      KubeErrorDetail detail = mapped.detail();
      detail.attempts = attempt;
      if (!retryable) return KubeResult<json>(mapped.error(), detail);
      if (RunCancelled()) return CancelledRetry(req, LastErrorText(r), detail, attempt);
      milliseconds delay = r.retry_after ? std::chrono::duration_cast<milliseconds>(*r.retry_after)
                                         : BackoffDelay(options_.retry, attempt, Jitter());
      auto elapsed = std::chrono::duration_cast<milliseconds>(clock_.Monotonic() - start);
      if (attempt >= options_.retry.max_attempts || elapsed + delay > options_.retry.max_total) {
        std::string last = LastErrorText(r);
        if (!detail.status_message.empty()) last += ": " + detail.status_message;
        ErrorCode code = r.status == 429 ? ErrorCode::kTooManyRequests : ErrorCode::kUnavailable;
        return KubeResult<json>(Error(code, Describe(req) + ": giving up after " + std::to_string(attempt) +
                                                (attempt == 1 ? " attempt" : " attempts") + " over " +
                                                Seconds1(elapsed) + ": last error " + last),
                                detail);
      }
      Log(LogLevel::kWarning, Describe(req) + ": " + LastErrorText(r) + "; retry " + std::to_string(attempt) +
                                  "/" + std::to_string(options_.retry.max_attempts - 1) + " in " +
                                  std::to_string(delay.count()) + "ms");
      if (!clock_.SleepFor(delay, options_.cancelled) || RunCancelled())
        return CancelledRetry(req, LastErrorText(r), detail, attempt);
    }
  }

  KubeConfig config_;
  ServerUrl url_;
  KubeOptions options_;
  FileSystem& files_;
  Clock& clock_;
  KubeLogger logger_;
  TokenBucket limiter_;
  std::optional<ExecCredentialProvider> exec_;
  std::string connect_to_;
  std::mutex pool_mu_;
  std::vector<CURL*> idle_;
  std::mutex rng_mu_;
  std::minstd_rand rng_;
};

KubeStatus CurlKubeClient::Watch(const WatchRequest& request, const WatchCallback& callback,
                                 const std::atomic<bool>* stop) {
  std::string collection;
  if (request.resource == WatchResource::kNodes) {
    collection = "/api/v1/nodes";
  } else {
    collection = request.ns.empty() ? "/api/v1/pods" : "/api/v1/namespaces/" + Seg(request.ns) + "/pods";
  }
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (request.duration.count() > 0) deadline = clock_.Monotonic() + request.duration;
  auto done = [&] { return (stop && stop->load()) || (deadline && clock_.Monotonic() >= *deadline); };
  std::string rv = request.resource_version;
  int failures = 0;
  auto failing_since = clock_.Monotonic();
  while (!done()) {
    if (rv.empty()) {
      // (Re)list: one event with the whole current state.
      ListOptions lo;
      lo.label_selector = request.label_selector;
      lo.field_selector = request.field_selector;
      lo.limit = 500;
      json all = {{"items", json::array()}};
      for (;;) {
        auto page = Call({"GET", collection, ListQuery(lo)});
        if (!page) return KubeStatus(page.error().Wrap("watch: listing"), page.detail());
        for (auto& item : (*page)["items"]) all["items"].push_back(std::move(item));
        all["apiVersion"] = page->value("apiVersion", "v1");
        all["kind"] = page->value("kind", "List");
        all["metadata"]["resourceVersion"] = page->value("/metadata/resourceVersion"_json_pointer, "");
        lo.continue_token = page->value("/metadata/continue"_json_pointer, "");
        if (lo.continue_token.empty()) break;
      }
      rv = all["metadata"]["resourceVersion"].get<std::string>();
      if (!callback(WatchEvent{WatchEventType::kRelisted, std::move(all)})) return KubeStatus();
      if (done()) break;
    }
    Request req{"GET", collection};
    std::string q = "watch=1&allowWatchBookmarks=true";
    AddQuery(q, "resourceVersion", rv);
    AddQuery(q, "labelSelector", request.label_selector);
    AddQuery(q, "fieldSelector", request.field_selector);
    auto window = options_.watch_reconnect;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::seconds>(*deadline - clock_.Monotonic()) +
                  std::chrono::seconds(1);
      window = std::min(window, left);
    }
    AddQuery(q, "timeoutSeconds", std::to_string(std::max<int64_t>(1, window.count())));
    req.query = q;

    limiter_.Acquire();
    auto creds = CurrentCredentials();
    if (!creds) return KubeStatus(creds.error());
    WatchSink sink;
    sink.max_event = options_.max_watch_event_bytes;
    sink.callback = &callback;
    sink.resource_version = &rv;
    AbortCheck abort{stop, deadline, &clock_};
    Response r = Perform(req, *creds, &sink, &abort, std::chrono::duration_cast<milliseconds>(window) + milliseconds(30'000));
    if (sink.callback_stopped || abort.fired) return KubeStatus();
    if (sink.events > 0) {
      failures = 0;
      failing_since = clock_.Monotonic();
    }
    if (sink.gone || r.status == 410) {
      Log(LogLevel::kInfo, Describe(req) + ": resourceVersion " + rv + " is too old (410 Gone); relisting");
      rv.clear();
      continue;
    }
    if (sink.stream_error) {
      Log(LogLevel::kWarning, Describe(req) + ": " + sink.stream_error_message + "; reconnecting");
    } else if (r.status == 200 && (r.curl_code == CURLE_OK || r.curl_code == CURLE_PARTIAL_FILE)) {
      failures = 0;  // the server closed the window: reconnect from rv
      failing_since = clock_.Monotonic();
      continue;
    }
    bool retryable = r.status == 0 || r.status == 200 ? !IsPermanentCurlError(r.curl_code) : IsRetryableStatus(r.status);
    if (r.status == 401 && exec_ && failures == 0) {
      exec_->Invalidate();
      retryable = true;
    }
    if (!retryable) {
      KubeStatus mapped = ErrorFromResponse(Describe(req), r.status, r.body, r.retry_after);
      if (r.status == 0) return KubeStatus(Error(ErrorCode::kUnavailable, Describe(req) + ": " + r.curl_error));
      return mapped;
    }
    ++failures;
    auto elapsed = std::chrono::duration_cast<milliseconds>(clock_.Monotonic() - failing_since);
    milliseconds delay = r.retry_after ? std::chrono::duration_cast<milliseconds>(*r.retry_after)
                                       : BackoffDelay(options_.retry, failures, Jitter());
    if (failures >= options_.retry.max_attempts || elapsed + delay > options_.retry.max_total) {
      KubeErrorDetail d;
      d.http_status = r.status;
      d.attempts = failures;
      std::string last = sink.stream_error ? sink.stream_error_message : LastErrorText(r);
      return KubeStatus(Error(ErrorCode::kUnavailable, Describe(req) + ": giving up after " + std::to_string(failures) +
                                                           " attempts over " + Seconds1(elapsed) + ": last error " + last),
                        d);
    }
    Log(LogLevel::kWarning, Describe(req) + ": " + (sink.stream_error ? sink.stream_error_message : LastErrorText(r)) +
                                "; reconnecting in " + std::to_string(delay.count()) + "ms");
    if (!SleepUnlessStopped(delay, stop)) break;
  }
  return KubeStatus();
}

}  // namespace

std::string FormatRfc3339(std::chrono::system_clock::time_point t) {
  time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<KubeConfig> LoadAgentKubeconfig(const std::string& configured, const std::string& context,
                                       const EnvLookup& env, const FileSystem& files) {
  std::string path = ResolveKubeconfigPath(configured, env);
  bool defaulted = configured.empty() && path == kDefaultKubeconfig;
  if (defaulted && !files.Exists(path) && InClusterAvailable(env, files)) return LoadInClusterConfig(env, files);
  auto c = LoadKubeconfig(path, context, files);
  if (!c && defaulted && c.error().code() == ErrorCode::kNotFound)
    return Error(ErrorCode::kNotFound, c.error().message() +
                                           " (set [kubernetes] kubeconfig or KUBECONFIG, or run in a pod)");
  return c;
}

Result<std::unique_ptr<KubeClient>> MakeKubeClientFromConfig(KubeConfig config, const KubeOptions& options,
                                                             CommandRunner& runner, FileSystem& files,
                                                             Clock& clock, KubeLogger logger) {
  EnsureCurlGlobalInit();
  auto url = SplitServer(config.server, config.source);
  if (!url) return url.error();
  if (url->scheme != "https" && url->scheme != "http")
    return InvalidArgument(config.source + ": server \"" + config.server + "\": only http and https are supported");
  if (config.insecure_skip_tls_verify && logger)
    logger(LogLevel::kWarning, config.source + ": cluster " + config.server +
                                   " has insecure-skip-tls-verify: the API server's certificate is NOT verified");
  if (url->scheme == "http" && logger)
    logger(LogLevel::kWarning, config.source + ": server " + config.server + " uses plain http: no TLS at all");
  return std::unique_ptr<KubeClient>(
      new CurlKubeClient(std::move(config), std::move(*url), options, runner, files, clock, std::move(logger)));
}

Result<std::unique_ptr<KubeClient>> MakeKubeClient(const KubeOptions& options, CommandRunner& runner,
                                                   FileSystem& files, Clock& clock, KubeLogger logger) {
  auto config = LoadKubeconfig(options.kubeconfig, options.context, files);
  if (!config) return config.error();
  return MakeKubeClientFromConfig(std::move(*config), options, runner, files, clock, std::move(logger));
}

}  // namespace nodeagent::kube
