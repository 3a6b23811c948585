// Plain HTTP(S) for actions that talk to services other than the API server:
// notification webhooks, a Prometheus alerts query (with a bearer token), a
// health endpoint. The core owns the implementation (libcurl, TLS verified
// against the system CAs) and hands it to actions through
// ActionContext::Http(), so a plugin never links an HTTP or TLS library
// itself and the daemon, which loads every plugin to read its parameter
// table, never maps one.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/result.h"

namespace nodeagent {

struct HttpResponse {
  long status = 0;  // the HTTP status code
  std::string body;
};

/// One request header. The value is treated as a secret (`Authorization:
/// Bearer ...`): it is sent, never logged, never put in an error.
struct HttpHeader {
  std::string name;   // an RFC 9110 token: "Authorization", "X-Scope-OrgID"
  std::string value;  // no CR, LF or other control characters but tab
};

struct HttpRequest {
  std::string method = "GET";  // GET POST PUT PATCH DELETE
  std::string url;             // http:// or https://
  std::vector<HttpHeader> headers;
  std::string body;            // sent for any method but GET
  std::string content_type;    // the body's; "" sends none
  std::chrono::milliseconds timeout{10'000};
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  /// Sends `request`. An Error (kTimeout, kUnavailable, kTooLarge) when no
  /// whole HTTP answer came: DNS, connection, TLS, timeout, over the size cap;
  /// kInvalidArgument, before anything is sent, for a method outside the list
  /// above, a header name that is not a token or one the client sets itself
  /// (Host, Content-Type, Content-Length, Transfer-Encoding, Connection,
  /// Expect), or a value with a line break (header injection). Any status code
  /// is a response, not an Error. Errors name the URL redacted (RedactUrl)
  /// and header names, never header values.
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;

  /// Send of a GET without headers.
  Result<HttpResponse> Get(const std::string& url, std::chrono::milliseconds timeout) {
    HttpRequest r;
    r.url = url;
    r.timeout = timeout;
    return Send(r);
  }
  /// Send of a POST of `body` with `content_type`.
  Result<HttpResponse> Post(const std::string& url, const std::string& body, const std::string& content_type,
                            std::chrono::milliseconds timeout) {
    HttpRequest r;
    r.method = "POST";
    r.url = url;
    r.body = body;
    r.content_type = content_type;
    r.timeout = timeout;
    return Send(r);
  }
};

/// The URL as it may appear in logs and errors: scheme, host and port only
/// ("https://hooks.slack.com/..."), since webhook URLs carry their token in
/// the path and some carry a user and password.
std::string RedactUrl(std::string_view url);

}  // namespace nodeagent
