// The node's network, as data. Plugins that check or prepare a node's network
// (join-prep's firewall and sysctl checks, calico-network's tunl0 and IP
// autodetection: "first-found", "interface=eth.*", "can-reach=X", "cidr=")
// need its interfaces, addresses, routes and the kernel's own route choice.
// They get them here, through the host seam, as plain values: the real host
// reads them from the kernel (rtnetlink, in the agent's network namespace),
// tests fill a fake from tables. Nothing here changes the network.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/result.h"

namespace nodeagent {

enum class AddressFamily { kIpv4, kIpv6 };

/// An IPv4 or IPv6 address.
struct IpAddress {
  AddressFamily family = AddressFamily::kIpv4;
  std::array<uint8_t, 16> bytes{};  ///< network order; IPv4 uses the first 4

  /// "10.0.0.1", "fd00::1"; nullopt for anything else (no prefix, no zone).
  static std::optional<IpAddress> Parse(std::string_view text);
  /// The canonical text (inet_ntop's).
  std::string ToString() const;
  /// 32 or 128.
  int bits() const { return family == AddressFamily::kIpv4 ? 32 : 128; }
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

/// An address with a prefix length: a network ("10.0.0.0/8") or an interface
/// address with its subnet ("10.0.0.5/24").
struct IpPrefix {
  IpAddress address;
  int length = 0;

  /// "10.0.0.0/8", "fd00::/64"; a bare address is a full-length prefix.
  /// nullopt when malformed or the length is out of range.
  static std::optional<IpPrefix> Parse(std::string_view text);
  /// "10.0.0.0/8" (the address as given, host bits kept).
  std::string ToString() const;
  /// Whether `a` (of the same family) lies inside: its first `length` bits
  /// equal this address's.
  bool Contains(const IpAddress& a) const;
  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

/// Counters of an interface since it was created (the kernel's 64-bit ones).
struct LinkStats {
  uint64_t rx_bytes = 0, tx_bytes = 0;
  uint64_t rx_packets = 0, tx_packets = 0;
  uint64_t rx_errors = 0, tx_errors = 0;
  uint64_t rx_dropped = 0, tx_dropped = 0;
};

/// A network interface (a link, in iproute2's words).
struct NetworkInterface {
  std::string name;   ///< "eth0", "tunl0", "cali1234"
  int index = 0;      ///< ifindex
  /// The driver kind as `ip -d link` shows it: "veth", "vxlan", "ipip",
  /// "bridge", "bond", "vlan", "tun", "wireguard"; "" for a physical NIC
  /// and for loopback.
  std::string kind;
  bool up = false;        ///< administratively up (IFF_UP)
  bool running = false;   ///< operationally up (IFF_RUNNING)
  bool lower_up = false;  ///< carrier on the layer below (IFF_LOWER_UP)
  bool loopback = false;  ///< IFF_LOOPBACK
  /// RFC 2863 state as `ip link` prints it: "UP", "DOWN", "UNKNOWN",
  /// "LOWERLAYERDOWN", "NOTPRESENT", "TESTING", "DORMANT".
  std::string operstate;
  uint32_t mtu = 0;
  /// "aa:bb:cc:dd:ee:ff" for Ethernet-like links; "" for loopback and for
  /// links with no 6-byte hardware address (ipip, tun).
  std::string mac;
  int master_index = 0;  ///< the bridge or bond it is enslaved to; 0 when none
  int link_index = 0;    ///< the link below (a vlan's parent, a veth's peer); 0 when none
  LinkStats stats;
};

/// An address assigned to an interface.
struct InterfaceAddress {
  int interface_index = 0;
  std::string interface;  ///< its name, "" if it went away between the reads
  IpPrefix prefix;        ///< the address itself and its prefix length ("10.0.0.5/24")
  /// "global", "site", "link", "host", "nowhere", or the number.
  std::string scope;
  bool secondary = false;  ///< IFA_F_SECONDARY (IPv4) / temporary (IPv6)
};

/// One next hop of a multipath route.
struct NextHop {
  std::optional<IpAddress> gateway;
  int device_index = 0;
  std::string device;
  int weight = 1;
};

/// A route, from any routing table.
struct Route {
  AddressFamily family = AddressFamily::kIpv4;
  uint32_t table = 254;  ///< 254 main, 255 local, 253 default, others by number
  IpPrefix destination;  ///< "0.0.0.0/0" for the default route
  std::optional<IpAddress> gateway;
  int device_index = 0;  ///< 0 for blackhole/unreachable and multipath routes
  std::string device;
  std::optional<IpAddress> source;  ///< the preferred source (`src` in ip route)
  /// Who added it, as /etc/iproute2/rt_protos names it: "kernel", "boot",
  /// "static", "dhcp", "bird", "bgp"...; otherwise the number ("80").
  std::string protocol;
  uint32_t metric = 0;
  /// "unicast", "local", "broadcast", "anycast", "multicast", "blackhole",
  /// "unreachable", "prohibit", "throw", "nat", or the number.
  std::string type;
  std::string scope;             ///< as InterfaceAddress::scope
  std::vector<NextHop> nexthops;  ///< multipath (ECMP) routes only
};

/// What the kernel would do with a packet to `destination` sent by this node
/// with no source bound (`ip route get X`).
struct RouteLookup {
  IpAddress destination;
  std::optional<IpAddress> source;  ///< the address it would send from
  std::optional<IpAddress> gateway;  ///< none when the destination is on-link
  int device_index = 0;
  std::string device;
  uint32_t table = 254;
  std::string type;  ///< "unicast", "local" (one of this node's addresses)...
};

/// The node's network, read-only. Each call reads afresh (no cache); each
/// answer is bounded (the real reader caps message sizes, the total, and the
/// count of interfaces, addresses and routes, and says TooLarge beyond them).
class NetworkInfo {
 public:
  virtual ~NetworkInfo() = default;
  /// Every interface, by index.
  virtual Result<std::vector<NetworkInterface>> Interfaces() = 0;
  /// Every IPv4 and IPv6 address, by interface index.
  virtual Result<std::vector<InterfaceAddress>> Addresses() = 0;
  /// Every IPv4 and IPv6 route of every table.
  virtual Result<std::vector<Route>> Routes() = 0;
  /// The kernel's choice for `destination`. NotFound when it has no route
  /// (unreachable); the error names the destination.
  virtual Result<RouteLookup> LookupRoute(const IpAddress& destination) = 0;
};

}  // namespace nodeagent
