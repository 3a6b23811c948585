// CurlKubeClient's bounds on what a server may make it hold (issue 10,
// defect 7): a response body past max_response_bytes and a watch event past
// max_watch_event_bytes end the call with an error that says so, instead of
// growing a buffer for as long as the server sends.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <string>
#include <thread>

#include "host/fake_host.h"
#include "host/local_file_system.h"
#include "kube/curl_kube_client.h"

using namespace nodeagent;
using namespace nodeagent::kube;

namespace {

/// A plain-HTTP server on 127.0.0.1 that answers every request with 200 and
/// `body_bytes` of 'x' (no newline, no Content-Length), then closes.
class EndlessServer {
 public:
  explicit EndlessServer(size_t body_bytes) : body_bytes_(body_bytes) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~EndlessServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  size_t bytes_sent() const { return sent_.load(); }

 private:
  void Serve() {
    for (;;) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
      (void)::send(c, head.data(), head.size(), MSG_NOSIGNAL);
      std::string chunk(64 * 1024, 'x');
      for (size_t left = body_bytes_; left > 0;) {
        ssize_t n = ::send(c, chunk.data(), std::min(left, chunk.size()), MSG_NOSIGNAL);
        if (n <= 0) break;  // the client stopped reading
        left -= static_cast<size_t>(n);
        sent_ += static_cast<size_t>(n);
      }
      ::close(c);
    }
  }

  size_t body_bytes_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<size_t> sent_{0};
  std::thread thread_;
};

std::unique_ptr<KubeClient> ClientFor(const std::string& url, FakeCommandRunner& runner, FileSystem& files,
                                      FakeClock& clock) {
  KubeConfig config;
  config.source = "test";
  config.server = url;
  KubeOptions options;
  options.max_response_bytes = 1024 * 1024;
  options.max_watch_event_bytes = 1024 * 1024;
  options.retry.max_attempts = 1;
  options.qps = 0;
  auto client = MakeKubeClientFromConfig(config, options, runner, files, clock, [](LogLevel, std::string_view) {});
  REQUIRE(client.ok());
  return std::move(*client);
}

}  // namespace

TEST_CASE("unbounded_input: a Kubernetes response over the body cap fails the call instead of being read whole") {
  EndlessServer server(64 * 1024 * 1024);
  FakeCommandRunner runner;
  TempRoot root;
  LocalFileSystem files(root.path());
  FakeClock clock;
  auto client = ClientFor(server.url(), runner, files, clock);
  auto node = client->GetNode("n1");
  REQUIRE_FALSE(node.ok());
  INFO(node.error().message());
  CHECK(node.error().message().find("larger than 1 MiB") != std::string::npos);
  CHECK(server.bytes_sent() < 32u * 1024 * 1024);  // stopped reading long before the end
}

TEST_CASE("unbounded_input: a watch event over the event cap ends the watch with an error that says so") {
  EndlessServer server(64 * 1024 * 1024);
  FakeCommandRunner runner;
  TempRoot root;
  LocalFileSystem files(root.path());
  FakeClock clock;
  auto client = ClientFor(server.url(), runner, files, clock);
  WatchRequest request;
  request.resource = WatchResource::kNodes;
  request.resource_version = "1";  // no initial list: straight to the stream
  int events = 0;
  KubeStatus st = client->Watch(request, [&](const WatchEvent&) { return ++events < 100; }, nullptr);
  REQUIRE_FALSE(st.ok());
  INFO(st.error().message());
  CHECK(st.error().message().find("watch event larger than 1 MiB") != std::string::npos);
  CHECK(events == 0);
  CHECK(server.bytes_sent() < 32u * 1024 * 1024);
}
