#include "interfaces/calico_interfaces.h"

#include <algorithm>
#include <limits>

namespace nodeagent::calico {

namespace {

constexpr size_t kMaxPools = 1000;

/// Calico's tunnel devices, in report order, with felix's MTU overhead and
/// the FELIX_ env variable (FelixConfiguration field) that sets the MTU.
/// Calico's manifest (manifests/calico.yaml) fills FELIX_IPINIPMTU,
/// FELIX_VXLANMTU and FELIX_WIREGUARDMTU from veth_mtu in the calico-config
/// ConfigMap; the operator from the Installation's spec.calicoNetwork.mtu.
struct TunnelSpec {
  const char* name;
  const char* encapsulation;
  uint32_t overhead;
  const char* env;
  const char* felix_field;
  bool from_veth_mtu;
};
constexpr TunnelSpec kTunnels[] = {
    {"tunl0", "IPIP", 20, "FELIX_IPINIPMTU", "ipipMTU", true},
    {"vxlan.calico", "VXLAN", 50, "FELIX_VXLANMTU", "vxlanMTU", true},
    {"vxlan-v6.calico", "VXLAN IPv6", 70, "FELIX_VXLANMTUV6", "vxlanMTUV6", false},
    {"wireguard.cali", "WireGuard", 60, "FELIX_WIREGUARDMTU", "wireguardMTU", true},
    {"wg-v6.cali", "WireGuard IPv6", 80, "FELIX_WIREGUARDMTUV6", "wireguardMTUV6", false},
};

const TunnelSpec& SpecOf(const std::string& name) {
  for (const auto& t : kTunnels)
    if (name == t.name) return t;
  return kTunnels[0];
}

Result<std::string> Mode(const nlohmann::json& spec, const char* key, const std::string& pool) {
  auto it = spec.find(key);
  if (it == spec.end() || it->is_null()) return std::string("Never");
  if (!it->is_string()) return InvalidArgument("IP pool " + pool + ": spec." + key + " is not a string");
  std::string v = it->get<std::string>();
  if (v.empty()) return std::string("Never");
  if (v != "Always" && v != "CrossSubnet" && v != "Never")
    return InvalidArgument("IP pool " + pool + ": spec." + key + " \"" + v + "\" is not Always, CrossSubnet or Never");
  return v;
}

std::string Names(const std::vector<IpPoolView>& pools) {
  std::string out;
  for (const auto& p : pools) out += (out.empty() ? "" : ", ") + p.name;
  return out;
}

std::string JoinStrings(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The device of the default route: IPv4 first, then IPv6; main table; lowest
// metric; a multipath route's first next hop.
std::string DefaultRouteDevice(const std::vector<Route>& routes) {
  for (AddressFamily family : {AddressFamily::kIpv4, AddressFamily::kIpv6}) {
    const Route* best = nullptr;
    for (const auto& r : routes) {
      if (r.family != family || r.table != 254 || r.destination.length != 0) continue;
      if (!r.type.empty() && r.type != "unicast") continue;
      if (!best || r.metric < best->metric) best = &r;
    }
    if (!best) continue;
    if (!best->device.empty()) return best->device;
    if (!best->nexthops.empty()) return best->nexthops.front().device;
  }
  return "";
}

bool IsWireGuard(const std::string& name) { return name == "wireguard.cali" || name == "wg-v6.cali"; }

// WireGuard devices exist only when Calico enables WireGuard (not per pool).
void WarnWireGuardDown(InterfacesReport& report) {
  for (const auto& c : report.interfaces)
    if (c.exists && !c.up && IsWireGuard(c.name))
      report.problems.push_back({ProblemSeverity::kWarning, c.name,
                                 c.name + " exists but is down: Calico creates it only for WireGuard and brings it up; "
                                          "check calico-node on this node"});
}

}  // namespace

Result<std::vector<IpPoolView>> ParseIpPools(const nlohmann::json& list) {
  if (!list.is_object()) return InvalidArgument("IP pool list: not a JSON object");
  auto items = list.find("items");
  if (items == list.end() || items->is_null()) return std::vector<IpPoolView>{};
  if (!items->is_array()) return InvalidArgument("IP pool list: items is not an array");
  if (items->size() > kMaxPools)
    return Error(ErrorCode::kTooLarge, "IP pool list: " + std::to_string(items->size()) + " pools, over the limit of " +
                                           std::to_string(kMaxPools));
  std::vector<IpPoolView> out;
  size_t index = 0;
  for (const auto& item : *items) {
    std::string where = "item " + std::to_string(index++);
    if (!item.is_object()) return InvalidArgument("IP pool list: " + where + " is not an object");
    IpPoolView pool;
    const auto* meta = item.contains("metadata") && item["metadata"].is_object() ? &item["metadata"] : nullptr;
    if (!meta || !meta->contains("name") || !(*meta)["name"].is_string())
      return InvalidArgument("IP pool list: " + where + " has no metadata.name");
    pool.name = (*meta)["name"].get<std::string>();
    if (!item.contains("spec") || !item["spec"].is_object())
      return InvalidArgument("IP pool " + pool.name + ": no spec");
    const auto& spec = item["spec"];
    if (!spec.contains("cidr") || !spec["cidr"].is_string())
      return InvalidArgument("IP pool " + pool.name + ": no spec.cidr");
    pool.cidr = spec["cidr"].get<std::string>();
    auto prefix = IpPrefix::Parse(pool.cidr);
    if (!prefix) return InvalidArgument("IP pool " + pool.name + ": spec.cidr \"" + pool.cidr + "\" is not a CIDR");
    pool.ipv6 = prefix->address.family == AddressFamily::kIpv6;
    auto ipip = Mode(spec, "ipipMode", pool.name);
    if (!ipip) return ipip.error();
    auto vxlan = Mode(spec, "vxlanMode", pool.name);
    if (!vxlan) return vxlan.error();
    pool.ipip_mode = *ipip;
    pool.vxlan_mode = *vxlan;
    pool.disabled = spec.contains("disabled") && spec["disabled"].is_boolean() && spec["disabled"].get<bool>();
    pool.legacy_ipip = spec.contains("ipip") && !spec["ipip"].is_null();
    out.push_back(std::move(pool));
  }
  return out;
}

nlohmann::json CalicoInterface::ToJson() const {
  return {{"name", name},
          {"exists", exists},
          {"up", up},
          {"mtu", mtu},
          {"kind", kind},
          {"addresses", addresses},
          {"errors",
           {{"rx_errors", stats.rx_errors},
            {"tx_errors", stats.tx_errors},
            {"rx_dropped", stats.rx_dropped},
            {"tx_dropped", stats.tx_dropped}}}};
}

const char* ProblemSeverityName(ProblemSeverity s) {
  switch (s) {
    case ProblemSeverity::kInfo: return "info";
    case ProblemSeverity::kWarning: return "warning";
    case ProblemSeverity::kError: return "error";
  }
  return "warning";
}

nlohmann::json InterfaceProblem::ToJson() const {
  return {{"severity", ProblemSeverityName(severity)}, {"subject", subject}, {"message", message}};
}

nlohmann::json InterfacesReport::ToJson() const {
  nlohmann::json ifaces = nlohmann::json::array();
  for (const auto& i : interfaces) ifaces.push_back(i.ToJson());
  nlohmann::json probs = nlohmann::json::array();
  for (const auto& p : problems) probs.push_back(p.ToJson());
  return {{"interfaces", ifaces},
          {"underlying", underlying.empty() ? nlohmann::json(nullptr) : nlohmann::json(underlying)},
          {"underlying_mtu", underlying_mtu},
          {"cali_veths", cali_veths},
          {"problems", probs}};
}

bool InterfacesReport::HasWarnings() const {
  return std::any_of(problems.begin(), problems.end(),
                     [](const InterfaceProblem& p) { return p.severity != ProblemSeverity::kInfo; });
}

Result<InterfacesReport> ReportCalicoInterfaces(NetworkInfo& net, const InterfaceReportInputs& in) {
  auto links = net.Interfaces();
  if (!links) return links.error();
  auto addrs = net.Addresses();
  if (!addrs) return addrs.error();

  InterfacesReport report;
  // A problem about a pool ("pool NAME") is the pools' modes; any other is a
  // tunnel's state unless it is said to be about the MTU (warn_mtu).
  auto add = [&](ProblemSeverity severity, std::string subject, std::string message, InterfaceCheck check) {
    if (subject.starts_with("pool ")) check = InterfaceCheck::kPoolModes;
    report.problems.push_back({severity, std::move(subject), std::move(message), check});
  };
  auto warn = [&](std::string subject, std::string message) {
    add(ProblemSeverity::kWarning, std::move(subject), std::move(message), InterfaceCheck::kTunnelState);
  };
  auto warn_mtu = [&](std::string subject, std::string message) {
    add(ProblemSeverity::kWarning, std::move(subject), std::move(message), InterfaceCheck::kTunnelMtu);
  };
  auto info = [&](std::string subject, std::string message) {
    add(ProblemSeverity::kInfo, std::move(subject), std::move(message), InterfaceCheck::kTunnelState);
  };

  for (const auto& l : *links)
    if (l.name.rfind("cali", 0) == 0) ++report.cali_veths;

  auto find_link = [&](const std::string& name) -> const NetworkInterface* {
    for (const auto& l : *links)
      if (l.name == name) return &l;
    return nullptr;
  };

  for (const auto& spec : kTunnels) {
    const NetworkInterface* link = find_link(spec.name);
    if (!link && std::string(spec.name) != "tunl0") continue;
    CalicoInterface c;
    c.name = spec.name;
    c.encapsulation = spec.encapsulation;
    c.overhead = spec.overhead;
    if (link) {
      c.exists = true;
      c.up = link->up;
      c.mtu = link->mtu;
      c.kind = link->kind;
      c.stats = link->stats;
      for (const auto& a : *addrs)
        if (a.interface_index == link->index) c.addresses.push_back(a.prefix.ToString());
    }
    report.interfaces.push_back(std::move(c));
  }

  // The underlying interface and its MTU.
  std::string underlying = in.underlying;
  if (underlying.empty()) {
    auto routes = net.Routes();
    if (!routes) return routes.error();
    underlying = DefaultRouteDevice(*routes);
    if (underlying.empty())
      warn_mtu("underlying", "no default route, so the interface under the tunnels is unknown: the tunnel MTU check is "
                         "skipped (give the node's interface explicitly)");
  }
  if (!underlying.empty()) {
    if (const NetworkInterface* u = find_link(underlying)) {
      report.underlying = underlying;
      report.underlying_mtu = u->mtu;
    } else {
      warn_mtu(underlying, "the underlying interface " + underlying + " does not exist: the tunnel MTU check is skipped");
    }
  }

  // Tunnel MTUs against the underlying MTU minus Calico's overhead.
  if (report.underlying_mtu > 0) {
    for (const auto& c : report.interfaces) {
      if (!c.exists) continue;
      const TunnelSpec& spec = SpecOf(c.name);
      int64_t limit = int64_t{report.underlying_mtu} - spec.overhead;
      if (int64_t{c.mtu} <= limit) continue;
      std::string fix = limit > 0 ? "set " + std::string(spec.env) + " (FelixConfiguration " + spec.felix_field +
                                        (spec.from_veth_mtu ? "; veth_mtu in the calico-config ConfigMap" : "") +
                                        "; the Installation's spec.calicoNetwork.mtu) to " + std::to_string(limit) +
                                        " or lower"
                                  : "the underlying MTU is too small for " + std::string(spec.encapsulation);
      warn_mtu(c.name, c.name + " MTU " + std::to_string(c.mtu) + " > " + report.underlying + " MTU " +
                       std::to_string(report.underlying_mtu) + " - " + std::to_string(spec.overhead) + " (" +
                       spec.encapsulation + "): " + fix +
                       "; until then full-size packets between pods on different nodes are dropped or fragmented");
    }
  }

  // Counters: totals since the link was created.
  for (const auto& c : report.interfaces) {
    const LinkStats& s = c.stats;
    if (!c.exists || (s.rx_errors | s.tx_errors | s.rx_dropped | s.tx_dropped) == 0) continue;
    info(c.name, c.name + " has counted rx_errors " + std::to_string(s.rx_errors) + ", tx_errors " +
                     std::to_string(s.tx_errors) + ", rx_dropped " + std::to_string(s.rx_dropped) + ", tx_dropped " +
                     std::to_string(s.tx_dropped) +
                     " since it was created; compare two runs to see whether they still rise");
  }

  // The pools against the devices.
  const CalicoInterface& tunl0 = report.interfaces.front();
  bool tunl0_used_looking = tunl0.exists && (tunl0.up || !tunl0.addresses.empty());
  if (!in.pools) {
    info("IP pools", "the IP pools could not be read: tunl0 and the VXLAN devices are not compared with the pools' "
                     "ipipMode and vxlanMode");
    // VXLAN and WireGuard devices exist only when Calico made them; tunl0
    // is Calico's once it carries the tunnel address.
    for (const auto& c : report.interfaces) {
      if (!c.exists || c.up || IsWireGuard(c.name)) continue;
      if (c.name != "tunl0" || !c.addresses.empty())
        warn(c.name, c.name + " exists but is down: Calico brings its tunnel up when it uses it; check calico-node on "
                              "this node");
    }
    WarnWireGuardDown(report);
    return report;
  }
  const auto& pools = *in.pools;
  for (const auto& p : pools) {
    if (p.legacy_ipip)
      warn("pool " + p.name, "IP pool " + p.name + " has the old APIv1 field spec.ipip, which Calico v3 ignores: only "
                             "spec.ipipMode counts (here " + p.ipip_mode + "); set ipipMode and remove spec.ipip");
  }
  std::vector<IpPoolView> ipip_pools, vxlan4_pools, vxlan6_pools;
  for (const auto& p : pools) {
    if (p.UsesIpip() && !p.ipv6) ipip_pools.push_back(p);
    if (p.UsesVxlan()) (p.ipv6 ? vxlan6_pools : vxlan4_pools).push_back(p);
  }
  if (!ipip_pools.empty()) {
    if (!tunl0.exists) {
      for (const auto& p : ipip_pools)
        warn("pool " + p.name, "IP pool " + p.name + " (" + p.cidr + ") has ipipMode " + p.ipip_mode +
                                   " but tunl0 does not exist: calico-node creates it when IPIP is enabled; check that "
                                   "calico-node runs on this node and that the ipip module loads (modprobe ipip)");
    } else if (!tunl0.up) {
      warn("tunl0", "tunl0 is down while IP pool(s) " + Names(ipip_pools) +
                        " use IPIP: Calico brings it up when it runs; check calico-node on this node");
    }
  } else if (tunl0.exists) {
    std::string pools_said = pools.empty() ? "there are no IP pools" : "every IP pool has ipipMode Never (" + Names(pools) + ")";
    if (tunl0_used_looking) {
      std::string state = std::string(tunl0.up ? "up" : "down") +
                          (tunl0.addresses.empty() ? "" : " with " + JoinStrings(tunl0.addresses));
      warn("tunl0", "tunl0 is " + state + " but " + pools_said +
                        ": the node's IPIP setup and the pools disagree (left over from an earlier IPIP setting, or "
                        "CALICO_IPV4POOL_IPIP / FELIX_IPINIPENABLED not matching the pools)");
    } else {
      info("tunl0", "tunl0 exists, down and without an address, and " + pools_said +
                        ": unused (the kernel creates tunl0 whenever the ipip module is loaded)");
    }
  }
  struct VxlanCheck {
    const char* device;
    const std::vector<IpPoolView>& pools;
  };
  for (const VxlanCheck& v : {VxlanCheck{"vxlan.calico", vxlan4_pools}, VxlanCheck{"vxlan-v6.calico", vxlan6_pools}}) {
    auto it = std::find_if(report.interfaces.begin(), report.interfaces.end(),
                           [&](const CalicoInterface& c) { return c.name == v.device; });
    bool present = it != report.interfaces.end();
    if (v.pools.empty()) {
      if (present && !it->up) warn(v.device, std::string(v.device) + " exists but is down");
      continue;
    }
    if (!present) {
      for (const auto& p : v.pools)
        warn("pool " + p.name, "IP pool " + p.name + " (" + p.cidr + ") has vxlanMode " + p.vxlan_mode + " but " +
                                   v.device + " does not exist: calico-node creates it when VXLAN is enabled; check "
                                   "that calico-node runs on this node");
    } else if (!it->up) {
      warn(v.device, std::string(v.device) + " is down while IP pool(s) " + Names(v.pools) +
                         " use VXLAN: Calico brings it up when it runs; check calico-node on this node");
    }
  }
  WarnWireGuardDown(report);
  return report;
}

}  // namespace nodeagent::calico
