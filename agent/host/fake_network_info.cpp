#include "host/fake_network_info.h"

namespace nodeagent {

Result<std::vector<NetworkInterface>> FakeNetworkInfo::Interfaces() {
  if (failure) return *failure;
  return interfaces;
}

Result<std::vector<InterfaceAddress>> FakeNetworkInfo::Addresses() {
  if (failure) return *failure;
  return addresses;
}

Result<std::vector<Route>> FakeNetworkInfo::Routes() {
  if (failure) return *failure;
  return routes;
}

Result<RouteLookup> FakeNetworkInfo::LookupRoute(const IpAddress& destination) {
  if (failure) return *failure;
  const Route* best = nullptr;
  auto better = [](const Route& a, const Route* b) {
    if (!b) return true;
    if ((a.table == 255) != (b->table == 255)) return a.table == 255;
    if (a.destination.length != b->destination.length) return a.destination.length > b->destination.length;
    return a.metric < b->metric;
  };
  for (const auto& r : routes) {
    if (r.family != destination.family || (r.table != 254 && r.table != 255)) continue;
    if (r.type != "unicast" && r.type != "local") continue;
    if (!r.destination.Contains(destination)) continue;
    if (better(r, best)) best = &r;
  }
  if (!best) return Error(ErrorCode::kNotFound, "no route to " + destination.ToString() + ": Network is unreachable");
  RouteLookup out;
  out.destination = destination;
  out.gateway = best->gateway;
  out.device_index = best->device_index;
  out.device = best->device;
  out.table = best->table;
  out.type = best->type;
  out.source = best->source;
  if (!out.source && best->type == "local") out.source = destination;
  if (!out.source) {
    const InterfaceAddress* pick = nullptr;
    for (const auto& a : addresses) {
      if (a.interface_index != best->device_index || a.prefix.address.family != destination.family) continue;
      if (!pick || (pick->scope != "global" && a.scope == "global")) pick = &a;
    }
    if (pick) out.source = pick->prefix.address;
  }
  return out;
}

}  // namespace nodeagent
