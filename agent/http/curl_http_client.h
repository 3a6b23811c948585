// The core's HttpClient (include/nodeagent/http.h) on the shared libcurl
// transport (curl_transport.h): http and https only, TLS verified against the
// system CAs, no redirects followed (a webhook POST must not be replayed
// somewhere else), and answers capped in size so a misbehaving endpoint
// cannot fill the worker's memory. Request headers (a Prometheus bearer
// token) are checked against injection and never logged. Errors name the URL
// redacted to its host (RedactUrl), as webhook paths carry tokens. Handles
// are pooled, so repeated calls to the same service reuse their connection.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "nodeagent/http.h"

namespace nodeagent {

struct HttpClientOptions {
  std::string user_agent = "nodeagent";
  size_t max_response_bytes = 4 << 20;
};

/// Never fails to construct; errors surface per request.
std::unique_ptr<HttpClient> MakeCurlHttpClient(HttpClientOptions options = {});

}  // namespace nodeagent
