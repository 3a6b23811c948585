// The core HTTP client against a real listener on 127.0.0.1 (a thread of this
// test answering canned responses), so requests go through libcurl and the
// kernel's TCP stack, not a fake.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "http/curl_http_client.h"
#include "http/curl_library.h"

using namespace nodeagent;
using namespace std::chrono_literals;

namespace {

/// Accepts one connection, reads one request (headers and body), hands it
/// to `answer` and writes what that returns (nothing: keep the client
/// waiting until it gives up).
class OneShotServer {
 public:
  explicit OneShotServer(std::function<std::string(const std::string&)> answer) : answer_(std::move(answer)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    REQUIRE(::listen(fd_, 4) == 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~OneShotServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string url(const std::string& path = "/") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  const std::string& request() const { return request_; }

 private:
  void Serve() {
    int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    char buf[4096];
    size_t want = std::string::npos;
    while (request_.size() < want) {
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      request_.append(buf, static_cast<size_t>(n));
      auto end = request_.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      size_t body = 0;
      auto cl = request_.find("Content-Length: ");
      if (cl != std::string::npos) body = std::stoul(request_.substr(cl + 16));
      want = end + 4 + body;
    }
    std::string reply = answer_(request_);
    if (reply.empty()) {
      (void)!::read(c, buf, sizeof buf);  // until the client hangs up
    } else {
      (void)!::write(c, reply.data(), reply.size());  // a client that hung up early is the test's to judge
    }
    ::close(c);
  }

  std::function<std::string(const std::string&)> answer_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string request_;
};

std::string Reply(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("http GET returns the status and body") {
  OneShotServer server([](const std::string&) { return Reply(200, R"({"status":"success"})"); });
  auto client = MakeCurlHttpClient({"nodeagent-test", 1 << 20});
  auto r = client->Get(server.url("/api/v1/alerts"), 5s);
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->body == R"({"status":"success"})");
  CHECK(server.request().rfind("GET /api/v1/alerts HTTP/1.1\r\n", 0) == 0);
  CHECK(server.request().find("User-Agent: nodeagent-test\r\n") != std::string::npos);
}

TEST_CASE("http POST sends the body with its content type") {
  OneShotServer server([](const std::string&) { return Reply(204, ""); });
  auto client = MakeCurlHttpClient();
  auto r = client->Post(server.url("/hook"), R"({"text":"node-1 rebooting"})", "application/json", 5s);
  REQUIRE(r.ok());
  CHECK(r->status == 204);
  CHECK(server.request().rfind("POST /hook HTTP/1.1\r\n", 0) == 0);
  CHECK(server.request().find("Content-Type: application/json\r\n") != std::string::npos);
  CHECK(server.request().substr(server.request().size() - 27) == R"({"text":"node-1 rebooting"})");
}

TEST_CASE("http error statuses are answers and redirects are not followed") {
  SECTION("500") {
    OneShotServer server([](const std::string&) { return Reply(500, "boom"); });
    auto r = MakeCurlHttpClient()->Get(server.url(), 5s);
    REQUIRE(r.ok());
    CHECK(r->status == 500);
    CHECK(r->body == "boom");
  }
  SECTION("302") {
    OneShotServer server([](const std::string&) {
      return std::string("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n\r\n");
    });
    auto r = MakeCurlHttpClient()->Post(server.url(), "{}", "application/json", 5s);
    REQUIRE(r.ok());
    CHECK(r->status == 302);
  }
}

TEST_CASE("http failures without an answer are errors that say what was asked") {
  SECTION("nothing listens") {
    int port;
    {
      OneShotServer server([](const std::string&) { return Reply(200, ""); });
      port = std::stoi(server.url().substr(17));
      (void)MakeCurlHttpClient()->Get(server.url(), 5s);  // let the server thread finish
    }
    auto r = MakeCurlHttpClient()->Get("http://127.0.0.1:" + std::to_string(port) + "/x", 5s);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::kUnavailable);
    CHECK(r.error().message().find("GET http://127.0.0.1:") != std::string::npos);
  }
  SECTION("the server never answers") {
    OneShotServer server([](const std::string&) { return std::string(); });
    auto r = MakeCurlHttpClient()->Get(server.url(), 300ms);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::kTimeout);
  }
  SECTION("the answer is larger than the cap") {
    OneShotServer server([](const std::string&) { return Reply(200, std::string(5000, 'x')); });
    auto r = MakeCurlHttpClient({"nodeagent", 1000})->Get(server.url(), 5s);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("larger than 1000 bytes") != std::string::npos);
  }
  SECTION("only http and https") {
    auto r = MakeCurlHttpClient()->Get("file:///etc/hostname", 5s);
    REQUIRE_FALSE(r.ok());
  }
}

TEST_CASE("http request headers are sent: a bearer token for Prometheus") {
  OneShotServer server([](const std::string&) { return Reply(200, "{}"); });
  HttpRequest r;
  r.url = server.url("/api/v1/alerts");
  r.headers = {{"Authorization", "Bearer s3cret-token"}, {"X-Scope-OrgID", "tenant-1"}};
  r.timeout = 5s;
  auto answer = MakeCurlHttpClient()->Send(r);
  REQUIRE(answer.ok());
  CHECK(answer->status == 200);
  CHECK(server.request().find("\r\nAuthorization: Bearer s3cret-token\r\n") != std::string::npos);
  CHECK(server.request().find("\r\nX-Scope-OrgID: tenant-1\r\n") != std::string::npos);
}

