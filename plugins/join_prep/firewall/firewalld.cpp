#include "firewall/firewalld.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <stdexcept>

#include "nodeagent/network.h"
#include "text.h"

namespace nodeagent::join_prep {
namespace {

constexpr size_t kMaxOutputLines = 20000;  // per command
constexpr size_t kMaxZones = 512;
constexpr size_t kMaxItems = 10000;        // words on one "key:" line, rich rules of a zone
constexpr size_t kMaxServices = 1024;
constexpr int kMaxIncludeDepth = 8;
constexpr size_t kMaxXmlTags = 10000;
constexpr int kFirewallCmdNotRunning = 252;

std::vector<std::string> Words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

Error ParseError(std::string_view command, size_t line_no, std::string_view line, std::string_view what) {
  return InvalidArgument(std::string(command) + ": line " + std::to_string(line_no) + ": " + std::string(what) +
                         ": \"" + std::string(line.substr(0, 200)) + "\"");
}

/// "6443/tcp", "2379-2380/tcp".
std::optional<FirewalldPort> ParsePortWord(std::string_view word) {
  size_t slash = word.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto range = ParsePortRange(word.substr(0, slash));
  std::string proto(word.substr(slash + 1));
  if (!range || proto.empty()) return std::nullopt;
  return FirewalldPort{*range, proto};
}

std::string FormatPort(const FirewalldPort& p) { return FormatPortRange(p.ports) + "/" + p.protocol; }

/// The names /etc/protocols and firewalld use for `proto`.
bool ProtocolNames(Proto proto, std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  switch (proto) {
    case Proto::kTcp: return lower == "tcp" || lower == "6";
    case Proto::kUdp: return lower == "udp" || lower == "17";
    // Not "ipip": in /etc/protocols that is protocol 94, not IP-in-IP (4).
    case Proto::kIpip: return lower == "ipencap" || lower == "ip-encap" || lower == "4";
  }
  return false;
}

/// Whether the union of `ranges` covers every port of `want`.
bool Covers(std::vector<PortRange> ranges, PortRange want) {
  std::sort(ranges.begin(), ranges.end(), [](const PortRange& a, const PortRange& b) { return a.first < b.first; });
  uint32_t next = want.first;  // first port not yet covered
  for (const auto& r : ranges) {
    if (r.first > next) break;
    if (r.last >= next) next = uint32_t{r.last} + 1;
    if (next > want.last) return true;
  }
  return next > want.last;
}

std::string Describe(const RequiredPort& port) {
  if (port.proto == Proto::kIpip) return "IPIP (IP protocol 4)";
  return FormatPortRange(port.ports) + "/" + ProtoName(port.proto);
}

// --- a small XML tag scanner, enough for service files -------------------------

struct XmlTag {
  std::string name;  // "port", "/service"
  std::map<std::string, std::string> attributes;
};

std::string XmlUnescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    static constexpr std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool done = false;
    for (const auto& [entity, c] : kEntities) {
      if (s.substr(i, entity.size()) == entity) {
        out += c;
        i += entity.size() - 1;
        done = true;
        break;
      }
    }
    if (!done) out += '&';
  }
  return out;
}

