#include "daemon/metrics_listener.h"

#include <fcntl.h>

#include <array>
#include <chrono>

#include <boost/asio.hpp>

#include "spdlog/spdlog.h"

namespace nodeagent {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

/// After accept() fails for want of descriptors or memory, try again this
/// much later instead of at once (a busy loop), as the control socket does.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(250);
/// What a client sent beyond its head (a body nobody asked for) is read and
/// dropped up to this much before closing, so the kernel does not answer the
/// unread bytes with a reset that can destroy the answer in flight.
constexpr size_t kMaxDiscardBytes = 64 * 1024;

const char kTooMany[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

std::string Answer(int code, std::string_view reason, std::string_view extra_headers, const std::string& body,
                   bool with_body, std::string_view type = "text/plain; charset=utf-8") {
  std::string out = "HTTP/1.1 " + std::to_string(code) + " " + std::string(reason) + "\r\nContent-Type: " +
                    std::string(type) + "\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nConnection: close\r\n" + std::string(extra_headers) + "\r\n";
  if (with_body) out += body;
  return out;
}

void SetCloseOnExec(int fd) { ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC); }

}  // namespace

std::string AnswerMetricsRequest(std::string_view head, const std::function<std::string()>& render) {
  std::string_view line = head.substr(0, head.find("\r\n"));
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos ||
      !line.substr(sp2 + 1).starts_with("HTTP/1.") || sp1 == 0)
    return Answer(400, "Bad Request", "", "not an HTTP/1.x request line\n", true);
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));  // Prometheus may add ?params; they change nothing here
  const bool head_only = method == "HEAD";
  if (target != "/metrics") return Answer(404, "Not Found", "", "only /metrics is served here\n", !head_only);
  if (method != "GET" && !head_only)
    return Answer(405, "Method Not Allowed", "Allow: GET, HEAD\r\n", "only GET and HEAD\n", true);
  return Answer(200, "OK", "", render(), !head_only, "text/plain; version=0.0.4; charset=utf-8");
}

struct MetricsListener::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_context, std::function<std::string()> r, MetricsListenerLimits l)
      : io(io_context), render(std::move(r)), limits(l), acceptor(io), accept_retry_timer(io) {}

  /// One scrape: read the head, answer, close. Its timer runs only while it
  /// is open, so no timer is armed while nobody scrapes.
  struct Connection : std::enable_shared_from_this<Connection> {
    Connection(std::shared_ptr<Impl> o, tcp::socket s) : owner(std::move(o)), sock(std::move(s)), deadline(owner->io) {
      ++owner->open_connections;
    }
    ~Connection() { --owner->open_connections; }
    std::shared_ptr<Impl> owner;
    tcp::socket sock;
    asio::steady_timer deadline;
    std::string head, answer;
    std::array<char, 4096> discard{};
    size_t discarded = 0;

    void Arm(int ms) {
      deadline.expires_after(std::chrono::milliseconds(ms));
      deadline.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->Shut();
      });
    }
    void Shut() {
      boost::system::error_code ignored;
      sock.close(ignored);
      deadline.cancel();
    }
    void Read() {
      Arm(owner->limits.head_timeout_ms);
      asio::async_read_until(sock, asio::dynamic_buffer(head, owner->limits.max_head_bytes), "\r\n\r\n",
                             [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                               if (ec == asio::error::not_found) {
                                 self->Write(Answer(431, "Request Header Fields Too Large", "",
                                                    "request head over " +
                                                        std::to_string(self->owner->limits.max_head_bytes) +
                                                        " bytes\n",
                                                    true));
                               } else if (ec) {
                                 self->Shut();  // closed, timed out or reset before a whole head came
                               } else {
                                 self->Write(AnswerMetricsRequest(std::string_view(self->head).substr(0, n),
                                                                  self->owner->render));
                               }
                             });
    }
    void Write(std::string text) {
      if (!sock.is_open()) return;
      answer = std::move(text);
      Arm(owner->limits.write_timeout_ms);
      asio::async_write(sock, asio::buffer(answer), [self = shared_from_this()](boost::system::error_code ec, size_t) {
        if (ec) return self->Shut();
        boost::system::error_code ignored;
        self->sock.shutdown(tcp::socket::shutdown_send, ignored);
        self->Drain();
      });
    }
    /// Reads until the client closes (or kMaxDiscardBytes, or the deadline).
    void Drain() {
      sock.async_read_some(asio::buffer(discard), [self = shared_from_this()](boost::system::error_code ec, size_t n) {
        self->discarded += n;
        if (ec || self->discarded > kMaxDiscardBytes) return self->Shut();
        self->Drain();
      });
    }
  };

  asio::io_context& io;
  std::function<std::string()> render;
  MetricsListenerLimits limits;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry_timer;
  bool accept_failing = false;
  size_t open_connections = 0;
  std::string address;  // for messages

  void Accept() {
    acceptor.async_accept([self = shared_from_this()](boost::system::error_code ec, tcp::socket sock) {
      if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
      if (ec && ec != asio::error::connection_aborted) {
        if (!self->accept_failing)
          spdlog::error("metrics listener {}: cannot accept a connection: {}; trying again every {} ms", self->address,
                        ec.message(), kAcceptRetryDelay.count());
        self->accept_failing = true;
        self->accept_retry_timer.expires_after(kAcceptRetryDelay);
        self->accept_retry_timer.async_wait([self](boost::system::error_code ec2) {
          if (!ec2) self->Accept();
        });
        return;
      }
      if (!ec) {
        self->accept_failing = false;
        SetCloseOnExec(sock.native_handle());
        if (self->open_connections >= self->limits.max_connections) {
          boost::system::error_code ignored;
          sock.non_blocking(true, ignored);
          asio::write(sock, asio::buffer(kTooMany, sizeof kTooMany - 1), ignored);  // tiny; the kernel takes it
          sock.close(ignored);
        } else {
          std::make_shared<Connection>(self, std::move(sock))->Read();
        }
      }
      self->Accept();
    });
  }
};

MetricsListener::MetricsListener(asio::io_context& io, std::function<std::string()> render,
                                 MetricsListenerLimits limits)
    : impl_(std::make_shared<Impl>(io, std::move(render), limits)) {}

MetricsListener::~MetricsListener() { Close(); }

Status MetricsListener::Listen(const ListenAddress& address) {
  impl_->address = address.ToString();
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address.ip, ec);
  if (ec) return Error(ErrorCode::kInvalidArgument, "metrics listen address " + impl_->address + ": " + ec.message());
  tcp::endpoint endpoint(ip, static_cast<unsigned short>(address.port));
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) SetCloseOnExec(acceptor.native_handle());
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(64, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return Error(ErrorCode::kIo, "cannot listen for metrics on " + impl_->address + " ([metrics] listen): " +
                                     ec.message());
  }
  return Status::Ok();
}

void MetricsListener::Start() { impl_->Accept(); }

void MetricsListener::Close() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  impl_->accept_retry_timer.cancel();
}

}  // namespace nodeagent
