#include "http/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "http/curl_library.h"

namespace nodeagent::curl {

namespace {

constexpr size_t kMaxIdleHandles = 4;

// What the libcurl callbacks of one exchange share.
struct TransferState {
  const CurlLibrary* curl = nullptr;
  CURL* handle = nullptr;
  ExchangeResult* result = nullptr;
  size_t max_body = 0;
  bool body_too_large = false;
  BodyStream* stream = nullptr;
  bool stream_stopped = false;
  const std::function<bool()>* should_abort = nullptr;
};

size_t CollectBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<TransferState*>(user);
  size_t len = size * n;
  if (t->stream) {
    long status = 0;
    t->curl->easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200) {
      if (t->stream->OnData(std::string_view(data, len))) return len;
      t->stream_stopped = true;
      return 0;  // CURLE_WRITE_ERROR ends the transfer
    }
    std::string& body = t->result->body;
    body.append(data, std::min(len, kMaxStreamErrorBody - std::min(kMaxStreamErrorBody, body.size())));
    return len;
  }
  if (t->result->body.size() + len > t->max_body) {
    t->body_too_large = true;
    return 0;  // CURLE_WRITE_ERROR ends the transfer
  }
  t->result->body.append(data, len);
  return len;
}

size_t CollectHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<TransferState*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) t->result->retry_after.clear();  // a new response (after 100-continue)
  static constexpr std::string_view kKey = "retry-after:";
  if (line.size() > kKey.size()) {
    std::string head(line.substr(0, kKey.size()));
    for (char& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (head == kKey) t->result->retry_after = std::string(line.substr(kKey.size()));
  }
  return size * n;
}

int Progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<TransferState*>(user);
  return (*t->should_abort)() ? 1 : 0;
}

// Transport errors that retrying cannot fix (bad TLS material, bad URL).
bool IsPermanent(CURLcode c) {
  switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_NOT_BUILT_IN:
      return true;
    default:
      return false;
  }
}

// The one place a libcurl code becomes a TransferFailure.
TransferFailure Reduce(CURLcode code, const TransferState& t) {
  if (t.body_too_large || code == CURLE_FILESIZE_EXCEEDED) return TransferFailure::kTooLarge;
  switch (code) {
    case CURLE_OK: return TransferFailure::kNone;
    case CURLE_PARTIAL_FILE: return TransferFailure::kClosedEarly;
    case CURLE_OPERATION_TIMEDOUT: return TransferFailure::kTimeout;
    case CURLE_ABORTED_BY_CALLBACK: return TransferFailure::kAborted;
    case CURLE_WRITE_ERROR:
      if (t.stream_stopped) return TransferFailure::kAborted;
      return TransferFailure::kTransient;
    default: return IsPermanent(code) ? TransferFailure::kPermanent : TransferFailure::kTransient;
  }
}

void SetTls(const CurlLibrary& curl, CURL* h, const TlsSettings& tls) {
  if (!tls.verify) {
    curl.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    curl.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!tls.ca_pem.empty()) {
      curl_blob ca{const_cast<char*>(tls.ca_pem.data()), tls.ca_pem.size(), CURL_BLOB_COPY};
      curl.easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
    }
  }
  if (!tls.client_cert_pem.empty()) {
    curl_blob cert{const_cast<char*>(tls.client_cert_pem.data()), tls.client_cert_pem.size(), CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(tls.client_key_pem.data()), tls.client_key_pem.size(), CURL_BLOB_COPY};
    curl.easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
    curl.easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    curl.easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
    curl.easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
  }
}

}  // namespace

ErrorCode CodeForFailure(TransferFailure failure) {
  switch (failure) {
    case TransferFailure::kTimeout: return ErrorCode::kTimeout;
    case TransferFailure::kTooLarge: return ErrorCode::kTooLarge;
    default: return ErrorCode::kUnavailable;
  }
}

struct Transport::Pool {
  std::mutex mu;
  std::vector<CURL*> idle;
  const CurlLibrary* curl = nullptr;  // set once a handle was made

  CURL* Take(const CurlLibrary& lib) {
    {
      std::lock_guard<std::mutex> lock(mu);
      curl = &lib;
      if (!idle.empty()) {
        CURL* h = idle.back();
        idle.pop_back();
        return h;
      }
    }
    return lib.easy_init();
  }
  void Return(CURL* h) {
    std::lock_guard<std::mutex> lock(mu);
    if (idle.size() < kMaxIdleHandles) {
      idle.push_back(h);
    } else {
      curl->easy_cleanup(h);
    }
  }
  ~Pool() {
    for (CURL* h : idle) curl->easy_cleanup(h);
  }
};