Result<std::vector<XmlTag>> ScanXmlTags(std::string_view xml, std::string_view file) {
  std::vector<XmlTag> tags;
  size_t i = 0;
  while ((i = xml.find('<', i)) != std::string_view::npos) {
    if (xml.substr(i, 4) == "<!--") {
      size_t end = xml.find("-->", i + 4);
      if (end == std::string_view::npos) return InvalidArgument(std::string(file) + ": unterminated comment");
      i = end + 3;
      continue;
    }
    if (xml.substr(i, 2) == "<?" || xml.substr(i, 2) == "<!") {
      size_t end = xml.find('>', i);
      if (end == std::string_view::npos) return InvalidArgument(std::string(file) + ": unterminated declaration");
      i = end + 1;
      continue;
    }
    if (tags.size() >= kMaxXmlTags) return InvalidArgument(std::string(file) + ": more than " + std::to_string(kMaxXmlTags) + " tags");
    size_t j = i + 1;
    XmlTag tag;
    while (j < xml.size() && xml[j] != ' ' && xml[j] != '\t' && xml[j] != '\n' && xml[j] != '\r' && xml[j] != '>' &&
           xml[j] != '/')
      tag.name += xml[j++];
    if (tag.name.empty() && j < xml.size() && xml[j] == '/') {  // a closing tag
      ++j;
      while (j < xml.size() && xml[j] != '>') tag.name += xml[j++];
      tag.name = "/" + std::string(TrimView(tag.name));
    }
    while (true) {
      while (j < xml.size() && (xml[j] == ' ' || xml[j] == '\t' || xml[j] == '\n' || xml[j] == '\r')) ++j;
      if (j >= xml.size()) return InvalidArgument(std::string(file) + ": unterminated tag <" + tag.name);
      if (xml[j] == '>') break;
      if (xml[j] == '/' && j + 1 < xml.size() && xml[j + 1] == '>') {
        ++j;
        break;
      }
      size_t eq = xml.find('=', j);
      if (eq == std::string_view::npos || eq + 1 >= xml.size() || (xml[eq + 1] != '"' && xml[eq + 1] != '\''))
        return InvalidArgument(std::string(file) + ": malformed attribute in <" + tag.name + ">");
      std::string key(TrimView(xml.substr(j, eq - j)));
      char quote = xml[eq + 1];
      size_t close = xml.find(quote, eq + 2);
      if (close == std::string_view::npos) return InvalidArgument(std::string(file) + ": unterminated attribute " + key);
      tag.attributes[key] = XmlUnescape(xml.substr(eq + 2, close - eq - 2));
      j = close + 1;
    }
    tags.push_back(std::move(tag));
    i = j + 1;
  }
  return tags;
}

// --- reading -------------------------------------------------------------------

struct FirewallCmdOutput {
  bool missing = false;
  CommandResult result;
};

Result<FirewallCmdOutput> RunFirewallCmd(Host& host, std::vector<std::string> args) {
  CommandSpec spec;
  spec.argv = {"firewall-cmd"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.read_only = true;
  spec.timeout = std::chrono::seconds(30);
  auto r = host.commands().Run(spec);
  if (!r) {
    if (r.error().code() == ErrorCode::kNotFound) return FirewallCmdOutput{true, {}};
    return r.error().Wrap(CommandLine(spec.argv));
  }
  return FirewallCmdOutput{false, std::move(*r)};
}

Error CommandFailed(const std::vector<std::string>& args, const CommandResult& r) {
  std::vector<std::string> argv = {"firewall-cmd"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string err(TrimView(r.stderr_data.substr(0, 500)));
  std::string how = r.timed_out ? "timed out" : "exited " + std::to_string(r.exit_code);
  return IoError(CommandLine(argv) + " " + how + (err.empty() ? "" : ": " + err));
}

/// Runs a firewall-cmd query that must succeed; its stdout.
Result<std::string> Query(Host& host, const std::vector<std::string>& args) {
  auto out = RunFirewallCmd(host, args);
  if (!out) return out.error();
  if (out->missing) return NotFound("firewall-cmd disappeared while it was being read");
  if (!out->result.succeeded()) return CommandFailed(args, out->result);
  return std::move(out->result.stdout_data);
}

Result<FirewalldService> ReadService(Host& host, const std::string& name, int depth, std::set<std::string>& seen) {
  FirewalldService service;
  service.name = name;
  if (depth > kMaxIncludeDepth) {
    service.problem = "includes nested deeper than " + std::to_string(kMaxIncludeDepth);
    return service;
  }
  if (!seen.insert(name).second) {
    service.problem = "includes itself";
    return service;
  }
  if (name.empty() || name.find('/') != std::string::npos || name.find("..") != std::string::npos) {
    service.problem = "not a service name";
    return service;
  }
  for (const char* dir : {"/etc/firewalld/services/", "/usr/lib/firewalld/services/"}) {
    std::string path = std::string(dir) + name + ".xml";
    auto text = host.files().ReadFile(path);
    if (!text) {
      if (text.error().code() == ErrorCode::kNotFound) continue;
      service.problem = text.error().message();
      return service;
    }
    auto parsed = ParseFirewalldService(*text, path);
    if (!parsed) {
      service.problem = parsed.error().message();
      service.file = path;
      return service;
    }
    service = std::move(*parsed);
    service.name = name;
    return service;
  }
  service.problem = "no definition in /etc/firewalld/services or /usr/lib/firewalld/services";
  return service;
}

}  // namespace

const FirewalldZone* FirewalldState::Zone(std::string_view name) const {
  for (const auto& z : zones)
    if (z.name == name) return &z;
  return nullptr;
}

Result<std::vector<FirewalldZone>> ParseFirewalldActiveZones(std::string_view text, std::string_view command) {
  auto lines = Lines(text);
  if (lines.size() > kMaxOutputLines)
    return InvalidArgument(std::string(command) + ": more than " + std::to_string(kMaxOutputLines) + " lines");
  std::vector<FirewalldZone> zones;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (TrimView(line).empty()) continue;
    if (line.front() != ' ' && line.front() != '\t') {
      auto words = Words(line);
      if (words.size() != 1) return ParseError(command, i + 1, line, "expected a zone name");
      if (zones.size() >= kMaxZones)
        return InvalidArgument(std::string(command) + ": more than " + std::to_string(kMaxZones) + " zones");
      FirewalldZone z;
      z.name = words[0];
      z.active = true;
      zones.push_back(std::move(z));
      continue;
    }
    if (zones.empty()) return ParseError(command, i + 1, line, "a binding before any zone name");
    std::string_view body = TrimView(line);
    size_t colon = body.find(':');
    if (colon == std::string_view::npos) return ParseError(command, i + 1, line, "expected \"interfaces:\" or \"sources:\"");
    std::string_view key = body.substr(0, colon);
    auto values = Words(body.substr(colon + 1));
    if (values.size() > kMaxItems) return ParseError(command, i + 1, line, "too many entries");
    if (key == "interfaces") zones.back().interfaces = values;
    else if (key == "sources") zones.back().sources = values;
    else return ParseError(command, i + 1, line, "unknown key \"" + std::string(key) + "\"");
  }
  return zones;
}

