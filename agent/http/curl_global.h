// libcurl's process-wide setup, done once for every libcurl user in the
// process (the Kubernetes client and the HTTP client). curl_global_init is
// not thread-safe against other libcurl calls, so two separate once-flags
// could still run it concurrently; one inline function has one flag.
#pragma once

#include <curl/curl.h>

#include <mutex>

namespace nodeagent {

inline void EnsureCurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace nodeagent
