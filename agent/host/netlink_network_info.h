// The real NetworkInfo: the kernel's own answers over rtnetlink (libmnl), the
// same messages `ip link/addr/route` read, without spawning a process or
// parsing text, and where iproute2 is absent. It reads the network namespace
// the calling thread is in when each call opens its socket, so a test in a
// namespace of its own sees only that namespace. Every answer is bounded:
// one message buffer, a total per dump, and a cap on the count of
// interfaces, addresses and routes; beyond any of them the call fails with
// TooLarge naming the cap, rather than returning part of the table.
#pragma once

#include <chrono>
#include <cstddef>

#include "nodeagent/network.h"

namespace nodeagent {

class NetlinkNetworkInfo : public NetworkInfo {
 public:
  struct Limits {
    /// The receive buffer: no single netlink datagram may be larger (the
    /// kernel sizes dump datagrams to the reader's buffer, at most 32 KiB).
    size_t max_message_bytes = size_t{32} << 10;
    /// All datagrams of one dump together.
    size_t max_dump_bytes = size_t{64} << 20;
    size_t max_interfaces = 16384;
    size_t max_addresses = 65536;
    size_t max_routes = 262144;
    /// How long one receive may wait for the kernel.
    std::chrono::milliseconds receive_timeout{5000};
  };

  NetlinkNetworkInfo() : NetlinkNetworkInfo(Limits{}) {}
  explicit NetlinkNetworkInfo(Limits limits) : limits_(limits) {}

  Result<std::vector<NetworkInterface>> Interfaces() override;
  Result<std::vector<InterfaceAddress>> Addresses() override;
  Result<std::vector<Route>> Routes() override;
  Result<RouteLookup> LookupRoute(const IpAddress& destination) override;

 private:
  Limits limits_;
};

}  // namespace nodeagent