Result<FirewalldZone> ParseFirewalldZone(std::string_view text, std::string_view command) {
  auto lines = Lines(text);
  if (lines.size() > kMaxOutputLines)
    return InvalidArgument(std::string(command) + ": more than " + std::to_string(kMaxOutputLines) + " lines");
  FirewalldZone zone;
  bool have_name = false;
  bool in_rich_rules = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (TrimView(line).empty()) continue;
    if (!have_name) {
      // "public (active)", "public (default, active)", "public"
      if (line.front() == ' ' || line.front() == '\t') return ParseError(command, i + 1, line, "expected the zone name first");
      std::string_view t = TrimView(line);
      size_t paren = t.find(" (");
      zone.name = std::string(paren == std::string_view::npos ? t : t.substr(0, paren));
      if (paren != std::string_view::npos) zone.active = t.find("active", paren) != std::string_view::npos;
      if (zone.name.empty() || Words(zone.name).size() != 1) return ParseError(command, i + 1, line, "expected the zone name");
      have_name = true;
      continue;
    }
    // Rich rules: one per line, indented by a tab, after "  rich rules: ".
    if (in_rich_rules && line.front() == '\t') {
      if (zone.rich_rules.size() >= kMaxItems) return ParseError(command, i + 1, line, "too many rich rules");
      zone.rich_rules.emplace_back(TrimView(line));
      continue;
    }
    in_rich_rules = false;
    std::string_view body = TrimView(line);
    size_t colon = body.find(':');
    if (line.front() != ' ' || colon == std::string_view::npos)
      return ParseError(command, i + 1, line, "expected \"  key: values\"");
    std::string key(body.substr(0, colon));
    std::string_view rest = body.substr(colon + 1);
    auto values = Words(rest);
    if (values.size() > kMaxItems) return ParseError(command, i + 1, line, "too many entries");
    if (key == "target") {
      if (values.size() != 1) return ParseError(command, i + 1, line, "expected one target");
      zone.target = values[0];
    } else if (key == "interfaces") {
      zone.interfaces = values;
    } else if (key == "sources") {
      zone.sources = values;
    } else if (key == "services") {
      zone.services = values;
    } else if (key == "ports" || key == "source-ports") {
      auto& into = key == "ports" ? zone.ports : zone.source_ports;
      for (const auto& w : values) {
        auto p = ParsePortWord(w);
        if (!p) return ParseError(command, i + 1, line, "bad port \"" + w + "\"");
        into.push_back(*p);
      }
    } else if (key == "protocols") {
      zone.protocols = values;
    } else if (key == "ingress-priority") {
      if (values.size() != 1) return ParseError(command, i + 1, line, "expected one priority");
      try {
        size_t used = 0;
        zone.ingress_priority = std::stoi(values[0], &used);
        if (used != values[0].size()) throw std::invalid_argument("trailing");
      } catch (const std::exception&) {
        return ParseError(command, i + 1, line, "bad priority");
      }
    } else if (key == "rich rules") {
      in_rich_rules = true;
      if (!TrimView(rest).empty()) zone.rich_rules.emplace_back(TrimView(rest));
    }
    // Others (icmp-block-inversion, forward, masquerade, forward-ports,
    // icmp-blocks, ingress-priority...) do not decide what the input hook
    // accepts for a new TCP/UDP/IPIP connection to this host.
  }
  if (!have_name) return InvalidArgument(std::string(command) + ": empty output");
  return zone;
}

