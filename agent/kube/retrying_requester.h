// One API call as the cluster should see it: against the kubeconfig's server
// (with tls-server-name), authenticated (CredentialSource), within the client
// rate limit (TokenBucket), over the shared libcurl transport, and retried
// after connection errors, 429 and 5xx within the retry budget (RetryPolicy),
// honouring Retry-After and the run's cancel flag. Answers become JSON or a
// KubeErrorDetail-carrying Error in one place. The watch loop uses the same
// pieces for its streams. Messages name method and URL, never credentials.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <random>
#include <string>

#include "http/curl_transport.h"
#include "kube/credential_source.h"
#include "kube/curl_kube_client.h"
#include "kube/token_bucket.h"

namespace nodeagent::kube {

/// scheme://host:port/base of the API server.
struct ServerUrl {
  std::string scheme, host, port, base;
};

/// Splits the kubeconfig's server URL; errors name `source`.
Result<ServerUrl> SplitServer(const std::string& server, const std::string& source);

class RetryingRequester {
 public:
  /// `config`, the seams and the options must outlive the requester.
  RetryingRequester(const KubeConfig& config, ServerUrl url, const KubeOptions& options, CommandRunner& runner,
                    FileSystem& files, Clock& clock, KubeLogger logger);

  /// The call with retries; the decoded JSON answer ({} when empty).
  /// kInvalidArgument for a bad method or path (CheckRequestPath).
  KubeResult<nlohmann::json> Call(const KubeRequest& request);

  /// One streamed attempt (a watch): rate limit, credentials, no retry. The
  /// 200 answer's body goes to `stream`; `should_abort` is polled.
  Result<curl::ExchangeResult> StreamOnce(const KubeRequest& request, curl::BodyStream& stream,
                                          std::function<bool()> should_abort, std::chrono::milliseconds timeout);

  /// "GET https://server/api/v1/pods?watch=1": the request as messages show it.
  std::string Describe(const KubeRequest& request) const;
  /// What went wrong with an exchange, for messages: "503 Service
  /// Unavailable" or the transport's error.
  std::string FailureText(const curl::ExchangeResult& result) const;
  /// Backoff before retry `retry` (1 = the first), or Retry-After when sent.
  std::chrono::milliseconds RetryDelay(int retry, const std::optional<std::chrono::seconds>& retry_after);
  /// Sleeps `d` on the clock, waking for `stop` or the run's cancellation;
  /// false when woken.
  bool SleepUnlessStopped(std::chrono::milliseconds d, const std::atomic<bool>* stop);
  void Log(LogLevel level, const std::string& message) const;

  CredentialSource& credentials() { return credentials_; }
  const KubeOptions& options() const { return options_; }
  Clock& clock() { return clock_; }

 private:
  std::string Url(const std::string& path, const std::string& query) const;
  curl::Exchange MakeExchange(const KubeRequest& request, const Credentials& credentials,
                              std::chrono::milliseconds timeout) const;
  bool RunCancelled() const;
  double Jitter();

  const KubeConfig& config_;
  ServerUrl url_;
  std::string connect_to_;
  const KubeOptions& options_;
  Clock& clock_;
  KubeLogger logger_;
  TokenBucket limiter_;
  CredentialSource credentials_;
  curl::Transport transport_;
  std::mutex rng_mu_;
  std::minstd_rand rng_;
};

/// "a=b&c=d", each key and value percent-encoded; empty values left out.
std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& query);

}  // namespace nodeagent::kube
