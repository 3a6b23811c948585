#include <curl/curl.h>

#include <mutex>

#include "http_client.h"

namespace nodeagent::drain {

namespace {

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

class CurlHttpClient : public HttpClient {
 public:
  Result<HttpResponse> Get(const std::string& url, std::chrono::milliseconds timeout) override {
    return Do(url, nullptr, "", timeout);
  }
  Result<HttpResponse> Post(const std::string& url, const std::string& body, const std::string& content_type,
                            std::chrono::milliseconds timeout) override {
    return Do(url, &body, content_type, timeout);
  }

 private:
  Result<HttpResponse> Do(const std::string& url, const std::string* body, const std::string& content_type,
                          std::chrono::milliseconds timeout) {
    static std::once_flag init;
    std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    CURL* c = curl_easy_init();
    if (!c) return Internal("curl_easy_init failed");
    HttpResponse resp;
    curl_slist* headers = nullptr;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp.body);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "nodeagent-drain-and-reboot");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (body) {
      headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
      return Error(rc == CURLE_OPERATION_TIMEDOUT ? ErrorCode::kTimeout : ErrorCode::kUnavailable,
                   std::string(body ? "POST " : "GET ") + url + ": " + curl_easy_strerror(rc));
    return resp;
  }
};

}  // namespace

std::unique_ptr<HttpClient> MakeCurlHttpClient() { return std::make_unique<CurlHttpClient>(); }

}  // namespace nodeagent::drain
