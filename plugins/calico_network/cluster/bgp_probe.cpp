#include "cluster/bgp_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace nodeagent::calico {
namespace {

using Clock = std::chrono::steady_clock;

struct InFlight {
  int fd = -1;
  size_t index = 0;
  Clock::time_point deadline;
};

ProbeResult Finish(const IpAddress& address, int err) {
  if (err == 0) return {address, ProbeState::kOpen, "connected"};
  if (err == ECONNREFUSED) return {address, ProbeState::kRefused, "connection refused"};
  if (err == ETIMEDOUT) return {address, ProbeState::kTimeout, "connection timed out"};
  return {address, ProbeState::kError, std::strerror(err)};
}

// Starts a connect; returns the fd (in progress) or -1 with `done` filled.
int Start(const IpAddress& a, uint16_t port, ProbeResult& done) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (a.family == AddressFamily::kIpv4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, a.bytes.data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, a.bytes.data(), 16);
    len = sizeof(sockaddr_in6);
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    done = {a, ProbeState::kError, std::string("socket: ") + std::strerror(errno)};
    return -1;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    close(fd);
    done = Finish(a, 0);
    return -1;
  }
  int err = errno;
  if (err == EINPROGRESS) return fd;
  close(fd);
  done = Finish(a, err);
  return -1;
}

}  // namespace

const char* ProbeStateName(ProbeState state) {
  switch (state) {
    case ProbeState::kOpen: return "open";
    case ProbeState::kRefused: return "refused";
    case ProbeState::kTimeout: return "timeout";
    case ProbeState::kError: return "error";
  }
  return "error";
}

std::vector<ProbeResult> SocketTcpProbe::Probe(const std::vector<IpAddress>& targets, uint16_t port,
                                               std::chrono::milliseconds timeout) {
  std::vector<ProbeResult> results(targets.size());
  size_t n = std::min(targets.size(), kMaxTargets);
  for (size_t i = n; i < targets.size(); ++i)
    results[i] = {targets[i], ProbeState::kError, "not tried: more than " + std::to_string(kMaxTargets) + " targets"};
  if (timeout.count() <= 0) timeout = std::chrono::milliseconds(1);
  std::vector<InFlight> flight;
  size_t next = 0;
  while (next < n || !flight.empty()) {
    while (next < n && flight.size() < kMaxInFlight) {
      ProbeResult done;
      int fd = Start(targets[next], port, done);
      if (fd >= 0) flight.push_back({fd, next, Clock::now() + timeout});
      else results[next] = done;
      ++next;
    }
    if (flight.empty()) continue;
    auto now = Clock::now();
    auto earliest = std::min_element(flight.begin(), flight.end(),
                                     [](const InFlight& a, const InFlight& b) { return a.deadline < b.deadline; })
                        ->deadline;
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(std::max(earliest - now, Clock::duration::zero()));
    std::vector<pollfd> fds;
    for (const InFlight& f : flight) fds.push_back({f.fd, POLLOUT, 0});
    int rc = poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    if (rc < 0 && errno != EINTR) {
      std::string why = std::string("poll: ") + std::strerror(errno);
      for (const InFlight& f : flight) {
        results[f.index] = {targets[f.index], ProbeState::kError, why};
        close(f.fd);
      }
      flight.clear();
      continue;
    }
    now = Clock::now();
    std::vector<InFlight> still;
    for (size_t i = 0; i < flight.size(); ++i) {
      const InFlight& f = flight[i];
      if (rc > 0 && fds[i].revents != 0) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(f.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        results[f.index] = Finish(targets[f.index], err);
        close(f.fd);
      } else if (now >= f.deadline) {
        results[f.index] = {targets[f.index], ProbeState::kTimeout,
                            "no answer within " + std::to_string(timeout.count()) + " ms"};
        close(f.fd);
      } else {
        still.push_back(f);
      }
    }
    flight.swap(still);
  }
  return results;
}

std::vector<ProbeResult> FakeTcpProbe::Probe(const std::vector<IpAddress>& targets, uint16_t port,
                                             std::chrono::milliseconds timeout) {
  calls.push_back({targets, port, timeout});
  std::vector<ProbeResult> out;
  for (const IpAddress& a : targets) {
    auto it = states.find(a.ToString());
    ProbeState s = it == states.end() ? ProbeState::kTimeout : it->second;
    out.push_back({a, s, ProbeStateName(s)});
  }
  return out;
}

nlohmann::json ToJson(const std::vector<ProbeResult>& results) {
  nlohmann::json out = nlohmann::json::array();
  for (const ProbeResult& r : results)
    out.push_back({{"address", r.address.ToString()}, {"state", ProbeStateName(r.state)}, {"message", r.message}});
  return out;
}

}  // namespace nodeagent::calico
