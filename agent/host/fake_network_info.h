// A NetworkInfo that tests fill from tables: interfaces, addresses and routes
// set directly, and a route lookup computed from those routes the way the
// kernel's main path does it (local table first, then the longest prefix,
// then the lowest metric), so a plugin's "can-reach" or source-address logic
// is tested without a network namespace.
#pragma once

#include <optional>
#include <vector>

#include "nodeagent/network.h"

namespace nodeagent {

class FakeNetworkInfo : public NetworkInfo {
 public:
  std::vector<NetworkInterface> interfaces;
  std::vector<InterfaceAddress> addresses;
  std::vector<Route> routes;
  /// When set, every call fails with it (an unreadable netlink socket).
  std::optional<Error> failure;

  Result<std::vector<NetworkInterface>> Interfaces() override;
  Result<std::vector<InterfaceAddress>> Addresses() override;
  Result<std::vector<Route>> Routes() override;
  /// From `routes` of tables 255 (local) and 254 (main), unicast and local
  /// only: a local-table match first, else the longest prefix, then the
  /// lowest metric. The source is the route's own, else the destination
  /// for a local route, else the device's first address of that family
  /// (global scope before others). NotFound when no route matches.
  Result<RouteLookup> LookupRoute(const IpAddress& destination) override;
};

}  // namespace nodeagent
