#include "kube/retrying_requester.h"

#include <cctype>

#include "kube/retry_policy.h"

namespace nodeagent::kube {

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

bool IsBlank(const std::string& s) {
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  return true;
}

bool IsSupportedMethod(const std::string& m) {
  return m == "GET" || m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE";
}

// Not worth another attempt: the same request would fail the same way.
bool IsPermanent(curl::TransferFailure f) {
  return f == curl::TransferFailure::kPermanent || f == curl::TransferFailure::kTooLarge;
}

std::optional<std::chrono::seconds> RetryAfterOf(const curl::ExchangeResult& r) {
  if (r.retry_after.empty()) return std::nullopt;
  return ParseRetryAfter(r.retry_after);
}

}  // namespace

std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  std::string q;
  for (const auto& [key, value] : query) {
    if (value.empty()) continue;
    q += q.empty() ? "" : "&";
    q += PercentEncode(key) + "=" + PercentEncode(value);
  }
  return q;
}

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

RetryingRequester::RetryingRequester(const KubeConfig& config, ServerUrl url, const KubeOptions& options,
                                     CommandRunner& runner, FileSystem& files, Clock& clock, KubeLogger logger)
    : config_(config),
      url_(std::move(url)),
      options_(options),
      clock_(clock),
      logger_(std::move(logger)),
      limiter_(options_.qps, options_.burst, clock),
      credentials_(config, runner, files, clock),
      rng_(std::random_device{}()) {
  if (!config_.tls_server_name.empty()) {
    // Connect to the server's address but speak TLS (SNI, verification) to
    // tls-server-name.
    connect_to_ = config_.tls_server_name + ":" + url_.port + ":" + url_.host + ":" + url_.port;
    url_.host = config_.tls_server_name;
  }
}

std::string RetryingRequester::Url(const std::string& path, const std::string& query) const {
  std::string u = url_.scheme + "://" + url_.host + ":" + url_.port + url_.base + path;
  if (!query.empty()) u += "?" + query;
  return u;
}

std::string RetryingRequester::Describe(const KubeRequest& r) const {
  std::string u = config_.server + r.path;  // the URL as the kubeconfig names the server
  std::string q = EncodeQuery(r.query);
  if (!q.empty()) u += "?" + q;
  return r.method + " " + u;
}

void RetryingRequester::Log(LogLevel level, const std::string& m) const {
  if (logger_) logger_(level, m);
}

bool RetryingRequester::RunCancelled() const {
  return options_.cancelled && std::atomic_ref<const bool>(*options_.cancelled).load();
}

