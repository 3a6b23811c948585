// Can this node open a TCP connection to its BGP peers' port 179? When
// calico-node's readiness says "BGP not established with 192.168.56.12",
// the first question is whether the peer's BIRD can be reached at all (a
// firewall dropping 179, a wrong source address, a peer that is down).
// TcpProbe is the seam: SocketTcpProbe connects for real (non-blocking
// sockets and poll, all targets at once up to 64 in flight, each with its
// own timeout), FakeTcpProbe answers from a table in unit tests. Only a
// TCP handshake is made; nothing is sent on an open connection, which is
// closed at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeagent/network.h"

namespace nodeagent::calico {

enum class ProbeState {
  kOpen,     ///< the handshake completed
  kRefused,  ///< RST: the host is up, nothing listens there (or a firewall rejects with RST)
  kTimeout,  ///< no answer within the timeout: dropped SYNs, or the host is down
  kError,    ///< any other failure (no route, unreachable); see message
};
const char* ProbeStateName(ProbeState state);

struct ProbeResult {
  IpAddress address;
  ProbeState state = ProbeState::kError;
  std::string message;  ///< "connected", "connection refused", "no answer within 2000 ms", strerror text
};

class TcpProbe {
 public:
  virtual ~TcpProbe() = default;
  /// One result per target, in the order given. Targets past the
  /// implementation's bound are answered kError without being tried.
  virtual std::vector<ProbeResult> Probe(const std::vector<IpAddress>& targets, uint16_t port,
                                         std::chrono::milliseconds timeout) = 0;
};

/// Real connects. At most kMaxInFlight at once and kMaxTargets in all, so a
/// call takes at most ceil(min(n, kMaxTargets) / kMaxInFlight) * timeout.
class SocketTcpProbe : public TcpProbe {
 public:
  static constexpr size_t kMaxInFlight = 64;
  static constexpr size_t kMaxTargets = 1024;
  std::vector<ProbeResult> Probe(const std::vector<IpAddress>& targets, uint16_t port,
                                 std::chrono::milliseconds timeout) override;
};

/// Answers from `states` by address text (default kTimeout), recording each call.
class FakeTcpProbe : public TcpProbe {
 public:
  std::map<std::string, ProbeState> states;
  struct Call {
    std::vector<IpAddress> targets;
    uint16_t port = 0;
    std::chrono::milliseconds timeout{0};
  };
  std::vector<Call> calls;

  std::vector<ProbeResult> Probe(const std::vector<IpAddress>& targets, uint16_t port,
                                 std::chrono::milliseconds timeout) override;
};

nlohmann::json ToJson(const std::vector<ProbeResult>& results);

}  // namespace nodeagent::calico