Result<FirewalldService> ParseFirewalldService(std::string_view xml, std::string_view file) {
  auto tags = ScanXmlTags(xml, file);
  if (!tags) return tags.error();
  FirewalldService s;
  s.file = std::string(file);
  bool in_service = false;
  for (const auto& tag : *tags) {
    if (tag.name == "service") in_service = true;
    if (!in_service) continue;
    auto attr = [&](const char* k) -> std::string {
      auto it = tag.attributes.find(k);
      return it == tag.attributes.end() ? "" : it->second;
    };
    if (tag.name == "port") {
      auto range = ParsePortRange(attr("port"));
      std::string proto = attr("protocol");
      if (!range || proto.empty())
        return InvalidArgument(std::string(file) + ": bad <port port=\"" + attr("port") + "\" protocol=\"" + proto + "\">");
      s.ports.push_back({*range, proto});
    } else if (tag.name == "protocol") {
      if (attr("value").empty()) return InvalidArgument(std::string(file) + ": <protocol> without value");
      s.protocols.push_back(attr("value"));
    } else if (tag.name == "destination") {
      s.has_destination = true;
    } else if (tag.name == "include") {
      if (attr("service").empty()) return InvalidArgument(std::string(file) + ": <include> without service");
      // Kept as a protocol-less marker; ReadFirewalld merges it.
      s.protocols.push_back("include:" + attr("service"));
    }
  }
  if (!in_service) return InvalidArgument(std::string(file) + ": no <service> element");
  return s;
}

namespace {

/// Merges the includes ("include:NAME" markers) of `s` into it.
void MergeIncludes(Host& host, FirewalldService& s, int depth, std::set<std::string>& seen) {
  std::vector<std::string> protocols;
  for (const auto& p : s.protocols) {
    if (p.rfind("include:", 0) != 0) {
      protocols.push_back(p);
      continue;
    }
    std::string inner_name = p.substr(8);
    auto inner = ReadService(host, inner_name, depth + 1, seen);
    if (!inner || !inner->problem.empty()) {
      if (s.problem.empty())
        s.problem = "included service " + inner_name + ": " + (inner ? inner->problem : inner.error().message());
      continue;
    }
    MergeIncludes(host, *inner, depth + 1, seen);
    if (!inner->problem.empty() && s.problem.empty()) s.problem = "included service " + inner_name + ": " + inner->problem;
    s.ports.insert(s.ports.end(), inner->ports.begin(), inner->ports.end());
    for (const auto& ip : inner->protocols) protocols.push_back(ip);
    s.has_destination = s.has_destination || inner->has_destination;
  }
  s.protocols = std::move(protocols);
}

}  // namespace

