#include "http/curl_http_client.h"

#include "http/curl_global.h"

#include <curl/curl.h>

#include <mutex>

namespace nodeagent {

namespace {

struct Sink {
  std::string* body;
  size_t limit;
  bool overflow = false;
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  auto* sink = static_cast<Sink*>(out);
  if (sink->body->size() + size * n > sink->limit) {
    sink->overflow = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  sink->body->append(data, size * n);
  return size * n;
}

class CurlHttpClient : public HttpClient {
 public:
  explicit CurlHttpClient(HttpClientOptions options) : options_(std::move(options)) {}
  ~CurlHttpClient() override {
    if (handle_) curl_easy_cleanup(handle_);
  }

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
    EnsureCurlGlobalInit();
    std::lock_guard<std::mutex> lock(mu_);
    std::string what = std::string(body ? "POST " : "GET ") + RedactUrl(url);  // errors end up in logs
    if (!handle_) handle_ = curl_easy_init();
    if (!handle_) return Error(ErrorCode::kInternal, what + ": curl_easy_init failed");
    CURL* c = handle_;
    curl_easy_reset(c);  // keeps the connection cache
    HttpResponse resp;
    Sink sink{&resp.body, options_.max_response_bytes};
    curl_slist* headers = nullptr;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (body) {
      headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
    curl_slist_free_all(headers);
    if (sink.overflow)
      return Error(ErrorCode::kUnavailable,
                   what + ": the answer is larger than " + std::to_string(options_.max_response_bytes) + " bytes");
    if (rc != CURLE_OK)
      return Error(rc == CURLE_OPERATION_TIMEDOUT ? ErrorCode::kTimeout : ErrorCode::kUnavailable,
                   what + ": " + curl_easy_strerror(rc));
    return resp;
  }

  HttpClientOptions options_;
  std::mutex mu_;
  CURL* handle_ = nullptr;
};

}  // namespace

std::unique_ptr<HttpClient> MakeCurlHttpClient(HttpClientOptions options) {
  return std::make_unique<CurlHttpClient>(std::move(options));
}

}  // namespace nodeagent
