#include "autodetect/autodetect.h"

#include <algorithm>
#include <map>
#include <regex>

namespace nodeagent::calico {
namespace {

constexpr size_t kMaxListItems = 64;    // regexes or CIDRs in one method value
constexpr size_t kMaxValueLength = 4096;

std::string FamilyName(AddressFamily family) { return family == AddressFamily::kIpv4 ? "IPv4" : "IPv6"; }

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Calico splits lists with the regex `\s*,\s*`: blanks around commas go,
// blanks at the ends of the whole value stay.
std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> parts;
  std::string current;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != ',') {
      current.push_back(text[i]);
      continue;
    }
    while (!current.empty() && IsBlank(current.back())) current.pop_back();
    parts.push_back(current);
    current.clear();
    while (i + 1 < text.size() && IsBlank(text[i + 1])) ++i;
  }
  parts.push_back(current);
  return parts;
}

bool StartsWith(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

Result<std::vector<std::string>> ParseRegexList(std::string_view method, std::string_view list) {
  auto parts = SplitList(list);
  if (parts.size() > kMaxListItems)
    return InvalidArgument(std::string(method) + ": more than " + std::to_string(kMaxListItems) + " regexes");
  for (const auto& p : parts) {
    try {
      std::regex compiled(p, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return InvalidArgument(std::string(method) + ": interface regex \"" + p + "\" does not compile: " + e.what());
    }
  }
  return parts;
}

IpPrefix NetworkOf(IpPrefix p) {
  for (int bit = p.length; bit < p.address.bits(); ++bit)
    p.address.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  return p;
}

// ---------- the interface walk (interfaces.go, filtered.go) ----------

struct CandidateInterface {
  std::string name;
  int index = 0;
  std::vector<IpPrefix> cidrs;  // addresses of the wanted family, kernel order
};

struct Tables {
  std::vector<NetworkInterface> interfaces;  // by ifindex, ascending
  std::map<int, std::vector<InterfaceAddress>> addresses;
};

Result<Tables> ReadTables(NetworkInfo& network) {
  auto interfaces = network.Interfaces();
  if (!interfaces) return interfaces.error().Wrap("listing interfaces");
  auto addresses = network.Addresses();
  if (!addresses) return addresses.error().Wrap("listing addresses");
  Tables t;
  t.interfaces = std::move(*interfaces);
  std::stable_sort(t.interfaces.begin(), t.interfaces.end(),
                   [](const auto& a, const auto& b) { return a.index < b.index; });
  for (auto& a : *addresses) t.addresses[a.interface_index].push_back(std::move(a));
  return t;
}

bool MatchesAny(const std::vector<std::string>& regexes, const std::string& name, std::string* which) {
  for (const auto& r : regexes) {
    // Go's MatchString finds the pattern anywhere: unanchored search.
    if (std::regex_search(name, std::regex(r, std::regex::ECMAScript))) {
      if (which) *which = r;
      return true;
    }
  }
  return false;
}

// GetInterfaces: the interfaces from the highest ifindex down (Calico walks
// net.Interfaces() in reverse "to maintain behavior with older versions"),
// kept when an include regex matches (or none is given) and no exclude
// regex does; link state is not looked at.
std::vector<CandidateInterface> FilterInterfaces(const Tables& t, const std::vector<std::string>& include,
                                                 const std::vector<std::string>& exclude, AddressFamily family,
                                                 std::vector<std::string>* skipped) {
  std::vector<CandidateInterface> out;
  for (auto it = t.interfaces.rbegin(); it != t.interfaces.rend(); ++it) {
    std::string which;
    bool included = include.empty() || MatchesAny(include, it->name, nullptr);
    bool excluded = MatchesAny(exclude, it->name, &which);
    if (!included || excluded) {
      if (skipped) skipped->push_back(it->name + (excluded ? " (" + which + ")" : " (not matched)"));
      continue;
    }
    CandidateInterface c{it->name, it->index, {}};
    auto found = t.addresses.find(it->index);
    if (found != t.addresses.end())
      for (const auto& a : found->second)
        if (a.prefix.address.family == family) c.cidrs.push_back(a.prefix);
    out.push_back(std::move(c));
  }
  return out;
}

bool InAnyCidr(const IpAddress& ip, const std::vector<IpPrefix>& cidrs) {
  if (cidrs.empty()) return true;
  return std::any_of(cidrs.begin(), cidrs.end(),
                     [&](const IpPrefix& c) { return c.address.family == ip.family && c.Contains(ip); });
}

// FilteredEnumeration: the first global unicast address (in the cidrs, if
// any) of the first interface that has one.
Result<Pick> FirstGlobalAddress(const Tables& t, const std::vector<std::string>& include,
                                const std::vector<std::string>& exclude, const std::vector<IpPrefix>& cidrs,
                                AddressFamily family, const std::string& method_text) {
  std::vector<std::string> skipped;
  auto candidates = FilterInterfaces(t, include, exclude, family, &skipped);
  if (candidates.empty()) return NotFound(method_text + ": no valid host interfaces found");
  for (const auto& c : candidates) {
    for (const auto& cidr : c.cidrs) {
      if (!IsGlobalUnicast(cidr.address) || !InAnyCidr(cidr.address, cidrs)) continue;
      std::string why = method_text + ": " + c.name + " (ifindex " + std::to_string(c.index) +
                        ") is the first interface, walking from the highest ifindex down, with a global unicast " +
                        FamilyName(family) + " address" + (cidrs.empty() ? "" : " inside the given CIDRs");
      if (!skipped.empty()) {
        why += "; skipped";
        for (size_t i = 0; i < skipped.size(); ++i) why += (i ? ", " : " ") + skipped[i];
      }
      return Pick{c.name, cidr, why};
    }
  }
  return NotFound(method_text + ": no valid " + FamilyName(family) + " addresses found on the host interfaces");
}

// An address on any interface (no filters, any scope), as reachaddr.go and
// GetLocalCIDR look for it.
std::optional<Pick> FindLocalAddress(const Tables& t, const IpAddress& ip) {
  for (const auto& c : FilterInterfaces(t, {}, {}, ip.family, nullptr))
    for (const auto& cidr : c.cidrs)
      if (cidr.address == ip) return Pick{c.name, cidr, ""};
  return std::nullopt;
}

Result<IpAddress> ResolveDestination(const std::string& destination, AddressFamily family, NameResolver* resolver) {
  if (auto ip = IpAddress::Parse(destination)) {
    if (ip->family != family)
      return InvalidArgument("can-reach=" + destination + ": not an " + FamilyName(family) + " address");
    return *ip;
  }
  if (!resolver) return InvalidArgument("can-reach=" + destination + ": a host name and no resolver to look it up");
  auto addresses = resolver->Resolve(destination, family);
  if (!addresses) return addresses.error().Wrap("can-reach=" + destination + ": resolving");
  for (const auto& a : *addresses)
    if (a.family == family) return a;
  return NotFound("can-reach=" + destination + ": no " + FamilyName(family) + " address for the name");
}

Result<Pick> ByReach(const AutodetectionMethod& m, NetworkInfo& network, const Tables& t, AddressFamily family,
                     const AutodetectInputs& inputs) {
  auto destination = ResolveDestination(m.destination, family, inputs.resolver);
  if (!destination) return destination.error();
  auto route = network.LookupRoute(*destination);
  if (!route) return route.error().Wrap("can-reach=" + m.destination);
  if (!route->source)
    return NotFound("can-reach=" + m.destination + ": the route to " + destination->ToString() +
                    " has no source address");
  auto local = FindLocalAddress(t, *route->source);
  if (!local)
    return NotFound("can-reach=" + m.destination + ": autodetected " + FamilyName(family) + " address " +
                    route->source->ToString() + " does not match any addresses found on local interfaces");
  local->why = "can-reach=" + m.destination + ": the kernel sends to " + destination->ToString() + " from " +
               route->source->ToString() + " (via " + (route->device.empty() ? "?" : route->device) + ")";
  return *local;
}

Result<Pick> ByInternalIp(const Tables& t, AddressFamily family, const AutodetectInputs& inputs) {
  if (!inputs.node_known)
    return InvalidArgument("kubernetes-internal-ip: not running on a Kubernetes cluster (no Node object)");
  auto internal = FirstInternalIp(inputs, family);
  if (!internal) return NotFound("kubernetes-internal-ip: the Node has no " + FamilyName(family) + " InternalIP");
  auto local = FindLocalAddress(t, *internal);
  if (!local)
    return NotFound("kubernetes-internal-ip: InternalIP " + internal->ToString() +
                    " is on no interface of this node (Calico then cannot give it a prefix and finds nothing)");
  local->why = "kubernetes-internal-ip: the Node's InternalIP " + internal->ToString() + " is on " + local->interface;
  return *local;
}

std::string MethodLabel(const AutodetectionMethod& m) { return m.text.empty() ? "first-found" : m.text; }

}  // namespace

const std::vector<std::string>& DefaultExcludedInterfaces() {
  static const std::vector<std::string> kList = {
      "^docker.*",         "^cbr.*",         "^dummy.*",         "^podman.*",           "^virbr.*",
      "^lxcbr.*",          "^veth.*",        "^lo",              "^br-.*",              "^cali.*",
      "^tunl.*",           "^flannel.*",     "^kube-ipvs.*",     "^cni.*",              "^vxlan\\.calico.*",
      "^vxlan-v6\\.calico.*", "^wireguard\\.cali.*", "^wg-v6\\.cali.*", "^nodelocaldns.*"};
  return kList;
}

bool IsGlobalUnicast(const IpAddress& a) {
  const auto& b = a.bytes;
  if (a.family == AddressFamily::kIpv4) {
    bool unspecified = b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0;
    bool broadcast = b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255;
    bool loopback = b[0] == 127;
    bool multicast = (b[0] & 0xf0) == 224;
    bool link_local = b[0] == 169 && b[1] == 254;
    return !(unspecified || broadcast || loopback || multicast || link_local);
  }
  bool zero_head = std::all_of(b.begin(), b.begin() + 15, [](uint8_t x) { return x == 0; });
  bool unspecified = zero_head && b[15] == 0;
  bool loopback = zero_head && b[15] == 1;
  bool multicast = b[0] == 0xff;
  bool link_local = b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
  return !(unspecified || loopback || multicast || link_local);
}

Result<AutodetectionMethod> ParseAutodetectionMethod(std::string_view value) {
  if (value.size() > kMaxValueLength) return InvalidArgument("autodetection method longer than 4096 characters");
  AutodetectionMethod m;
  m.text = std::string(value);
  auto after = [&](std::string_view prefix) { return value.substr(prefix.size()); };
  if (value.empty() || value == "first-found") {
    m.kind = AutodetectKind::kFirstFound;
  } else if (StartsWith(value, "interface=")) {
    m.kind = AutodetectKind::kInterface;
    auto r = ParseRegexList("interface=", after("interface="));
    if (!r) return r.error();
    m.interface_regexes = std::move(*r);
  } else if (StartsWith(value, "cidr=")) {
    m.kind = AutodetectKind::kCidr;
    auto parts = SplitList(after("cidr="));
    if (parts.size() > kMaxListItems) return InvalidArgument("cidr=: more than 64 CIDRs");
    for (const auto& p : parts) {
      auto prefix = p.find('/') == std::string::npos ? std::nullopt : IpPrefix::Parse(p);
      if (!prefix) return InvalidArgument("cidr=: invalid CIDR \"" + p + "\" (want ADDRESS/LENGTH)");
      m.cidrs.push_back(NetworkOf(*prefix));
    }
  } else if (StartsWith(value, "can-reach=")) {
    m.kind = AutodetectKind::kCanReach;
    m.destination = std::string(after("can-reach="));
    if (m.destination.empty()) return InvalidArgument("can-reach=: no destination given");
  } else if (StartsWith(value, "skip-interface=")) {
    m.kind = AutodetectKind::kSkipInterface;
    auto r = ParseRegexList("skip-interface=", after("skip-interface="));
    if (!r) return r.error();
    m.interface_regexes = std::move(*r);
  } else if (StartsWith(value, "kubernetes-internal-ip")) {
    m.kind = AutodetectKind::kKubernetesInternalIp;
  } else {
    return InvalidArgument("invalid IP autodetection method \"" + std::string(value) +
                           "\" (want first-found, interface=, skip-interface=, cidr=, can-reach= or "
                           "kubernetes-internal-ip)");
  }
  return m;
}

std::optional<IpAddress> FirstInternalIp(const AutodetectInputs& inputs, AddressFamily family) {
  for (const auto& a : inputs.node_addresses) {
    if (a.type != "InternalIP") continue;
    auto ip = IpAddress::Parse(a.address);
    if (ip && ip->family == family) return ip;
  }
  return std::nullopt;
}

Result<Pick> Autodetect(const AutodetectionMethod& m, NetworkInfo& network, AddressFamily family,
                        const AutodetectInputs& inputs) {
  auto tables = ReadTables(network);
  if (!tables) return tables.error();
  const std::string label = MethodLabel(m);
  switch (m.kind) {
    case AutodetectKind::kFirstFound:
      return FirstGlobalAddress(*tables, {}, DefaultExcludedInterfaces(), {}, family, label);
    case AutodetectKind::kInterface:
      return FirstGlobalAddress(*tables, m.interface_regexes, {}, {}, family, label);
    case AutodetectKind::kSkipInterface: {
      auto exclude = DefaultExcludedInterfaces();
      exclude.insert(exclude.end(), m.interface_regexes.begin(), m.interface_regexes.end());
      return FirstGlobalAddress(*tables, {}, exclude, {}, family, label);
    }
    case AutodetectKind::kCidr:
      return FirstGlobalAddress(*tables, {}, {}, m.cidrs, family, label);
    case AutodetectKind::kCanReach:
      return ByReach(m, network, *tables, family, inputs);
    case AutodetectKind::kKubernetesInternalIp:
      return ByInternalIp(*tables, family, inputs);
  }
  return Internal("unknown autodetection kind");
}

AutodetectionUse CalicoAutodetects(AddressFamily family, std::string_view ip_env,
                                   std::string_view existing_bgp_address) {
  const std::string var = family == AddressFamily::kIpv4 ? "IP" : "IP6";
  if (ip_env == "autodetect") return {true, var + "=autodetect"};
  if (family == AddressFamily::kIpv4 && ip_env.empty() && existing_bgp_address.empty())
    return {true, "IP is unset and the Calico Node has no IPv4 address yet"};
  if (ip_env.empty() && family == AddressFamily::kIpv4)
    return {false, "IP is unset and the Calico Node keeps its IPv4 address " + std::string(existing_bgp_address)};
  if (ip_env.empty()) return {false, "IP6 is unset (IPv6 is autodetected only with IP6=autodetect)"};
  if (ip_env == "none") return {false, var + "=none"};
  return {false, var + "=" + std::string(ip_env) + " is given"};
}

std::string_view MethodEnvName(AddressFamily family) {
  return family == AddressFamily::kIpv4 ? "IP_AUTODETECTION_METHOD" : "IP6_AUTODETECTION_METHOD";
}

Result<InternalIpComparison> CompareWithInternalIp(const AutodetectionMethod& m, const Pick& pick,
                                                   NetworkInfo& network, AddressFamily family,
                                                   const AutodetectInputs& inputs) {
  InternalIpComparison out;
  out.internal_ip = FirstInternalIp(inputs, family);
  const std::string picks = MethodLabel(m) + " picks " + pick.address.address.ToString() +
                            (pick.interface.empty() ? "" : " on " + pick.interface);
  if (!out.internal_ip) {
    out.suggestion = picks + "; the Node has no " + FamilyName(family) + " InternalIP to compare with";
    return out;
  }
  if (pick.address.address == *out.internal_ip) {
    out.matches = true;
    return out;
  }
  auto tables = ReadTables(network);
  if (!tables) return tables.error();
  auto local = FindLocalAddress(*tables, *out.internal_ip);
  const std::string internal_text = "InternalIP is " + out.internal_ip->ToString();
  if (!local) {
    out.suggestion = picks + "; " + internal_text +
                     ", which is on no interface of this node; fix the kubelet's --node-ip or the node's addresses";
    return out;
  }
  out.internal_ip_interface = local->interface;
  // The simplest value that really picks the InternalIP on these tables.
  std::vector<std::string> candidates = {"interface=" + local->interface, "interface=^" + local->interface + "$",
                                         "cidr=" + out.internal_ip->ToString() + "/" +
                                             std::to_string(out.internal_ip->bits())};
  std::string chosen;
  for (const auto& c : candidates) {
    auto parsed = ParseAutodetectionMethod(c);
    if (!parsed) continue;
    auto again = Autodetect(*parsed, network, family, inputs);
    if (again && again->address.address == *out.internal_ip) {
      chosen = c;
      break;
    }
  }
  out.suggested_method = chosen;
  out.suggestion = picks + "; " + internal_text + " on " + local->interface + "; set " +
                   std::string(MethodEnvName(family)) + "=" + (chosen.empty() ? "" : chosen + " or ") +
                   "kubernetes-internal-ip";
  return out;
}

}  // namespace nodeagent::calico