Result<FirewalldState> ReadFirewalld(Host& host) {
  FirewalldState state;
  auto st = RunFirewallCmd(host, {"--state"});
  if (!st) return st.error();
  if (st->missing) return state;
  state.installed = true;
  if (st->result.exit_code == kFirewallCmdNotRunning) return state;
  if (!st->result.succeeded()) return CommandFailed({"--state"}, st->result);
  if (TrimView(st->result.stdout_data) != "running")
    return InvalidArgument("firewall-cmd --state: expected \"running\", got \"" +
                           std::string(TrimView(st->result.stdout_data.substr(0, 200))) + "\"");
  state.running = true;

  auto def = Query(host, {"--get-default-zone"});
  if (!def) return def.error();
  state.default_zone = std::string(TrimView(*def));
  if (state.default_zone.empty() || Words(state.default_zone).size() != 1)
    return InvalidArgument("firewall-cmd --get-default-zone: expected one zone name, got \"" +
                           state.default_zone.substr(0, 200) + "\"");

  auto active_text = Query(host, {"--get-active-zones"});
  if (!active_text) return active_text.error();
  auto active = ParseFirewalldActiveZones(*active_text, "firewall-cmd --get-active-zones");
  if (!active) return active.error();

  std::vector<std::string> names;
  for (const auto& z : *active) names.push_back(z.name);
  if (std::find(names.begin(), names.end(), state.default_zone) == names.end()) names.push_back(state.default_zone);
  for (const auto& name : names) {
    std::vector<std::string> args = {"--zone=" + name, "--list-all"};
    auto text = Query(host, args);
    if (!text) return text.error();
    auto zone = ParseFirewalldZone(*text, "firewall-cmd " + CommandLine(args));
    if (!zone) return zone.error();
    if (zone->name != name)
      return InvalidArgument("firewall-cmd " + CommandLine(args) + ": printed zone \"" + zone->name + "\"");
    state.zones.push_back(std::move(*zone));
  }

  for (const auto& zone : state.zones) {
    for (const auto& name : zone.services) {
      if (state.services.count(name)) continue;
      if (state.services.size() >= kMaxServices) return InvalidArgument("more than " + std::to_string(kMaxServices) + " services");
      std::set<std::string> seen;
      auto service = ReadService(host, name, 0, seen);
      if (!service) return service.error();
      if (service->problem.empty()) MergeIncludes(host, *service, 0, seen);
      state.services.emplace(name, std::move(*service));
    }
  }
  return state;
}

FirewalldZoneMatch MatchFirewalldZone(const FirewalldState& state, std::string_view iifname, std::string_view saddr) {
  FirewalldZoneMatch m;
  auto addr = IpAddress::Parse(saddr);
  // firewalld 2.x orders zones by ingress priority first; only the order
  // of zones all at the default priority (0) is known here.
  std::string reordered;
  for (const auto& zone : state.zones)
    if (zone.ingress_priority != 0 && reordered.empty())
      reordered = "zone " + zone.name + " has ingress-priority " + std::to_string(zone.ingress_priority) +
                  ", which may change which zone is chosen";
  auto finish = [&](FirewalldZoneMatch match) {
    if (!reordered.empty()) {
      match.certain = false;
      match.note = match.note.empty() ? reordered : match.note + "; " + reordered;
    }
    return match;
  };
  std::vector<std::string> unjudged;  // sources that could match but cannot be checked
  for (const auto& zone : state.zones) {
    for (const auto& source : zone.sources) {
      auto prefix = IpPrefix::Parse(source);
      if (!prefix) {  // a MAC address or "ipset:NAME"
        unjudged.push_back(zone.name + " (source " + source + ")");
        continue;
      }
      if (!addr) {
        unjudged.push_back(zone.name + " (source " + source + ")");
        continue;
      }
      if (prefix->address.family == addr->family && prefix->Contains(*addr)) {
        m.zone = zone.name;
        m.reason = "source " + source;
        if (!unjudged.empty()) {
          m.certain = false;
          m.note = "an earlier source binding may match first: " + unjudged.front();
        }
        return finish(m);
      }
    }
  }
  if (!unjudged.empty()) {
    m.certain = false;
    m.note = addr ? "a source binding that cannot be checked against " + std::string(saddr) + " may apply: " + unjudged.front()
                  : "the control plane's address is not known and a zone is bound to a source: " + unjudged.front();
  }
  if (!iifname.empty()) {
    for (const auto& zone : state.zones) {
      if (std::find(zone.interfaces.begin(), zone.interfaces.end(), iifname) != zone.interfaces.end()) {
        m.zone = zone.name;
        m.reason = "interface " + std::string(iifname);
        return finish(m);
      }
    }
  } else {
    for (const auto& zone : state.zones) {
      if (!zone.interfaces.empty() && zone.name != state.default_zone) {
        m.certain = false;
        if (m.note.empty()) m.note = "the arriving interface is not known and zone " + zone.name + " has interfaces";
        break;
      }
    }
  }
  m.zone = state.default_zone;
  m.reason = "default zone";
  return finish(m);
}

