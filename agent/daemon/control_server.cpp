#include "daemon/control_server.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>

#include <boost/asio.hpp>

#include "host/local_file_system.h"
#include "spdlog/spdlog.h"

namespace nodeagent {

namespace asio = boost::asio;
using asio::local::stream_protocol;
using json = nlohmann::json;

namespace {

/// Bounds on what the daemon queues for a client (see docs/architecture.md,
/// "Bounds"). A client that reads its lines slower than they come: progress
/// lines are dropped once this much waits for it...
constexpr size_t kSubscriberProgressDropBytes = 256 * 1024;
/// ...and it is disconnected once this much would (it can read the run's
/// outcome with `agentctl logs`).
constexpr size_t kSubscriberMaxQueuedBytes = 8 * 1024 * 1024;
/// After accept() fails for want of descriptors (EMFILE, ENFILE) or memory,
/// the daemon tries again this much later instead of at once (a busy loop).
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(250);

/// One counted control connection (ConnectionTable); ends with the last
/// holder: the session's handlers or the SocketReplyStream that took its socket.
struct ConnectionSlot {
  ConnectionSlot(std::shared_ptr<ConnectionTable> t, uid_t u) : table(std::move(t)), uid(u) {}
  ~ConnectionSlot() { table->Close(uid); }
  std::shared_ptr<ConnectionTable> table;
  uid_t uid;
};

/// A client's connection as a ReplyStream. Writes are queued so a slow client
/// never blocks the loop; progress is dropped when the queue is long, and a
/// client whose queue outgrows kSubscriberMaxQueuedBytes is dropped.
struct SocketReplyStream : ReplyStream, std::enable_shared_from_this<SocketReplyStream> {
  SocketReplyStream(stream_protocol::socket s, std::shared_ptr<ConnectionSlot> c)
      : sock(std::move(s)), slot(std::move(c)) {}
  stream_protocol::socket sock;
  std::shared_ptr<ConnectionSlot> slot;  // released when the socket closes
  std::deque<std::string> queue;
  size_t queued_bytes = 0;
  bool writing = false;
  bool close_after = false;

  void Send(const json& line, bool last) override {
    if (!sock.is_open()) return;
    if (queued_bytes > kSubscriberProgressDropBytes && line.value("type", "") == "progress") return;
    std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    if (!queue.empty() && queued_bytes + text.size() > kSubscriberMaxQueuedBytes) {
      spdlog::warn("control client (uid {}) reads too slowly: {} bytes wait for it; disconnecting it",
                   slot ? std::to_string(slot->uid) : "?", queued_bytes);
      Close();
      return;
    }
    queued_bytes += text.size();
    queue.push_back(std::move(text));
    if (last) close_after = true;
    Pump();
  }
  void Close() {
    // A write in flight keeps its buffer (the front) until its handler runs.
    while (queue.size() > (writing ? 1u : 0u)) queue.pop_back();
    queued_bytes = queue.empty() ? 0 : queue.front().size();
    boost::system::error_code ignored;
    sock.shutdown(stream_protocol::socket::shutdown_both, ignored);
    sock.close(ignored);
    slot.reset();
  }
  void Pump() {
    if (writing || queue.empty()) {
      if (!writing && queue.empty() && close_after) Close();
      return;
    }
    writing = true;
    auto self = shared_from_this();
    asio::async_write(sock, asio::buffer(queue.front()), [self](boost::system::error_code ec, size_t) {
      self->writing = false;
      if (ec || !self->sock.is_open()) {  // failed, or closed while writing
        self->Close();
        return;
      }
      self->queued_bytes -= self->queue.front().size();
      self->queue.pop_front();
      self->Pump();
    });
  }
};

}  // namespace

struct ControlServer::Impl {
  Impl(asio::io_context& io_context, ControlDispatcher d)
      : io(io_context), dispatcher(std::move(d)), acceptor(io), accept_retry_timer(io) {}

  asio::io_context& io;
  ControlDispatcher dispatcher;
  stream_protocol::acceptor acceptor;
  asio::steady_timer accept_retry_timer;
  bool accept_failing = false;  // accept() failed; retrying after kAcceptRetryDelay
  std::shared_ptr<ConnectionTable> connections = std::make_shared<ConnectionTable>();
  std::optional<std::chrono::steady_clock::time_point> last_refusal_log;
  int refusals_since_log = 0;

