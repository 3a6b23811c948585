// One HTTP exchange on libcurl, for both network clients: the Kubernetes
// client (agent/kube/) and the plain HTTP client (curl_http_client). Whatever
// both must get right lives here once: TLS (verification on unless the caller
// turns it off, a CA and a client certificate given as PEM bytes), the
// response cap, proxies (libcurl's environment variables, as kubectl honours
// HTTPS_PROXY and NO_PROXY), no redirects, http and https only, pooled
// handles for connection reuse, and the reduction of a libcurl
// error code to a TransferFailure and a message. Header values (bearer
// tokens) and PEM bytes are secrets: this unit never logs and never puts them
// in a message. The callers keep their own policies (retries, error codes).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/result.h"

namespace nodeagent::curl {

/// TLS for one exchange. Default: verify against the system CAs.
struct TlsSettings {
  bool verify = true;           // false only for kubeconfig's insecure-skip-tls-verify
  std::string ca_pem;           // empty: the system trust store
  std::string client_cert_pem;  // empty: no client certificate
  std::string client_key_pem;   // secret
};

/// Receives a streamed 200 answer's body as it arrives (a watch).
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  /// False ends the transfer (TransferFailure::kAborted).
  virtual bool OnData(std::string_view chunk) = 0;
};

struct Exchange {
  std::string method = "GET";
  std::string url;
  /// "Name: value" lines. Values may be secrets: never logged or quoted.
  std::vector<std::string> headers;
  /// Sent when set, for any method but GET.
  std::optional<std::string> body;
  std::string user_agent = "nodeagent";
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds timeout{30'000};  // the whole exchange
  /// libcurl CONNECT_TO entry "host:port:connect-host:connect-port", or "".
  std::string connect_to;
  TlsSettings tls;
  bool tcp_keepalive = false;
  /// A body past this is not read on (kTooLarge).
  size_t max_response_bytes = 4 << 20;
  /// When set, a 200 answer's body goes here instead of into the result; any
  /// other status's body is kept in the result (up to kMaxStreamErrorBody).
  BodyStream* stream = nullptr;
  /// Polled during the transfer (at least once a second); true ends it (kAborted).
  std::function<bool()> should_abort;
};

/// Why an exchange produced no complete answer.
enum class TransferFailure {
  kNone,         // the answer was read whole
  kClosedEarly,  // the server closed before the announced end (a watch window ending)
  kTimeout,      // connecting or the whole exchange took too long
  kTooLarge,     // the body passed max_response_bytes; not read on
  kAborted,      // should_abort or the stream ended it
  kPermanent,    // retrying cannot help: TLS material or verification, URL, protocol
  kTransient,    // DNS, refused or reset connections, other network failures
};

struct ExchangeResult {
  /// The HTTP status; 0 when no complete answer came (except with a stream,
  /// where a status seen before the failure is kept).
  int status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header's raw value, "" when none
  TransferFailure failure = TransferFailure::kNone;
  std::string error;          // libcurl's detailed text ("Failed to connect to ..."), "" when none
  std::string error_summary;  // libcurl's generic text for the code ("Couldn't connect to server")
};

/// Kept of a streamed exchange's non-200 body (an API Status, a proxy page).
inline constexpr size_t kMaxStreamErrorBody = 64 * 1024;

/// The ErrorCode a client without its own table gives a failure: kTimeout,
/// kTooLarge, else kUnavailable.
ErrorCode CodeForFailure(TransferFailure failure);

/// Thread-safe; keeps up to 4 idle handles (and their connections).
class Transport {
 public:
  Transport();
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  ExchangeResult Perform(const Exchange& exchange);

 private:
  struct Pool;
  std::unique_ptr<Pool> pool_;
};

}  // namespace nodeagent::curl