std::string ZoneFor(const FirewalldState& state, std::string_view iifname, std::string_view saddr) {
  return MatchFirewalldZone(state, iifname, saddr).zone;
}

RuleVerdict FirewalldZoneVerdict(const FirewalldState& state, std::string_view zone_name, const RequiredPort& port) {
  RuleVerdict v;
  v.manager = "firewalld";
  v.chain = std::string(zone_name);
  const FirewalldZone* zone = state.Zone(zone_name);
  if (!zone) {
    v.verdict = Verdict::kUnknown;
    v.note = "zone " + std::string(zone_name) + " was not read (not active and not the default zone)";
    return v;
  }
  // Rich rules come first in a zone's chain (deny before allow): one that
  // drops or rejects can beat a port; one that accepts can open what the
  // rest does not. Neither is evaluated here.
  const std::string* blocking_rich_rule = nullptr;
  const std::string* accepting_rich_rule = nullptr;
  for (const auto& rule : zone->rich_rules) {
    bool accepts_only = rule.find(" accept") != std::string::npos && rule.find(" drop") == std::string::npos &&
                        rule.find(" reject") == std::string::npos && rule.find(" mark") == std::string::npos;
    if (accepts_only) {
      if (!accepting_rich_rule) accepting_rich_rule = &rule;
    } else if (!blocking_rich_rule) {
      blocking_rich_rule = &rule;
    }
  }
  auto unknown_for_rule = [&](const std::string& rule, std::string why) {
    v.verdict = Verdict::kUnknown;
    v.rule = "rule " + rule;
    v.note = std::move(why);
    return v;
  };
  if (blocking_rich_rule)
    return unknown_for_rule(*blocking_rich_rule, "a rich rule that may drop or reject " + Describe(port) + " is not evaluated");

  // Protocols (a whole IP protocol).
  for (const auto& p : zone->protocols) {
    if (ProtocolNames(port.proto, p)) {
      v.verdict = Verdict::kAccept;
      v.rule = "protocol " + p;
      return v;
    }
  }
  // Ports and services.
  if (port.proto != Proto::kIpip) {
    std::vector<PortRange> ranges;
    std::string first_source;
    auto add = [&](const FirewalldPort& fp, const std::string& source) {
      if (!ProtocolNames(port.proto, fp.protocol)) return;
      if (fp.ports.first > port.ports.last || fp.ports.last < port.ports.first) return;
      ranges.push_back(fp.ports);
      if (first_source.empty()) first_source = source;
    };
    for (const auto& fp : zone->ports) add(fp, "port " + FormatPort(fp));
    std::string service_problem;
    for (const auto& name : zone->services) {
      auto it = state.services.find(name);
      if (it == state.services.end() || !it->second.problem.empty()) {
        if (service_problem.empty())
          service_problem = "service " + name + ": " + (it == state.services.end() ? "not read" : it->second.problem);
        continue;
      }
      if (it->second.has_destination) continue;  // limited to one address: does not open the port for every one
      for (const auto& fp : it->second.ports) add(fp, "service " + name + " (" + FormatPort(fp) + ")");
      for (const auto& p : it->second.protocols) {
        if (ProtocolNames(port.proto, p)) {
          v.verdict = Verdict::kAccept;
          v.rule = "service " + name + " (protocol " + p + ")";
          return v;
        }
      }
    }
    if (!ranges.empty() && Covers(ranges, port.ports)) {
      v.verdict = Verdict::kAccept;
      v.rule = first_source;
      return v;
    }
    if (!service_problem.empty()) {
      v.verdict = Verdict::kUnknown;
      v.rule = service_problem.substr(0, service_problem.find(':'));
      v.note = service_problem;
      return v;
    }
  } else {
    for (const auto& name : zone->services) {
      auto it = state.services.find(name);
      if (it == state.services.end() || !it->second.problem.empty() || it->second.has_destination) continue;
      for (const auto& p : it->second.protocols) {
        if (ProtocolNames(port.proto, p)) {
          v.verdict = Verdict::kAccept;
          v.rule = "service " + name + " (protocol " + p + ")";
          return v;
        }
      }
    }
  }
  if (accepting_rich_rule)
    return unknown_for_rule(*accepting_rich_rule, "a rich rule that may accept " + Describe(port) + " is not evaluated");

  v.rule = "target " + zone->target;
  if (zone->target == "ACCEPT") {
    v.verdict = Verdict::kAccept;
  } else if (zone->target == "DROP") {
    v.verdict = Verdict::kDrop;
  } else if (zone->target == "%%REJECT%%" || zone->target == "REJECT" || zone->target == "default") {
    v.verdict = Verdict::kReject;
    if (zone->target == "default") v.note = "target default rejects what the zone does not allow";
  } else {
    v.verdict = Verdict::kUnknown;
    v.note = "unknown zone target " + zone->target;
  }
  return v;
}

