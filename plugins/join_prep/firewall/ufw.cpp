#include "firewall/ufw.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "nodeagent/network.h"
#include "text.h"

namespace nodeagent::join_prep {
namespace {

constexpr size_t kMaxOutputLines = 20000;
constexpr size_t kMaxRules = 4000;
constexpr size_t kMaxPortsInRule = 64;  // ufw itself allows 15 per rule

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Error ParseError(size_t line_no, std::string_view line, std::string_view what) {
  return InvalidArgument("ufw status verbose: line " + std::to_string(line_no) + ": " + std::string(what) + ": \"" +
                         std::string(line.substr(0, 200)) + "\"");
}

/// "6443", "30000:32767", "80,443", "1000:2000,3000" (ufw's port syntax).
std::optional<std::vector<PortRange>> ParseUfwPorts(std::string_view text) {
  std::vector<PortRange> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string item(text.substr(start, comma - start));
    std::replace(item.begin(), item.end(), ':', '-');
    auto range = ParsePortRange(item);
    if (!range || out.size() >= kMaxPortsInRule) return std::nullopt;
    out.push_back(*range);
    start = comma + 1;
    if (comma == text.size()) break;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

bool LooksLikeAddress(std::string_view word) { return IpPrefix::Parse(word).has_value(); }

/// One side of a rule row ("10.0.0.1 6443/tcp on eth0 (v6)") into address,
/// ports, protocol, interface, application.
struct Side {
  std::string address;
  std::vector<PortRange> ports;
  std::string proto;
  std::string interface;
  std::string app;
  bool v6 = false;
};

std::optional<Side> ParseSide(std::string_view text) {
  Side side;
  std::string t(TrimView(text));
  // "10250/tcp (v6) on eth1": the interface comes last.
  size_t on = t.find(" on ");
  if (on != std::string::npos) {
    side.interface = std::string(TrimView(t.substr(on + 4)));
    t = std::string(TrimView(t.substr(0, on)));
    if (side.interface.empty() || side.interface.find(' ') != std::string::npos) return std::nullopt;
  }
  if (EndsWith(t, " (v6)")) {
    side.v6 = true;
    t = std::string(TrimView(t.substr(0, t.size() - 5)));
  }
  // Verbose status shows an application rule's ports with its name:
  // "22/tcp (OpenSSH)", "22/tcp (OpenSSH (v6))".
  if (!t.empty() && t.back() == ')') {
    size_t open = t.find(" (");
    if (open == std::string::npos) return std::nullopt;
    side.app = t.substr(open + 2, t.size() - open - 3);
    if (EndsWith(side.app, " (v6)")) {
      side.v6 = true;
      side.app.resize(side.app.size() - 5);
    }
    t = std::string(TrimView(t.substr(0, open)));
  }
  if (t.empty()) return std::nullopt;
  // "Anywhere", "Anywhere/gre" (a protocol without ports).
  if (t == "Anywhere") return side;
  if (t.rfind("Anywhere/", 0) == 0) {
    side.proto = t.substr(9);
    return side;
  }
  std::string rest = t;
  size_t space = t.find(' ');
  if (space != std::string::npos && LooksLikeAddress(t.substr(0, space))) {
    side.address = t.substr(0, space);
    rest = std::string(TrimView(t.substr(space + 1)));
  } else if (LooksLikeAddress(t)) {
    side.address = t;
    return side;
  } else {
    // "10.0.0.0/8/gre", "10.0.0.1/tcp": an address with a protocol, no ports.
    size_t slash = t.rfind('/');
    if (slash != std::string::npos && LooksLikeAddress(t.substr(0, slash)) &&
        t.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789", slash + 1) == std::string::npos &&
        !std::isdigit(static_cast<unsigned char>(t[slash + 1]))) {
      side.address = t.substr(0, slash);
      side.proto = t.substr(slash + 1);
      return side;
    }
  }
  std::string ports = rest;
  size_t slash = rest.rfind('/');
  if (slash != std::string::npos) {
    ports = rest.substr(0, slash);
    side.proto = rest.substr(slash + 1);
  }
  auto parsed = ParseUfwPorts(ports);
  if (!parsed || side.proto.find(' ') != std::string::npos) {
    // Without verbose, ufw prints only an application's name ("OpenSSH",
    // "Apache Full"): no ports to judge.
    if (!side.app.empty()) return std::nullopt;
    side.proto.clear();
    side.app = rest;
    return side;
  }
  side.ports = *parsed;
  return side;
}

/// Finds " ACTION DIR " in a row: the first of ALLOW/DENY/REJECT/LIMIT
/// that stands between runs of spaces.
bool SplitRow(std::string_view row, std::string_view& to, std::string& action, std::string& direction,
              std::string_view& from) {
  static constexpr std::string_view kActions[] = {"ALLOW", "DENY", "REJECT", "LIMIT"};
  size_t best = std::string_view::npos;
  std::string_view best_action;
  for (auto a : kActions) {
    size_t pos = 0;
    while ((pos = row.find(a, pos)) != std::string_view::npos) {
      bool before = pos > 0 && row[pos - 1] == ' ';
      size_t after = pos + a.size();
      bool after_ok = after == row.size() || row[after] == ' ';
      if (before && after_ok) break;
      pos = after;
    }
    if (pos != std::string_view::npos && pos < best) {
      best = pos;
      best_action = a;
    }
  }
  if (best == std::string_view::npos) return false;
  to = row.substr(0, best);
  std::string_view rest = row.substr(best + best_action.size());
  action.clear();
  for (char c : best_action) action += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  direction = "in";  // ufw without "verbose" prints no direction; incoming is its default
  std::string_view trimmed = TrimView(rest);
  for (std::string_view d : {"IN", "OUT", "FWD"}) {
    if (trimmed.substr(0, d.size()) == d && (trimmed.size() == d.size() || trimmed[d.size()] == ' ')) {
      direction.clear();
      for (char c : d) direction += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      trimmed = trimmed.substr(d.size());
      break;
    }
  }
  from = TrimView(trimmed);
  return true;
}

Result<UfwRule> ParseRuleRow(std::string_view line, size_t line_no) {
  UfwRule rule;
  rule.line = static_cast<int>(line_no);
  rule.text = std::string(TrimView(line));
  std::string_view to_text, from_text;
  if (!SplitRow(line, to_text, rule.action, rule.direction, from_text))
    return ParseError(line_no, line, "no ALLOW, DENY, REJECT or LIMIT");
  // " # comment" ends the row.
  std::string from(from_text);
  size_t hash = from.find(" # ");
  if (from.rfind("# ", 0) == 0) hash = 0;
  if (hash != std::string::npos) {
    rule.comment = std::string(TrimView(std::string_view(from).substr(hash + (hash == 0 ? 2 : 3))));
    from = std::string(TrimView(from.substr(0, hash)));
  }
  // Attributes after the From column: "(log)", "(log-all)", "(out)", "(log, out)".
  for (std::string_view attr : {" (log-all, out)", " (log, out)", " (log-all)", " (log)", " (out)"}) {
    if (EndsWith(from, attr)) {
      from = std::string(TrimView(std::string_view(from).substr(0, from.size() - attr.size())));
      break;
    }
  }
  auto to = ParseSide(to_text);
  auto src = ParseSide(from);
  if (!to) return ParseError(line_no, line, "cannot read the To column");
  if (!src) return ParseError(line_no, line, "cannot read the From column");
  // A rule with an IPv6 address carries no "(v6)" mark: the address says it.
  auto is_v6 = [](const std::string& a) { return a.find(':') != std::string::npos; };
  rule.v6 = to->v6 || src->v6 || is_v6(to->address) || is_v6(src->address);
  rule.to_address = to->address;
  rule.to_ports = to->ports;
  rule.interface = to->interface.empty() ? src->interface : to->interface;
  rule.proto = !to->proto.empty() ? to->proto : src->proto;
  rule.app = to->app;
  rule.from_address = src->address;
  rule.from_ports = src->ports;
  rule.from_app = src->app;
  return rule;
}

bool PrefixContains(std::string_view prefix_text, std::string_view address_text) {
  auto prefix = IpPrefix::Parse(prefix_text);
  auto address = IpAddress::Parse(address_text);
  return prefix && address && prefix->address.family == address->family && prefix->Contains(*address);
}

bool IsAnyAddress(std::string_view a) { return a.empty() || a == "0.0.0.0/0" || a == "::/0"; }

bool InterfaceMatches(std::string_view pattern, std::string_view name) {
  if (!pattern.empty() && pattern.back() == '+') return name.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  return pattern == name;
}

enum class Match { kNo, kYes, kUnknown };

/// Whether `rule` matches a new inbound connection of `packet` to `dport`
/// (ignored for IPIP); `why` says what could not be judged.
Match RuleMatches(const UfwRule& rule, const Packet& packet, Proto proto, uint16_t dport, std::string& why) {
  if (rule.direction != "in") return Match::kNo;
  if (rule.v6 != (packet.family == 6)) return Match::kNo;
  if (!rule.proto.empty() && rule.proto != ProtoName(proto)) return Match::kNo;
  if (rule.proto.empty() && !rule.to_ports.empty() && proto == Proto::kIpip) return Match::kNo;
  if (!rule.to_ports.empty()) {
    bool in = std::any_of(rule.to_ports.begin(), rule.to_ports.end(), [&](const PortRange& r) { return r.Contains(dport); });
    if (!in) return Match::kNo;
  }
  if (!rule.from_ports.empty()) {
    if (proto == Proto::kIpip) return Match::kNo;
    bool in = std::any_of(rule.from_ports.begin(), rule.from_ports.end(),
                          [&](const PortRange& r) { return r.Contains(packet.sport); });
    if (!in) return Match::kNo;
  }
  Match result = Match::kYes;
  if (!rule.app.empty() || !rule.from_app.empty()) {
    why = "application profile " + (rule.app.empty() ? rule.from_app : rule.app) + " is not evaluated";
    result = Match::kUnknown;
  }
  if (!rule.interface.empty()) {
    if (packet.iifname.empty()) {
      why = "the arriving interface is not known";
      result = Match::kUnknown;
    } else if (!InterfaceMatches(rule.interface, packet.iifname)) {
      return Match::kNo;
    }
  }
  if (!IsAnyAddress(rule.to_address)) {
    if (packet.daddr.empty()) {
      why = "this node's address is not known";
      result = Match::kUnknown;
    } else if (!PrefixContains(rule.to_address, packet.daddr)) {
      return Match::kNo;
    }
  }
  if (!IsAnyAddress(rule.from_address)) {
    if (packet.saddr.empty()) {
      why = "the rule depends on the source address and the control plane's is not known";
      result = Match::kUnknown;
    } else if (!PrefixContains(rule.from_address, packet.saddr)) {
      return Match::kNo;
    }
  }
  return result;
}

Verdict ActionVerdict(std::string_view action) {
  if (action == "allow" || action == "limit") return Verdict::kAccept;
  if (action == "deny") return Verdict::kDrop;
  if (action == "reject") return Verdict::kReject;
  return Verdict::kUnknown;
}

RuleVerdict EvaluateOne(const UfwState& state, const Packet& packet, Proto proto, uint16_t dport) {
  RuleVerdict v;
  v.manager = "ufw";
  v.chain = "ufw-user-input";
  for (const auto& rule : state.rules) {
    std::string why;
    Match m = RuleMatches(rule, packet, proto, dport, why);
    if (m == Match::kNo) continue;
    v.rule = rule.text;
    if (m == Match::kUnknown) {
      v.verdict = Verdict::kUnknown;
      v.note = "line " + std::to_string(rule.line) + ": " + why;
      return v;
    }
    v.verdict = ActionVerdict(rule.action);
    if (rule.action == "limit") v.note = "rate limited: ufw's limit denies a source after 6 connections in 30 s";
    return v;
  }
  v.rule = "default " + state.default_incoming + " (incoming)";
  if (state.default_incoming == "allow") v.verdict = Verdict::kAccept;
  else if (state.default_incoming == "deny") v.verdict = Verdict::kDrop;
  else if (state.default_incoming == "reject") v.verdict = Verdict::kReject;
  else {
    v.verdict = Verdict::kUnknown;
    v.note = "default incoming policy \"" + state.default_incoming + "\" not understood";
  }
  return v;
}

std::string Describe(const RequiredPort& port) {
  if (port.proto == Proto::kIpip) return "IPIP (IP protocol 4)";
  return FormatPortRange(port.ports) + "/" + ProtoName(port.proto);
}

std::string UfwPortText(PortRange r) {
  return r.first == r.last ? std::to_string(r.first) : std::to_string(r.first) + ":" + std::to_string(r.last);
}

}  // namespace

Result<UfwState> ParseUfwStatus(std::string_view text) {
  auto lines = Lines(text);
  if (lines.size() > kMaxOutputLines)
    return InvalidArgument("ufw status verbose: more than " + std::to_string(kMaxOutputLines) + " lines");
  UfwState state;
  state.installed = true;
  bool have_status = false;
  bool in_table = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    std::string_view t = TrimView(line);
    if (t.empty()) continue;
    if (!have_status) {
      if (t == "Status: active") state.active = true;
      else if (t == "Status: inactive") state.active = false;
      else return ParseError(i + 1, line, "expected \"Status: active\" or \"Status: inactive\"");
      have_status = true;
      continue;
    }
    if (in_table) {
      if (state.rules.size() >= kMaxRules) return ParseError(i + 1, line, "more than " + std::to_string(kMaxRules) + " rules");
      auto rule = ParseRuleRow(line, i + 1);
      if (!rule) return rule.error();
      state.rules.push_back(std::move(*rule));
      continue;
    }
    if (t.rfind("Default:", 0) == 0) {
      // "Default: deny (incoming), allow (outgoing), disabled (routed)"
      size_t at = t.find(" (incoming)");
      if (at == std::string_view::npos) return ParseError(i + 1, line, "no incoming policy");
      std::string_view before = t.substr(0, at);
      size_t sp = before.find_last_of(' ');
      state.default_incoming = std::string(before.substr(sp + 1));
      if (state.default_incoming != "deny" && state.default_incoming != "allow" && state.default_incoming != "reject")
        return ParseError(i + 1, line, "unknown incoming policy \"" + state.default_incoming + "\"");
      continue;
    }
    if (t.rfind("To ", 0) == 0 && t.find("Action") != std::string_view::npos) continue;  // the header
    if (t.find_first_not_of("- ") == std::string_view::npos) {
      in_table = true;  // "--  ------  ----"
      continue;
    }
    // Logging:, New profiles: and other key lines do not decide a verdict.
    if (t.find(':') == std::string_view::npos) return ParseError(i + 1, line, "unexpected line");
  }
  if (!have_status) return InvalidArgument("ufw status verbose: empty output");
  if (state.active && state.default_incoming.empty())
    return InvalidArgument("ufw status verbose: active but no \"Default:\" line");
  return state;
}

Result<UfwState> ReadUfw(Host& host) {
  CommandSpec spec;
  spec.argv = {"ufw", "status", "verbose"};
  spec.read_only = true;
  spec.timeout = std::chrono::seconds(30);
  spec.env["LC_ALL"] = "C";  // ufw's messages are translated
  auto r = host.commands().Run(spec);
  if (!r) {
    if (r.error().code() == ErrorCode::kNotFound) return UfwState{};
    return r.error().Wrap(CommandLine(spec.argv));
  }
  if (!r->succeeded()) {
    std::string err(TrimView(std::string_view(r->stderr_data).substr(0, 500)));
    if (err.empty()) err = std::string(TrimView(std::string_view(r->stdout_data).substr(0, 500)));
    std::string how = r->timed_out ? "timed out" : "exited " + std::to_string(r->exit_code);
    // ufw 0.36 runs sysctl for the routed policy; minimal systems lack it.
    if (err.find("problem running sysctl") != std::string::npos) err += " (ufw needs sysctl: install procps)";
    return IoError(CommandLine(spec.argv) + " " + how + (err.empty() ? "" : ": " + err));
  }
  return ParseUfwStatus(r->stdout_data);
}

RuleVerdict EvaluateUfw(const UfwState& state, const Packet& packet, const RequiredPort& port) {
  if (!state.active) {
    RuleVerdict v;
    v.manager = "ufw";
    v.verdict = Verdict::kAccept;
    v.rule = "inactive";
    v.note = "ufw is not active: its rules are not loaded";
    return v;
  }
  if (port.proto == Proto::kIpip) return EvaluateOne(state, packet, port.proto, 0);
  // One verdict per stretch of the range that every rule treats alike: the
  // range's ends and each rule's port bounds inside it.
  std::set<uint32_t> starts = {port.ports.first};
  for (const auto& rule : state.rules) {
    for (const auto& r : rule.to_ports) {
      if (r.first > port.ports.first && r.first <= port.ports.last) starts.insert(r.first);
      if (uint32_t{r.last} + 1 > port.ports.first && r.last < port.ports.last) starts.insert(uint32_t{r.last} + 1);
    }
  }
  RuleVerdict first;
  bool have_first = false;
  for (uint32_t start : starts) {
    RuleVerdict v = EvaluateOne(state, packet, port.proto, static_cast<uint16_t>(start));
    if (v.verdict != Verdict::kAccept) {
      if (port.ports.first != port.ports.last) {
        std::string at = "port " + std::to_string(start) + " of " + FormatPortRange(port.ports);
        v.note = v.note.empty() ? at : at + ": " + v.note;
      }
      return v;
    }
    if (!have_first) {
      first = v;
      have_first = true;
    }
  }
  return first;
}

Fix UfwAllowPorts(const std::vector<RequiredPort>& ports, std::string_view from) {
  Fix fix;
  fix.id = std::string(kFixFirewall);
  std::set<std::string> done;
  for (const auto& p : ports) {
    if (p.proto == Proto::kIpip) {
      fix.warning = "ufw has no rule for IPIP (IP protocol 4, Calico's IPIP encapsulation): allow it in "
                    "/etc/ufw/before.rules (an ACCEPT for protocol 4 in ufw-before-input"
                    + std::string(from.empty() ? "" : ", from " + std::string(from)) +
                    ") and run `ufw reload`, or use VXLAN";
      continue;
    }
    std::string proto = ProtoName(p.proto);
    std::vector<std::string> argv;
    if (from.empty()) {
      argv = {"ufw", "allow", UfwPortText(p.ports) + "/" + proto};
    } else {
      argv = {"ufw", "allow", "proto", proto, "from", std::string(from), "to", "any", "port", UfwPortText(p.ports)};
    }
    if (!done.insert(CommandLine(argv)).second) continue;
    std::string what = "allow " + Describe(p) + (p.why.empty() ? "" : " (" + p.why + ")") +
                       (from.empty() ? "" : " from " + std::string(from)) + " in ufw";
    fix.steps.push_back(FixStep::Run(std::move(argv), std::move(what)));
  }
  return fix;
}

}  // namespace nodeagent::join_prep
