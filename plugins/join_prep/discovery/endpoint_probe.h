// The network reach of the join checks. The host seam covers files, commands
// and the clock but not sockets, so the few network looks the checks make
// (resolve a name, open a TCP connection to the API server, do an unverified
// TLS handshake and one HTTPS GET) sit behind this small interface: the real
// one (SocketEndpointProbe, non-blocking sockets and OpenSSL) runs against the
// node's network, a fake answers from tables in unit tests.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nodeagent/result.h"

namespace nodeagent::join_prep {

/// One HTTP answer, bounded (kMaxHttpAnswerBytes).
struct HttpAnswer {
  int status = 0;                              ///< 200, 403...
  std::string reason;                          ///< "OK", "Forbidden"
  std::map<std::string, std::string> headers;  ///< names lowercased; the last of repeated ones
  std::string body;                            ///< de-chunked
};

/// The most of an HTTP answer (headers and body) a probe reads: 1 MiB.
inline constexpr size_t kMaxHttpAnswerBytes = size_t{1} << 20;

/// What one unverified TLS connection showed.
struct TlsExchange {
  std::string address;                 ///< the address connected to, "127.0.0.1:6443" / "[::1]:6443"
  std::vector<std::string> chain_der;  ///< the server's certificates as sent, leaf first (DER)
  std::string tls_version;             ///< "TLSv1.3"
  /// The answer to the GET; unset when the request failed after the
  /// handshake (http_error says why).
  std::optional<HttpAnswer> answer;
  std::string http_error;
};

class EndpointProbe {
 public:
  virtual ~EndpointProbe() = default;
  /// The addresses `host` resolves to (numeric strings). NotFound when it
  /// resolves to nothing, with the resolver's message.
  virtual Result<std::vector<std::string>> Resolve(const std::string& host) = 0;
  /// Opens (and closes) a TCP connection to host:port, trying each address
  /// in turn within `timeout`; returns the address that answered.
  /// kUnavailable for a refusal or an unreachable network, kTimeout when
  /// nothing answered in time, kNotFound when the name does not resolve.
  virtual Result<std::string> Connect(const std::string& host, int port, std::chrono::milliseconds timeout) = 0;
  /// Connects, does a TLS handshake that verifies nothing (SNI = host when
  /// it is a name) and sends one "GET path" (Connection: close), all within
  /// `timeout`. An Error when the connection or the handshake fails
  /// (kTimeout for a server that accepts but never speaks TLS); a failure
  /// after the handshake is reported in TlsExchange::http_error.
  virtual Result<TlsExchange> HttpsGet(const std::string& host, int port, const std::string& path,
                                       std::chrono::milliseconds timeout) = 0;
};

/// The real probe: getaddrinfo, non-blocking connect + poll, OpenSSL.
std::unique_ptr<EndpointProbe> MakeSocketEndpointProbe();

}  // namespace nodeagent::join_prep