TEST_CASE("http PUT, PATCH and DELETE send their method; others are refused") {
  for (const char* method : {"PUT", "PATCH", "DELETE"}) {
    INFO(method);
    OneShotServer server([](const std::string&) { return Reply(200, ""); });
    HttpRequest r;
    r.method = method;
    r.url = server.url("/x");
    r.body = "{}";
    r.content_type = "application/json";
    r.timeout = 5s;
    REQUIRE(MakeCurlHttpClient()->Send(r).ok());
    CHECK(server.request().rfind(std::string(method) + " /x HTTP/1.1\r\n", 0) == 0);
  }
  HttpRequest trace;
  trace.method = "TRACE";
  trace.url = "http://127.0.0.1:1/";
  auto r = MakeCurlHttpClient()->Send(trace);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("http header injection is refused before anything is sent, naming the header but not its value") {
  struct Case {
    HttpHeader header;
    const char* says;
  };
  std::vector<Case> cases = {
      {{"Authorization", "Bearer s3cret\r\nX-Injected: 1"}, "value of header Authorization contains a line break"},
      {{"Authorization", std::string("Bearer s3cret\nX-Injected: 1")}, "line break"},
      {{"Authorization", std::string("Bearer s3cret\0x", 15)}, "control character"},
      {{"Bad Name", "s3cret"}, "header name \"Bad Name\" is not an HTTP token"},
      {{"X-Evil:", "s3cret"}, "is not an HTTP token"},
      {{"", "s3cret"}, "empty name"},
      {{"Host", "s3cret.example"}, "header Host is set by the client itself"},
      {{"content-length", "0"}, "set by the client itself"},
      {{"Transfer-Encoding", "chunked"}, "set by the client itself"},
  };
  for (const Case& c : cases) {
    INFO(c.says);
    HttpRequest r;
    r.url = "http://127.0.0.1:1/api/v1/alerts";  // nothing listens: an attempt would be kUnavailable
    r.headers = {c.header};
    auto answer = MakeCurlHttpClient()->Send(r);
    REQUIRE_FALSE(answer.ok());
    CHECK(answer.error().code() == ErrorCode::kInvalidArgument);
    CHECK(answer.error().message().find(c.says) != std::string::npos);
    CHECK(answer.error().message().find("s3cret") == std::string::npos);
  }
}

TEST_CASE("secrets_never_logged: header values and URL paths stay out of HTTP errors") {
  HttpRequest r;
  r.headers = {{"Authorization", "Bearer s3cret-token"}};
  SECTION("nothing listens") {
    int port;
    {
      OneShotServer server([](const std::string&) { return Reply(200, ""); });
      port = std::stoi(server.url().substr(17));
      (void)MakeCurlHttpClient()->Get(server.url(), 5s);
    }
    r.url = "http://127.0.0.1:" + std::to_string(port) + "/hooks/T0/path-token";
    r.timeout = 5s;
  }
  SECTION("a timeout") {
    OneShotServer server([](const std::string&) { return std::string(); });
    r.url = server.url("/hooks/T0/path-token");
    r.timeout = 300ms;
    auto answer = MakeCurlHttpClient()->Send(r);
    REQUIRE_FALSE(answer.ok());
    CHECK(answer.error().code() == ErrorCode::kTimeout);
    CHECK(answer.error().message().find("s3cret") == std::string::npos);
    CHECK(answer.error().message().find("path-token") == std::string::npos);
    return;
  }
  auto answer = MakeCurlHttpClient()->Send(r);
  REQUIRE_FALSE(answer.ok());
  CHECK(answer.error().message().find("GET http://127.0.0.1:") != std::string::npos);
  CHECK(answer.error().message().find("s3cret") == std::string::npos);
  CHECK(answer.error().message().find("path-token") == std::string::npos);
}

namespace {

bool MapsLibcurl() {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);)
    if (line.find("/libcurl.so.4") != std::string::npos || line.find("/libcurl.so.") != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("libcurl is loaded by the first exchange, not by linking or by making a client") {
  // No binary lists libcurl as NEEDED: a run that never talks to the network
  // does not pay for it and its ~25 libraries (about 5 MiB resident).
  if (curl::CurlLoaded()) {
    // An earlier case of this process loaded it (the whole binary run at
    // once; ctest runs each case alone): check in a fresh process.
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    REQUIRE(n > 0);
    self[n] = 0;
    std::string cmd = std::string("'") + self + "' 'libcurl is loaded by the first exchange*' >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    return;
  }
  CHECK_FALSE(MapsLibcurl());
  auto client = MakeCurlHttpClient();
  CHECK_FALSE(MapsLibcurl());
  OneShotServer server([](const std::string&) { return Reply(200, "ok"); });
  auto r = client->Get(server.url(), 5s);
  REQUIRE(r.ok());
  CHECK(r->body == "ok");
  CHECK(curl::CurlLoaded());
  CHECK(MapsLibcurl());
}