bool ZoneAllows(const FirewalldState& state, std::string_view zone, const RequiredPort& port) {
  return FirewalldZoneVerdict(state, zone, port).verdict == Verdict::kAccept;
}

RuleVerdict EvaluateFirewalld(const FirewalldState& state, const Packet& packet, const RequiredPort& port) {
  auto match = MatchFirewalldZone(state, packet.iifname, packet.saddr);
  RuleVerdict v = FirewalldZoneVerdict(state, match.zone, port);
  std::string why = "zone " + match.zone + " by " + match.reason;
  v.note = v.note.empty() ? why : why + "; " + v.note;
  if (!match.certain && v.verdict != Verdict::kUnknown) {
    v.verdict = Verdict::kUnknown;
    v.note += "; " + match.note;
  }
  return v;
}

Fix FirewalldOpenPorts(std::string_view zone, const std::vector<RequiredPort>& ports) {
  Fix fix;
  fix.id = std::string(kFixFirewall);
  // firewall-cmd takes several --add-port in one call but refuses
  // --add-protocol beside --add-port: one command for each kind.
  std::vector<std::string> port_args, protocol_args;
  std::string port_list;
  for (const auto& p : ports) {
    bool ipip = p.proto == Proto::kIpip;
    std::string arg = ipip ? "--add-protocol=" + std::string(kFirewalldIpipProtocol)
                           : "--add-port=" + FormatPortRange(p.ports) + "/" + ProtoName(p.proto);
    auto& into = ipip ? protocol_args : port_args;
    if (std::find(into.begin(), into.end(), arg) != into.end()) continue;
    into.push_back(arg);
    if (!ipip) port_list += (port_list.empty() ? "" : ", ") + Describe(p);
  }
  std::string z(zone);
  for (bool permanent : {true, false}) {
    for (const auto* args : {&port_args, &protocol_args}) {
      if (args->empty()) continue;
      std::vector<std::string> argv = {"firewall-cmd"};
      if (permanent) argv.push_back("--permanent");
      argv.push_back("--zone=" + z);
      argv.insert(argv.end(), args->begin(), args->end());
      std::string what = args == &port_args ? "open " + port_list : "allow IPIP (protocol 4, ipencap)";
      fix.steps.push_back(FixStep::Run(std::move(argv), what + " in firewalld zone " + z +
                                                            (permanent ? " (saved configuration)" : " (running firewall)")));
    }
  }
  return fix;
}

}  // namespace nodeagent::join_prep