  void Accept();
  void HandleSession(std::shared_ptr<stream_protocol::socket> sock);
};

ControlServer::ControlServer(asio::io_context& io, ControlDispatcher dispatcher)
    : impl_(std::make_unique<Impl>(io, std::move(dispatcher))) {}

ControlServer::~ControlServer() = default;

Status ControlServer::Listen(const std::string& path, const std::string& group) {
  auto slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    Status st = MakeDirsReal(path.substr(0, slash), 0755);
    if (!st.ok()) return st;
  }
  // A socket left by a crashed daemon is replaced; a live one is not.
  {
    stream_protocol::socket probe(impl_->io);
    boost::system::error_code ec;
    probe.connect(stream_protocol::endpoint(path), ec);
    if (!ec) return Error(ErrorCode::kAlreadyExists, "another nodeagent is already listening on " + path);
    ::unlink(path.c_str());
  }
  long group_gid = -1;
  struct group grp, *found = nullptr;
  std::vector<char> buf(16384);
  if (::getgrnam_r(group.c_str(), &grp, buf.data(), buf.size(), &found) == 0 && found) group_gid = found->gr_gid;
  impl_->dispatcher.set_reader_group(group_gid);
  auto& acceptor = impl_->acceptor;
  mode_t old_umask = ::umask(0177);  // never world-accessible, even for an instant
  boost::system::error_code ec;
  acceptor.open(stream_protocol(), ec);
  if (!ec) acceptor.bind(stream_protocol::endpoint(path), ec);
  if (!ec) acceptor.listen(64, ec);
  ::umask(old_umask);
  if (ec) return Error(ErrorCode::kIo, "cannot listen on " + path + ": " + ec.message());
  if (group_gid >= 0) {
    if (::chown(path.c_str(), 0, static_cast<gid_t>(group_gid)) != 0 && ::geteuid() == 0)
      spdlog::warn("chown {}: {}", path, std::strerror(errno));
    ::chmod(path.c_str(), 0660);
  } else {
    ::chmod(path.c_str(), 0600);
    spdlog::info("group '{}' does not exist: control socket is root-only (0600)", group);
  }
  return Status::Ok();
}

void ControlServer::Start() { impl_->Accept(); }

void ControlServer::Close() {
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  impl_->accept_retry_timer.cancel();
}

void ControlServer::Impl::Accept() {
  acceptor.async_accept([this](boost::system::error_code ec, stream_protocol::socket sock) {
    if (ec == asio::error::operation_aborted) return;
    if (ec && ec != asio::error::connection_aborted) {
      // Out of descriptors (EMFILE, ENFILE) or memory: the pending connection
      // stays queued and accept() would fail again at once. Try again later.
      if (!accept_failing)
        spdlog::error("control socket: cannot accept a connection: {}; trying again every {} ms", ec.message(),
                      kAcceptRetryDelay.count());
      accept_failing = true;
      accept_retry_timer.expires_after(kAcceptRetryDelay);
      accept_retry_timer.async_wait([this](boost::system::error_code ec2) {
        if (!ec2) Accept();
      });
      return;
    }
    if (!ec) {
      if (accept_failing) spdlog::info("control socket: accepting connections again");
      accept_failing = false;
      HandleSession(std::make_shared<stream_protocol::socket>(std::move(sock)));
    }
    Accept();
  });
}

void ControlServer::Impl::HandleSession(std::shared_ptr<stream_protocol::socket> sock) {
  PeerCredentials peer;
  if (!GetPeerCredentials(sock->native_handle(), peer)) return;
  std::string refusal;
  if (!connections->TryOpen(peer.uid, &refusal)) {
    // Logged at most once a minute: the refusals are what a flood looks like.
    ++refusals_since_log;
    auto now = std::chrono::steady_clock::now();
    if (!last_refusal_log || now - *last_refusal_log >= std::chrono::minutes(1)) {
      spdlog::warn("refusing control connections: {} ({} refused since the last such message)", refusal,
                   refusals_since_log);
      last_refusal_log = now;
      refusals_since_log = 0;
    }
    boost::system::error_code ignored;
    std::string reply = ErrorReply("too_many_connections", refusal).dump() + "\n";
    asio::write(*sock, asio::buffer(reply), ignored);  // tiny; the kernel buffer takes it
    sock->close(ignored);
    return;
  }
  auto slot = std::make_shared<ConnectionSlot>(connections, peer.uid);
  auto buf = std::make_shared<std::string>();
  auto timer = std::make_shared<asio::steady_timer>(io);
  timer->expires_after(std::chrono::milliseconds(kRequestReadTimeoutMs));
  timer->async_wait([sock](boost::system::error_code ec) {
    if (ec) return;
    boost::system::error_code ignored;
    std::string reply = ErrorReply("timeout", "no complete request within 5 s").dump() + "\n";
    asio::write(*sock, asio::buffer(reply), ignored);  // tiny; the kernel buffer takes it
    sock->close(ignored);
  });
  asio::async_read_until(*sock, asio::dynamic_buffer(*buf, kMaxRequestBytes), '\n',
                         [this, sock, slot, buf, timer, peer](boost::system::error_code ec, size_t n) {
                           timer->cancel();
                           if (ec) {
                             if (ec == asio::error::not_found) {
                               boost::system::error_code ignored;
                               std::string reply =
                                   ErrorReply("too_large", "request larger than 64 KiB").dump() + "\n";
                               asio::write(*sock, asio::buffer(reply), ignored);
                             }
                             boost::system::error_code ignored;
                             sock->close(ignored);
                             return;
                           }
                           auto out = std::make_shared<SocketReplyStream>(std::move(*sock), slot);
                           dispatcher.Handle(peer, buf->substr(0, n - 1), out);
                         });
}

}  // namespace nodeagent