// libcurl is loaded by the first exchange (curl_library.h), not here: a
// client that is made but never used costs nothing.
Transport::Transport() : pool_(std::make_unique<Pool>()) {}
Transport::~Transport() = default;

ExchangeResult Transport::Perform(const Exchange& x) {
  ExchangeResult result;
  Result<const CurlLibrary*> loaded = LoadCurl();
  if (!loaded) {
    result.failure = TransferFailure::kPermanent;
    result.error = result.error_summary = loaded.error().message();
    return result;
  }
  const CurlLibrary& curl = **loaded;
  CURL* h = pool_->Take(curl);
  if (!h) {
    result.failure = TransferFailure::kTransient;
    result.error = result.error_summary = "cannot create a curl handle";
    return result;
  }
  curl.easy_reset(h);  // keeps the connection cache
  TransferState state;
  state.curl = &curl;
  state.handle = h;
  state.result = &result;
  state.max_body = x.max_response_bytes;
  state.stream = x.stream;
  state.should_abort = x.should_abort ? &x.should_abort : nullptr;

  char errbuf[CURL_ERROR_SIZE] = {0};
  curl.easy_setopt(h, CURLOPT_URL, x.url.c_str());
  curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(x.connect_timeout.count()));
  curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(x.timeout.count()));
  if (x.tcp_keepalive) curl.easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl.easy_setopt(h, CURLOPT_USERAGENT, x.user_agent.c_str());
  // http and https only. CURLOPT_PROTOCOLS_STR is libcurl 7.85's; EL9 has
  // 7.76, which answers CURLE_UNKNOWN_OPTION: then the older bit mask.
  if (curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    curl.easy_setopt(h, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#pragma GCC diagnostic pop
  }
  curl.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // an answer elsewhere is the caller's to judge
  // Proxies: libcurl's defaults, i.e. http_proxy, HTTPS_PROXY, ALL_PROXY and
  // NO_PROXY from the environment, as kubectl and most tools do.
  curl_slist* connect_to = nullptr;
  if (!x.connect_to.empty()) {
    connect_to = curl.slist_append(connect_to, x.connect_to.c_str());
    curl.easy_setopt(h, CURLOPT_CONNECT_TO, connect_to);
  }
  if (x.method == "GET") {
    curl.easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, x.method.c_str());
    if (x.body) {
      curl.easy_setopt(h, CURLOPT_POSTFIELDS, x.body->c_str());
      curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(x.body->size()));
    }
  }
  curl_slist* headers = curl.slist_append(nullptr, "Expect:");  // no 100-continue round trip
  for (const std::string& line : x.headers) headers = curl.slist_append(headers, line.c_str());
  curl.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  SetTls(curl, h, x.tls);
  curl.easy_setopt(h, CURLOPT_HEADERFUNCTION, &CollectHeader);
  curl.easy_setopt(h, CURLOPT_HEADERDATA, &state);
  if (!x.stream)  // by Content-Length, before a byte of the body is read
    curl.easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(x.max_response_bytes));
  curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, &CollectBody);
  curl.easy_setopt(h, CURLOPT_WRITEDATA, &state);
  if (state.should_abort) {
    curl.easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl.easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &Progress);
    curl.easy_setopt(h, CURLOPT_XFERINFODATA, &state);
  }

  CURLcode code = curl.easy_perform(h);
  long status = 0;
  curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  result.failure = Reduce(code, state);
  if (result.failure == TransferFailure::kTooLarge) {
    result.body.clear();
    result.error = result.error_summary =
        "the answer is larger than " + std::to_string(x.max_response_bytes) + " bytes";
  } else if (code != CURLE_OK) {
    result.error_summary = curl.easy_strerror(code);
    result.error = errbuf[0] ? errbuf : result.error_summary;
    while (!result.error.empty() && result.error.back() == '\n') result.error.pop_back();
  }
  result.status = code == CURLE_OK || (x.stream && status > 0) ? static_cast<int>(status) : 0;
  curl.slist_free_all(headers);
  curl.slist_free_all(connect_to);
  // Reset so no blob, header or callback pointer outlives this call, but keep
  // the handle (and its connection cache) for the next exchange.
  curl.easy_reset(h);
  pool_->Return(h);
  return result;
}

}  // namespace nodeagent::curl
