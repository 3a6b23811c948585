// Plain HTTP(S) for actions that talk to services other than the API server:
// notification webhooks, a Prometheus alerts query, a health endpoint. The
// core owns the implementation (libcurl, TLS verified against the system CAs)
// and hands it to actions through ActionContext::Http(), so a plugin never
// links an HTTP or TLS library itself and the daemon, which loads every
// plugin to read its parameter table, never maps one.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "nodeagent/result.h"

namespace nodeagent {

struct HttpResponse {
  long status = 0;  // the HTTP status code
  std::string body;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  /// An Error (kTimeout, kUnavailable) when no HTTP answer came: DNS,
  /// connection, TLS, timeout. Any status code is a response, not an Error.
  virtual Result<HttpResponse> Get(const std::string& url, std::chrono::milliseconds timeout) = 0;
  /// Same for a POST of `body` sent with `content_type`.
  virtual Result<HttpResponse> Post(const std::string& url, const std::string& body, const std::string& content_type,
                                    std::chrono::milliseconds timeout) = 0;
};

/// The URL as it may appear in logs and errors: scheme, host and port only
/// ("https://hooks.slack.com/..."), since webhook URLs carry their token in
/// the path and some carry a user and password.
std::string RedactUrl(std::string_view url);

}  // namespace nodeagent
