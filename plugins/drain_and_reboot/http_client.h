// A minimal HTTP seam for the parts of drain-and-reboot that talk to things
// other than the API server: the Prometheus alerts query and the notification
// webhook. CurlHttpClient is the real one (libcurl, linked by this plugin
// only); tests use a fake or a local listener.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "nodeagent/result.h"

namespace nodeagent::drain {

struct HttpResponse {
  long status = 0;
  std::string body;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  /// An Error when no HTTP answer came (connection, TLS, timeout); any status otherwise.
  virtual Result<HttpResponse> Get(const std::string& url, std::chrono::milliseconds timeout) = 0;
  virtual Result<HttpResponse> Post(const std::string& url, const std::string& body, const std::string& content_type,
                                    std::chrono::milliseconds timeout) = 0;
};

/// The libcurl implementation (TLS verified against the system CAs).
std::unique_ptr<HttpClient> MakeCurlHttpClient();

}  // namespace nodeagent::drain
