#include "http/curl_http_client.h"

#include <array>
#include <cctype>

#include "http/curl_transport.h"

namespace nodeagent {

namespace {

bool IsTokenChar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return kSpecials.find(static_cast<char>(c)) != std::string_view::npos;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// Headers the client writes itself: a caller's copy would contradict them or
// smuggle a second request.
constexpr std::array<std::string_view, 6> kReservedHeaders = {"Host",              "Content-Type", "Content-Length",
                                                              "Transfer-Encoding", "Connection",   "Expect"};

// Line breaks would end the header and start another (header injection).
bool HasControlCharacter(std::string_view value) {
  for (unsigned char c : value)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  return false;
}

// Why `h` cannot be sent, or "". Names the header, never its value.
std::string HeaderProblem(const HttpHeader& h) {
  if (h.name.empty()) return "a header has an empty name";
  for (unsigned char c : h.name)
    if (!IsTokenChar(c)) return "header name \"" + h.name + "\" is not an HTTP token";
  for (std::string_view reserved : kReservedHeaders)
    if (EqualsIgnoreCase(h.name, reserved)) return "header " + h.name + " is set by the client itself";
  if (HasControlCharacter(h.value))
    return "the value of header " + h.name + " contains a line break or control character";
  return "";
}

bool IsSupportedMethod(std::string_view m) {
  return m == "GET" || m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE";
}

class CurlHttpClient : public HttpClient {
 public:
  explicit CurlHttpClient(HttpClientOptions options) : options_(std::move(options)) {}

  Result<HttpResponse> Send(const HttpRequest& request) override {
    std::string what = request.method + " " + RedactUrl(request.url);  // errors end up in logs
    if (!IsSupportedMethod(request.method))
      return InvalidArgument(what + ": method not supported (GET POST PUT PATCH DELETE)");
    curl::Exchange x;
    x.method = request.method;
    x.url = request.url;
    x.user_agent = options_.user_agent;
    x.timeout = request.timeout;
    x.connect_timeout = request.timeout;
    x.max_response_bytes = options_.max_response_bytes;
    for (const HttpHeader& h : request.headers) {
      if (std::string why = HeaderProblem(h); !why.empty()) return InvalidArgument(what + ": " + why);
      x.headers.push_back(h.name + ": " + h.value);
    }
    if (request.method != "GET") {
      x.body = request.body;
      if (!request.content_type.empty()) {
        if (HasControlCharacter(request.content_type))
          return InvalidArgument(what + ": the content type contains a line break or control character");
        x.headers.push_back("Content-Type: " + request.content_type);
      }
    }
    curl::ExchangeResult r = transport_.Perform(x);
    if (r.failure != curl::TransferFailure::kNone)
      return Error(curl::CodeForFailure(r.failure), what + ": " + r.error_summary);
    return HttpResponse{r.status, std::move(r.body)};
  }

 private:
  HttpClientOptions options_;
  curl::Transport transport_;
};

}  // namespace

std::unique_ptr<HttpClient> MakeCurlHttpClient(HttpClientOptions options) {
  return std::make_unique<CurlHttpClient>(std::move(options));
}

}  // namespace nodeagent