double RetryingRequester::Jitter() {
  std::lock_guard<std::mutex> lock(rng_mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

milliseconds RetryingRequester::RetryDelay(int retry, const std::optional<std::chrono::seconds>& retry_after) {
  if (retry_after) return std::chrono::duration_cast<milliseconds>(*retry_after);
  return BackoffDelay(options_.retry, retry, Jitter());
}

bool RetryingRequester::SleepUnlessStopped(milliseconds d, const std::atomic<bool>* stop) {
  while (d.count() > 0) {
    if (stop && stop->load()) return false;
    milliseconds slice = std::min(d, milliseconds(100));
    if (!clock_.SleepFor(slice, options_.cancelled)) return false;
    d -= slice;
  }
  return !(stop && stop->load()) && !RunCancelled();
}

std::string RetryingRequester::FailureText(const curl::ExchangeResult& r) const {
  if (r.status == 0) {
    if (r.failure == curl::TransferFailure::kTooLarge)
      return "the response is larger than " + std::to_string(options_.max_response_bytes >> 20) +
             " MiB (the client's limit); not read";
    return r.error;
  }
  std::string t = std::to_string(r.status);
  if (const char* p = HttpReasonPhrase(r.status); *p) t += std::string(" ") + p;
  return t;
}

curl::Exchange RetryingRequester::MakeExchange(const KubeRequest& r, const Credentials& creds,
                                               milliseconds timeout) const {
  curl::Exchange x;
  x.method = r.method;
  x.url = Url(r.path, EncodeQuery(r.query));
  x.user_agent = options_.user_agent;
  x.connect_timeout = options_.connect_timeout;
  x.timeout = timeout;
  x.connect_to = connect_to_;
  x.tcp_keepalive = true;
  x.max_response_bytes = options_.max_response_bytes;
  x.headers.push_back("Accept: application/json");
  if (r.method != "GET") {
    x.body = r.body.is_null() ? std::string() : r.body.dump();
    x.headers.push_back("Content-Type: " + (r.content_type.empty() ? std::string("application/json") : r.content_type));
  }
  if (!creds.bearer.empty()) x.headers.push_back("Authorization: Bearer " + creds.bearer);
  x.tls.verify = !config_.insecure_skip_tls_verify;
  x.tls.ca_pem = config_.ca_pem;
  x.tls.client_cert_pem = creds.cert_pem;
  x.tls.client_key_pem = creds.key_pem;
  return x;
}

Result<curl::ExchangeResult> RetryingRequester::StreamOnce(const KubeRequest& request, curl::BodyStream& stream,
                                                           std::function<bool()> should_abort,
                                                           milliseconds timeout) {
  limiter_.Acquire();
  auto creds = credentials_.Current();
  if (!creds) return creds.error();
  curl::Exchange x = MakeExchange(request, *creds, timeout);
  x.stream = &stream;
  x.should_abort = std::move(should_abort);
  return transport_.Perform(x);
}

KubeResult<json> RetryingRequester::Call(const KubeRequest& req) {
  if (!IsSupportedMethod(req.method))
    return KubeResult<json>(InvalidArgument(Describe(req) + ": method not supported (GET POST PUT PATCH DELETE)"));
  if (Status path = CheckRequestPath(req.path); !path.ok()) return KubeResult<json>(path.error());
  auto start = clock_.Monotonic();
  bool reauthed = false;
  for (int attempt = 1;; ++attempt) {
    limiter_.Acquire();
    auto creds = credentials_.Current();
    if (!creds) return KubeResult<json>(creds.error(), KubeErrorDetail{0, "", "", std::nullopt, attempt - 1});
    curl::ExchangeResult r = transport_.Perform(MakeExchange(req, *creds, options_.request_timeout));
    if (r.status >= 200 && r.status < 300) {
      if (IsBlank(r.body)) return json::object();
      json j = json::parse(r.body, nullptr, false);
      if (j.is_discarded())
        return KubeResult<json>(Error(ErrorCode::kInternal, Describe(req) + ": response is not JSON"),
                                KubeErrorDetail{r.status, "", "", std::nullopt, attempt});
      return j;
    }
    if (r.status == 401 && credentials_.CanRefresh() && !reauthed) {
      // The plugin's credential may have been revoked early: fetch a new one.
      credentials_.Invalidate();
      reauthed = true;
      Log(LogLevel::kInfo, Describe(req) + ": 401 Unauthorized; running the exec credential plugin again");
      continue;
    }
    auto retry_after = RetryAfterOf(r);
    bool retryable = r.status == 0 ? !IsPermanent(r.failure)
                                   : IsRetryableStatus(r.status) && (r.status != 429 || req.retry_too_many_requests);
    KubeStatus mapped = r.status == 0
                            ? KubeStatus(Error(ErrorCode::kUnavailable, Describe(req) + ": " + FailureText(r)),
                                         KubeErrorDetail{})
                            : ErrorFromResponse(Describe(req), r.status, r.body, retry_after);
    KubeErrorDetail detail = mapped.detail();
    detail.attempts = attempt;
    if (!retryable) return KubeResult<json>(mapped.error(), detail);
    auto cancelled = [&] {
      return KubeResult<json>(Error(ErrorCode::kCancelled, Describe(req) + ": " + FailureText(r) +
                                                               "; not retried: the run was cancelled (after " +
                                                               std::to_string(attempt) +
                                                               (attempt == 1 ? " attempt)" : " attempts)")),
                              detail);
    };
    if (RunCancelled()) return cancelled();
    milliseconds delay = RetryDelay(attempt, retry_after);
    auto elapsed = std::chrono::duration_cast<milliseconds>(clock_.Monotonic() - start);
    if (attempt >= options_.retry.max_attempts || elapsed + delay > options_.retry.max_total) {
      std::string last = FailureText(r);
      if (!detail.status_message.empty()) last += ": " + detail.status_message;
      ErrorCode code = r.status == 429 ? ErrorCode::kTooManyRequests : ErrorCode::kUnavailable;
      return KubeResult<json>(Error(code, Describe(req) + ": giving up after " + std::to_string(attempt) +
                                              (attempt == 1 ? " attempt" : " attempts") + " over " +
                                              FormatSeconds1(elapsed) + ": last error " + last),
                              detail);
    }
    Log(LogLevel::kWarning, Describe(req) + ": " + FailureText(r) + "; retry " + std::to_string(attempt) + "/" +
                                std::to_string(options_.retry.max_attempts - 1) + " in " +
                                std::to_string(delay.count()) + "ms");
    if (!clock_.SleepFor(delay, options_.cancelled) || RunCancelled()) return cancelled();
  }
}

}  // namespace nodeagent::kube
