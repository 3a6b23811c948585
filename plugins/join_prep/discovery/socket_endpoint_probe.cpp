// The real EndpointProbe: getaddrinfo, non-blocking connect(2) + poll(2), an
// OpenSSL client that verifies nothing, and a minimal HTTP/1.1 GET.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "discovery/endpoint_probe.h"
#include "discovery/http_answer.h"

namespace nodeagent::join_prep {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  int get() const { return fd_; }

 private:
  int fd_;
};

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

std::string HostPort(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string NumericAddress(const sockaddr* sa, socklen_t len) {
  char buf[NI_MAXHOST] = {0};
  if (getnameinfo(sa, len, buf, sizeof buf, nullptr, 0, NI_NUMERICHOST) != 0) return "?";
  return buf;
}

bool IsNumericAddress(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

struct AddrInfoList {
  addrinfo* head = nullptr;
  ~AddrInfoList() {
    if (head) freeaddrinfo(head);
  }
};

Status Lookup(const std::string& host, int port, int socktype, AddrInfoList& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_ADDRCONFIG;
  std::string service = port > 0 ? std::to_string(port) : "";
  int rc = getaddrinfo(host.c_str(), service.empty() ? nullptr : service.c_str(), &hints, &out.head);
  if (rc == EAI_SYSTEM) return ErrnoError("resolving " + host, errno);
  if (rc != 0 || out.head == nullptr)
    return Error(ErrorCode::kNotFound, "resolving " + host + ": " + (rc ? gai_strerror(rc) : "no address"));
  return Status::Ok();
}

/// One non-blocking connect to one address, waiting until `deadline`.
Result<Fd> ConnectOne(const addrinfo* ai, Clock::time_point deadline) {
  Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
  if (fd.get() < 0) return ErrnoError("socket", errno);
  if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) return fd;
  if (errno != EINPROGRESS) return Error(errno == ECONNREFUSED ? ErrorCode::kUnavailable : ErrorCode::kIo,
                                         std::string("connect: ") + std::strerror(errno));
  pollfd p{fd.get(), POLLOUT, 0};
  for (;;) {
    int n = ::poll(&p, 1, MillisLeft(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("poll", errno);
    if (n == 0) return Error(ErrorCode::kTimeout, "connect: no answer in time");
    break;
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) return ErrnoError("getsockopt", errno);
  if (err == 0) return fd;
  ErrorCode code = (err == ECONNREFUSED || err == ENETUNREACH || err == EHOSTUNREACH) ? ErrorCode::kUnavailable
                   : err == ETIMEDOUT                                               ? ErrorCode::kTimeout
                                                                                    : ErrorCode::kIo;
  return Error(code, std::string("connect: ") + std::strerror(err));
}

/// Tries every address of host:port in turn; the last failure wins.
Result<std::pair<Fd, std::string>> ConnectAny(const std::string& host, int port, Clock::time_point deadline) {
  AddrInfoList list;
  if (Status s = Lookup(host, port, SOCK_STREAM, list); !s) return s.error();
  Error last(ErrorCode::kUnavailable, "no address");
  for (const addrinfo* ai = list.head; ai; ai = ai->ai_next) {
    std::string addr = HostPort(NumericAddress(ai->ai_addr, ai->ai_addrlen), port);
    auto fd = ConnectOne(ai, deadline);
    if (fd) return std::make_pair(std::move(*fd), addr);
    last = fd.error().Wrap(addr);
    if (MillisLeft(deadline) == 0) break;
  }
  return last;
}

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

/// Blocks SIGPIPE on this thread while a TLS connection writes (OpenSSL
/// writes with write(2), which raises it when the peer has gone) and drops
/// one raised meanwhile, so a process that did not ignore SIGPIPE (agentctl,
/// a tool) is not killed by a server that hangs up.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~ScopedSigpipeBlock() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{0, 0};
        while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

/// Waits for what OpenSSL asked for; false on timeout.
bool WaitFor(int fd, int ssl_error, Clock::time_point deadline) {
  pollfd p{fd, static_cast<short>(ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
  for (;;) {
    int n = ::poll(&p, 1, MillisLeft(deadline));
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

/// Runs an SSL call until it succeeds, fails or the deadline passes.
template <typename Op>
Result<int> DriveSsl(SSL* ssl, int fd, Clock::time_point deadline, const char* what, Op op) {
  for (;;) {
    ERR_clear_error();
    int rc = op();
    if (rc > 0) return rc;
    int err = SSL_get_error(ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!WaitFor(fd, err, deadline)) return Error(ErrorCode::kTimeout, std::string(what) + ": no answer in time");
      continue;
    }
    if (err == SSL_ERROR_ZERO_RETURN) return 0;
    if (err == SSL_ERROR_SYSCALL) {
      int e = errno;
      std::string detail = OpenSslErrors();
      if (detail.empty()) detail = e ? std::strerror(e) : "the peer closed the connection";
      return Error(ErrorCode::kIo, std::string(what) + ": " + detail);
    }
    std::string detail = OpenSslErrors();
    return Error(ErrorCode::kIo, std::string(what) + ": " + (detail.empty() ? "TLS error " + std::to_string(err) : detail));
  }
}

std::vector<std::string> PeerChainDer(SSL* ssl) {
  std::vector<std::string> out;
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (chain == nullptr) return out;
  for (int i = 0; i < sk_X509_num(chain) && i < 16; ++i) {
    X509* cert = sk_X509_value(chain, i);
    int len = i2d_X509(cert, nullptr);
    if (len <= 0) continue;
    std::string der(static_cast<size_t>(len), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_X509(cert, &p);
    out.push_back(std::move(der));
  }
  return out;
}

class SocketEndpointProbe : public EndpointProbe {
 public:
  Result<std::vector<std::string>> Resolve(const std::string& host) override {
    AddrInfoList list;
    if (Status s = Lookup(host, 0, SOCK_STREAM, list); !s) return s.error();
    std::vector<std::string> out;
    for (const addrinfo* ai = list.head; ai && out.size() < 64; ai = ai->ai_next) {
      std::string a = NumericAddress(ai->ai_addr, ai->ai_addrlen);
      if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    }
    return out;
  }

  Result<std::string> Connect(const std::string& host, int port, std::chrono::milliseconds timeout) override {
    auto c = ConnectAny(host, port, Clock::now() + timeout);
    if (!c) return c.error();
    return c->second;
  }

  Result<TlsExchange> HttpsGet(const std::string& host, int port, const std::string& path,
                               std::chrono::milliseconds timeout) override {
    const auto deadline = Clock::now() + timeout;
    auto c = ConnectAny(host, port, deadline);
    if (!c) return c.error();
    const int fd = c->first.get();
    ScopedSigpipeBlock no_sigpipe;
    TlsExchange ex;
    ex.address = c->second;

    std::unique_ptr<SSL_CTX, SslDeleter> ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) return Internal("SSL_CTX_new: " + OpenSslErrors());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // we want the chain, whatever it is
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    std::unique_ptr<SSL, SslDeleter> ssl(SSL_new(ctx.get()));
    if (!ssl) return Internal("SSL_new: " + OpenSslErrors());
    SSL_set_fd(ssl.get(), fd);
    if (!IsNumericAddress(host)) SSL_set_tlsext_host_name(ssl.get(), host.c_str());
    SSL_set_connect_state(ssl.get());

    auto hs = DriveSsl(ssl.get(), fd, deadline, "TLS handshake", [&] { return SSL_connect(ssl.get()); });
    if (!hs) return hs.error().Wrap(ex.address);
    if (*hs == 0) return IoError(ex.address + ": TLS handshake: the peer closed the connection");
    ex.chain_der = PeerChainDer(ssl.get());
    ex.tls_version = SSL_get_version(ssl.get());

    std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + HostPort(host, port) +
                          "\r\nAccept: application/json\r\nUser-Agent: nodeagent-join-prep\r\nConnection: close\r\n\r\n";
    size_t sent = 0;
    while (sent < request.size()) {
      auto w = DriveSsl(ssl.get(), fd, deadline, "sending the request", [&] {
        return SSL_write(ssl.get(), request.data() + sent, static_cast<int>(request.size() - sent));
      });
      if (!w || *w == 0) {
        ex.http_error = w ? "the peer closed the connection" : w.error().message();
        return ex;
      }
      sent += static_cast<size_t>(*w);
    }
    std::string raw;
    char buf[16384];
    for (;;) {
      auto r = DriveSsl(ssl.get(), fd, deadline, "reading the answer",
                        [&] { return SSL_read(ssl.get(), buf, sizeof buf); });
      if (!r) {
        // A server that closes without close_notify still sent its answer.
        if (raw.empty() || r.error().code() == ErrorCode::kTimeout) {
          ex.http_error = r.error().message();
          return ex;
        }
        break;
      }
      if (*r == 0) break;
      raw.append(buf, static_cast<size_t>(*r));
      if (raw.size() > kMaxHttpAnswerBytes) {
        ex.http_error = "the answer to GET " + path + " is larger than " + std::to_string(kMaxHttpAnswerBytes) + " bytes";
        return ex;
      }
      if (HttpAnswerComplete(raw)) break;
    }
    auto answer = ParseHttpAnswer(raw);
    if (!answer) ex.http_error = answer.error().message();
    else ex.answer = std::move(*answer);
    return ex;
  }
};

}  // namespace

std::unique_ptr<EndpointProbe> MakeSocketEndpointProbe() { return std::make_unique<SocketEndpointProbe>(); }

}  // namespace nodeagent::join_prep
