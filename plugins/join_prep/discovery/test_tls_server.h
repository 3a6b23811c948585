// For the discovery tests only: certificates made with the openssl command
// (a CA, a server certificate it signs, a second unrelated CA) in a temp
// directory, and a TLS server on a loopback port, run by a thread of the
// test, that answers each GET from a table of raw HTTP answers, or (silent
// mode) accepts connections and never speaks. Header-only so that it stays
// out of join_prep_core.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <ctime>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace nodeagent::join_prep::testing {

/// Runs a shell line; throws with its output when it fails.
inline std::string Sh(const std::string& line) {
  std::string cmd = line + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + line);
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int rc = ::pclose(p);
  if (rc != 0) throw std::runtime_error("`" + line + "` failed (" + std::to_string(rc) + "): " + out);
  return out;
}

inline std::string ReadText(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

/// A CA, a server certificate for 127.0.0.1 and ::1 it signs, another CA.
struct TestPki {
  std::string dir;
  std::string ca_crt, ca_key, server_crt, server_key, other_ca_crt;
  std::string chain_pem;  ///< server then CA
  std::string ca_pin;     ///< computed by the openssl command line and sha256sum

  TestPki() {
    char tmpl[] = "/tmp/jp-discovery-pki-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    dir = tmpl;
    ca_crt = dir + "/ca.crt";
    ca_key = dir + "/ca.key";
    server_crt = dir + "/server.crt";
    server_key = dir + "/server.key";
    other_ca_crt = dir + "/other-ca.crt";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    Sh("cd " + dir + " && openssl req -x509" + ec + "-keyout ca.key -out ca.crt -days 2 -subj /CN=test-kubernetes-ca"
       " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
    Sh("cd " + dir + " && openssl req -x509" + ec + "-keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=other-ca"
       " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
    Sh("cd " + dir + " && openssl req" + ec + "-keyout server.key -out server.csr -subj /CN=kube-apiserver");
    Sh("cd " + dir + " && printf 'basicConstraints=CA:FALSE\\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\\n' > ext.cnf"
       " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2"
       " -extfile ext.cnf");
    chain_pem = ReadText(server_crt) + ReadText(ca_crt);
    std::ofstream(dir + "/chain.crt") << chain_pem;
    std::string sum = Sh("openssl x509 -pubkey -noout -in " + ca_crt +
                         " | openssl pkey -pubin -outform der | sha256sum");
    ca_pin = "sha256:" + sum.substr(0, 64);
  }
  ~TestPki() { std::filesystem::remove_all(dir); }
  std::string chain_file() const { return dir + "/chain.crt"; }
};

/// A raw HTTP/1.1 answer with a Date header `date` (IMF-fixdate).
inline std::string HttpText(int status, const std::string& reason, const std::string& body, const std::string& date,
                            bool chunked = false) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: application/json\r\n";
  if (!date.empty()) head += "Date: " + date + "\r\n";
  if (!chunked) return head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::string out = head + "Transfer-Encoding: chunked\r\n\r\n";
  for (size_t i = 0; i < body.size(); i += 7) {
    std::string part = body.substr(i, 7);
    char size[16];
    std::snprintf(size, sizeof size, "%zx", part.size());
    out += std::string(size) + "\r\n" + part + "\r\n";
  }
  return out + "0\r\n\r\n";
}

inline std::string ImfDate(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

class TestTlsServer {
 public:
  enum class Mode { kServe, kSilent };
  /// `answers`: path -> raw HTTP answer; other paths get a 404.
  TestTlsServer(const std::string& cert_chain_file, const std::string& key_file, std::map<std::string, std::string> answers,
                Mode mode = Mode::kServe, const std::string& address = "127.0.0.1")
      : answers_(std::move(answers)), mode_(mode) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(ctx_, cert_chain_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      throw std::runtime_error("server certificate or key does not load");
    bool v6 = address.find(':') != std::string::npos;
    listen_fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      inet_pton(AF_INET6, address.c_str(), &a->sin6_addr);
      len = sizeof(sockaddr_in6);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      inet_pton(AF_INET, address.c_str(), &a->sin_addr);
      len = sizeof(sockaddr_in);
    }
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(listen_fd_, 16) != 0)
      throw std::runtime_error("cannot listen on " + address);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (::pipe(stop_pipe_) != 0) throw std::runtime_error("pipe");
    thread_ = std::thread([this] { Loop(); });
  }
  ~TestTlsServer() {
    char c = 0;
    (void)!::write(stop_pipe_[1], &c, 1);
    thread_.join();
    for (int fd : held_) ::close(fd);
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
    SSL_CTX_free(ctx_);
  }
  int port() const { return port_; }
  int connections() const { return connections_.load(); }
  std::vector<std::string> paths() const {
    std::lock_guard<std::mutex> l(mu_);
    return paths_;
  }

 private:
  void Loop() {
    for (;;) {
      pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) continue;
      if (p[1].revents) return;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      if (mode_ == Mode::kSilent) {
        held_.push_back(fd);  // open until the end, never a byte
        continue;
      }
      Serve(fd);
      ::close(fd);
    }
  }

  void Serve(int fd) {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      std::string path;
      if (request.rfind("GET ", 0) == 0) path = request.substr(4, request.find(' ', 4) - 4);
      {
        std::lock_guard<std::mutex> l(mu_);
        paths_.push_back(path);
      }
      auto it = answers_.find(path);
      std::string answer = it != answers_.end() ? it->second : HttpText(404, "Not Found", "{}", "");
      SSL_write(ssl, answer.data(), static_cast<int>(answer.size()));
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
  }

  std::map<std::string, std::string> answers_;
  Mode mode_;
  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  std::vector<int> held_;
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<std::string> paths_;
  std::thread thread_;
};

}  // namespace nodeagent::join_prep::testing
