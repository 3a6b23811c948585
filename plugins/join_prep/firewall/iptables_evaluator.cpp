#include "firewall/iptables_evaluator.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>

#include "nodeagent/file_edit.h"
#include "nodeagent/network.h"

namespace nodeagent::join_prep {
namespace {

constexpr size_t kMaxLines = 200000;
constexpr size_t kMaxLineBytes = 64 * 1024;
constexpr int kMaxChainDepth = 64;
constexpr int kMaxForks = 512;
constexpr int kMaxInsertRounds = 16;

/// Three-valued answer of a match: the packet surely does (not) match, or
/// the rule holds something this evaluator does not read.
enum class Tri { kNo, kYes, kUnknown };

/// The packet as it moves through the hooks: the connection's conntrack
/// state is NEW unless a raw rule made it UNTRACKED.
struct PacketState {
  const Packet* packet = nullptr;
  Tri untracked = Tri::kNo;
};

struct Match {
  std::function<Tri(const PacketState&)> test;
  std::string unknown_why;  ///< set for a match that is always unknown
};

enum class TargetKind { kNone, kAccept, kDrop, kReject, kReturn, kJump, kGoto, kNotrack, kContinue, kUnknown };

struct Rule {
  std::string text;                     ///< the whole "-A CHAIN ..." line
  std::vector<std::string> normalized;  ///< its words, protocol as a number (for SameRules)
  std::vector<Match> matches;
  TargetKind target = TargetKind::kNone;
  std::string target_name;  ///< the chain for jump/goto, the target otherwise
};

struct Chain {
  std::string name;
  std::string policy;  ///< "ACCEPT", "DROP"; "-" for a user chain
  std::vector<Rule> rules;
  bool builtin() const { return policy != "-"; }
};

struct Table {
  std::string name;
  std::vector<Chain> chains;
  Chain* Find(std::string_view n) {
    for (auto& c : chains)
      if (c.name == n) return &c;
    return nullptr;
  }
  const Chain* Find(std::string_view n) const {
    for (const auto& c : chains)
      if (c.name == n) return &c;
    return nullptr;
  }
};

/// The chains a new inbound packet traverses, in the kernel's order (nat
/// PREROUTING rewrites, it does not filter: not evaluated).
struct Hook {
  const char* table;
  const char* chain;
};
constexpr Hook kInputHooks[] = {
    {"raw", "PREROUTING"}, {"mangle", "PREROUTING"}, {"mangle", "INPUT"}, {"filter", "INPUT"}};

constexpr std::string_view kNonTerminatingTargets[] = {
    "LOG",       "NFLOG", "ULOG",    "MARK",   "CONNMARK", "TRACE",   "CLASSIFY",    "DSCP",
    "TOS",       "TTL",   "HL",      "TCPMSS", "CHECKSUM", "SECMARK", "CONNSECMARK", "AUDIT",
    "IDLETIMER", "LED",   "RATEEST", "TEE",    "SET",      "HMARK",   "TCPOPTSTRIP", "ECN"};

}  // namespace

struct IptablesRuleset::Impl {
  std::string manager;
  int family = 4;
  std::vector<Table> tables;
  const Table* Find(std::string_view n) const {
    for (const auto& t : tables)
      if (t.name == n) return &t;
    return nullptr;
  }
};

namespace {

// ---------------------------------------------------------------- parsing

/// Splits an iptables-save line into words; "double quoted" words keep their
/// spaces, with \" and \\ escapes (as iptables-save writes comments).
Result<std::vector<std::string>> SplitWords(std::string_view line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    std::string w;
    if (line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '\\' && i < line.size()) {
          w += line[i++];
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          w += c;
        }
      }
      if (!closed) return InvalidArgument("unterminated quote");
    } else {
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') w += line[i++];
    }
    words.push_back(std::move(w));
  }
  return words;
}

std::optional<int> ProtocolNumber(std::string_view name) {
  static const std::map<std::string, int, std::less<>> kNames = {
      {"all", 0},        {"tcp", 6},  {"udp", 17},   {"icmp", 1},   {"ipencap", 4},   {"ipip", 94},
      {"gre", 47},       {"esp", 50}, {"ah", 51},    {"sctp", 132}, {"udplite", 136}, {"icmpv6", 58},
      {"ipv6-icmp", 58}, {"igmp", 2}, {"vrrp", 112}, {"ospf", 89},  {"mh", 135},      {"ipv6-mh", 135}};
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (auto it = kNames.find(lower); it != kNames.end()) return it->second;
  if (lower.empty() || lower.size() > 3 || lower.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  int n = std::stoi(lower);
  if (n > 255) return std::nullopt;
  return n;
}

int PacketProtocol(const Packet& p) {
  switch (p.proto) {
    case Proto::kTcp:
      return 6;
    case Proto::kUdp:
      return 17;
    case Proto::kIpip:
      return 4;
  }
  return -1;
}

Tri Negate(Tri t, bool neg) {
  if (!neg || t == Tri::kUnknown) return t;
  return t == Tri::kYes ? Tri::kNo : Tri::kYes;
}

Tri FromBool(bool b) { return b ? Tri::kYes : Tri::kNo; }

/// "10.0.0.0/8", "10.0.0.1" or "10.0.0.0/255.0.0.0" (a contiguous mask).
std::optional<IpPrefix> ParseAddress(std::string_view text) {
  auto slash = text.find('/');
  if (slash != std::string_view::npos && text.substr(slash + 1).find('.') != std::string_view::npos) {
    auto mask = IpAddress::Parse(text.substr(slash + 1));
    auto addr = IpAddress::Parse(text.substr(0, slash));
    if (!mask || !addr || mask->family != AddressFamily::kIpv4) return std::nullopt;
    uint32_t m = (uint32_t(mask->bytes[0]) << 24) | (uint32_t(mask->bytes[1]) << 16) | (uint32_t(mask->bytes[2]) << 8) |
                 mask->bytes[3];
    int len = 0;
    while (len < 32 && (m & (0x80000000u >> len))) ++len;
    if (len < 32 && (m << len) != 0) return std::nullopt;  // not contiguous
    return IpPrefix{*addr, len};
  }
  return IpPrefix::Parse(text);
}

Match AddressMatch(IpPrefix prefix, bool neg, bool source) {
  return {[prefix, neg, source](const PacketState& s) {
            if (prefix.length == 0) return Negate(Tri::kYes, neg);
            const std::string& text = source ? s.packet->saddr : s.packet->daddr;
            auto a = IpAddress::Parse(text);
            if (!a) return Tri::kUnknown;
            return Negate(FromBool(a->family == prefix.address.family && prefix.Contains(*a)), neg);
          },
          ""};
}

Match InterfaceMatch(std::string name, bool neg) {
  return {[name, neg](const PacketState& s) {
            bool wildcard = !name.empty() && name.back() == '+';
            std::string stem = wildcard ? name.substr(0, name.size() - 1) : name;
            if (wildcard && stem.empty()) return Negate(Tri::kYes, neg);
            const std::string& iif = s.packet->iifname;
            if (iif.empty()) return Tri::kUnknown;
            bool m = wildcard ? iif.compare(0, stem.size(), stem) == 0 : iif == name;
            return Negate(FromBool(m), neg);
          },
          ""};
}

Match Unknown(std::string why) {
  return {[](const PacketState&) { return Tri::kUnknown; }, std::move(why)};
}

/// "22", "1000:2000", ":1024", "1024:" (iptables' range syntax).
std::optional<PortRange> ParsePorts(std::string_view text) {
  auto num = [](std::string_view t, uint16_t dflt) -> std::optional<uint16_t> {
    if (t.empty()) return dflt;
    if (t.size() > 5 || t.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    int n = std::stoi(std::string(t));
    if (n > 65535) return std::nullopt;
    return static_cast<uint16_t>(n);
  };
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    if (text.empty()) return std::nullopt;
    auto p = num(text, 0);
    if (!p) return std::nullopt;
    return PortRange{*p, *p};
  }
  auto a = num(text.substr(0, colon), 0);
  auto b = num(text.substr(colon + 1), 65535);
  if (!a || !b || *a > *b) return std::nullopt;
  return PortRange{*a, *b};
}

/// The ports the connecting side may use: Linux's default
/// ip_local_port_range. A source-port match that covers all of it (or none)
/// is known; one that covers a part depends on the port the kernel picks.
constexpr PortRange kEphemeral{32768, 60999};

Tri PortsMatch(const std::vector<PortRange>& ranges, const Packet& p, bool dest) {
  if (p.proto == Proto::kIpip) return Tri::kNo;
  if (dest) {
    for (const auto& r : ranges)
      if (r.Contains(p.dport)) return Tri::kYes;
    return Tri::kNo;
  }
  // Source port: the whole ephemeral range in or out, else unknown.
  uint32_t covered = 0;
  for (const auto& r : ranges) {
    uint32_t lo = std::max(r.first, kEphemeral.first), hi = std::min(r.last, kEphemeral.last);
    if (lo <= hi) covered += hi - lo + 1;
  }
  if (covered == 0) return Tri::kNo;
  if (covered >= uint32_t(kEphemeral.last - kEphemeral.first + 1)) return Tri::kYes;
  return Tri::kUnknown;
}

Match PortMatch(std::vector<PortRange> ranges, bool neg, int which /*0 dest 1 source 2 either*/) {
  return {[ranges, neg, which](const PacketState& s) {
            Tri t;
            if (which == 2) {
              Tri d = PortsMatch(ranges, *s.packet, true), sr = PortsMatch(ranges, *s.packet, false);
              t = (d == Tri::kYes || sr == Tri::kYes)           ? Tri::kYes
                  : (d == Tri::kUnknown || sr == Tri::kUnknown) ? Tri::kUnknown
                                                                : Tri::kNo;
            } else {
              t = PortsMatch(ranges, *s.packet, which == 0);
            }
            return Negate(t, neg);
          },
          ""};
}

/// --ctstate / --state: a new inbound connection is NEW (or UNTRACKED).
Result<Match> StateMatch(std::string_view list, bool neg) {
  std::vector<std::string> states;
  size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    std::string s(list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    static const std::string_view kKnown[] = {"INVALID", "NEW", "ESTABLISHED", "RELATED", "UNTRACKED", "SNAT", "DNAT"};
    if (std::find(std::begin(kKnown), std::end(kKnown), s) == std::end(kKnown))
      return InvalidArgument("unknown conntrack state \"" + s + "\"");
    states.push_back(s);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  bool has_new = std::find(states.begin(), states.end(), "NEW") != states.end();
  bool has_untracked = std::find(states.begin(), states.end(), "UNTRACKED") != states.end();
  return Match{[=](const PacketState& s) {
                 if (s.untracked == Tri::kUnknown)
                   return has_new == has_untracked ? Negate(FromBool(has_new), neg) : Tri::kUnknown;
                 bool m = s.untracked == Tri::kYes ? has_untracked : has_new;
                 return Negate(FromBool(m), neg);
               },
               ""};
}

/// -m addrtype: the packet is addressed to this node (LOCAL); its source,
/// the control plane, is another host's unicast address (LOCAL only when it
/// is the node's own address).
Result<Match> AddrTypeMatch(std::string_view list, bool neg, bool source) {
  static const std::string_view kTypes[] = {"UNSPEC",    "UNICAST",     "LOCAL",    "BROADCAST", "ANYCAST", "MULTICAST",
                                            "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW",     "NAT",     "XRESOLVE"};
  bool has_local = false, has_unicast = false;
  size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    auto t = list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (std::find(std::begin(kTypes), std::end(kTypes), t) == std::end(kTypes))
      return InvalidArgument("unknown address type \"" + std::string(t) + "\"");
    has_local = has_local || t == "LOCAL";
    has_unicast = has_unicast || t == "UNICAST";
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return Match{[=](const PacketState& s) {
                 if (!source) return Negate(FromBool(has_local), neg);
                 bool own = !s.packet->saddr.empty() && s.packet->saddr == s.packet->daddr;
                 return Negate(FromBool(own ? has_local : has_unicast), neg);
               },
               ""};
}

/// --tcp-flags MASK COMP on a SYN: (SYN & MASK) == COMP.
Result<Match> TcpFlagsMatch(std::string_view mask, std::string_view comp, bool neg) {
  auto bits = [](std::string_view list) -> std::optional<unsigned> {
    static const std::map<std::string, unsigned, std::less<>> kFlags = {
        {"FIN", 1},  {"SYN", 2},  {"RST", 4},   {"PSH", 8},   {"ACK", 16},
        {"URG", 32}, {"ECE", 64}, {"CWR", 128}, {"ALL", 255}, {"NONE", 0}};
    unsigned v = 0;
    size_t start = 0;
    while (start <= list.size()) {
      auto comma = list.find(',', start);
      auto f = list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      auto it = kFlags.find(f);
      if (it == kFlags.end()) return std::nullopt;
      v |= it->second;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return v;
  };
  auto m = bits(mask), c = bits(comp);
  if (!m || !c) return InvalidArgument("unknown TCP flag");
  unsigned syn = 2;
  bool match = (syn & *m) == *c;
  return Match{[=](const PacketState& s) {
                 if (s.packet->proto != Proto::kTcp) return Tri::kNo;
                 return Negate(FromBool(match), neg);
               },
               ""};
}

Result<std::vector<PortRange>> ParsePortList(std::string_view text) {
  std::vector<PortRange> out;
  size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    auto item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    auto r = ParsePorts(item);
    if (!r) return InvalidArgument("bad port \"" + std::string(item) + "\"");
    out.push_back(*r);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

bool IsOption(const std::string& w) { return w == "!" || (w.size() > 1 && w[0] == '-'); }

/// Parses the words of a rule after "-A CHAIN". Unknown matches become
/// Unknown entries (the rule stays usable when another match fails).
Status ParseRuleWords(const std::vector<std::string>& w, size_t i, Rule& rule) {
  std::string module;
  bool neg = false;
  auto value = [&](size_t& k) -> Result<std::string> {
    if (k + 1 >= w.size()) return InvalidArgument(w[k] + " without a value");
    return w[++k];
  };
  auto skip_values = [&](size_t& k) {
    while (k + 1 < w.size() && !IsOption(w[k + 1])) ++k;
  };
  for (; i < w.size(); ++i) {
    const std::string& o = w[i];
    rule.normalized.push_back(o);
    if (o == "!") {
      neg = true;
      continue;
    }
    bool n = neg;
    neg = false;
    if (o == "-p" || o == "--protocol") {
      auto v = value(i);
      if (!v) return v.error();
      auto num = ProtocolNumber(*v);
      rule.normalized.push_back(num ? std::to_string(*num) : *v);
      if (!num) {
        rule.matches.push_back(Unknown("protocol \"" + *v + "\""));
        continue;
      }
      int p = *num;
      rule.matches.push_back(
          {[p, n](const PacketState& s) { return Negate(FromBool(p == 0 || p == PacketProtocol(*s.packet)), n); }, ""});
      continue;
    }
    if (o == "-s" || o == "--source" || o == "-d" || o == "--destination") {
      auto v = value(i);
      if (!v) return v.error();
      rule.normalized.push_back(*v);
      auto prefix = ParseAddress(*v);
      if (!prefix) return InvalidArgument("bad address \"" + *v + "\"");
      rule.matches.push_back(AddressMatch(*prefix, n, o == "-s" || o == "--source"));
      continue;
    }
    if (o == "-i" || o == "--in-interface") {
      auto v = value(i);
      if (!v) return v.error();
      rule.normalized.push_back(*v);
      rule.matches.push_back(InterfaceMatch(*v, n));
      continue;
    }
    if (o == "-o" || o == "--out-interface") {
      auto v = value(i);
      if (!v) return v.error();
      rule.normalized.push_back(*v);
      rule.matches.push_back(Unknown("-o on an inbound packet"));
      continue;
    }
    if (o == "-f" || o == "--fragment") {
      // A new connection's first packet is never a non-first fragment.
      rule.matches.push_back({[n](const PacketState&) { return Negate(Tri::kNo, n); }, ""});
      continue;
    }
    if (o == "-c" || o == "--set-counters") {
      rule.normalized.pop_back();
      i += 2;
      continue;
    }
    if (o == "-m" || o == "--match") {
      auto v = value(i);
      if (!v) return v.error();
      module = *v;
      rule.normalized.push_back(module);
      if (module == "rt") {
        // IPv6 routing header: a new connection's first packet has none,
        // and the match needs one whatever its options (negated or not).
        rule.matches.push_back({[](const PacketState&) { return Tri::kNo; }, ""});
        while (i + 1 < w.size() && w[i + 1] != "-j" && w[i + 1] != "-g" && w[i + 1] != "-m" &&
               !(w[i + 1] == "!" && i + 2 < w.size() && w[i + 2].rfind("--", 0) != 0))
          rule.normalized.push_back(w[++i]);
        continue;
      }
      static const std::string_view kKnownModules[] = {"tcp",   "udp",     "multiport", "conntrack",
                                                       "state", "comment", "addrtype"};
      if (std::find(std::begin(kKnownModules), std::end(kKnownModules), module) == std::end(kKnownModules))
        rule.matches.push_back(Unknown("-m " + module));
      continue;
    }
    if (o == "-j" || o == "--jump" || o == "-g" || o == "--goto") {
      auto v = value(i);
      if (!v) return v.error();
      rule.target_name = *v;
      rule.normalized.push_back(*v);
      for (size_t k = i + 1; k < w.size(); ++k) rule.normalized.push_back(w[k]);
      const std::string& t = *v;
      bool notrack_option = std::find(w.begin() + i, w.end(), "--notrack") != w.end();
      if (o == "-g" || o == "--goto")
        rule.target = TargetKind::kGoto;
      else if (t == "ACCEPT")
        rule.target = TargetKind::kAccept;
      else if (t == "DROP")
        rule.target = TargetKind::kDrop;
      else if (t == "REJECT")
        rule.target = TargetKind::kReject;
      else if (t == "RETURN")
        rule.target = TargetKind::kReturn;
      else if (t == "NOTRACK" || (t == "CT" && notrack_option))
        rule.target = TargetKind::kNotrack;
      else if (t == "CT")
        rule.target = TargetKind::kContinue;
      else if (std::find(std::begin(kNonTerminatingTargets), std::end(kNonTerminatingTargets), t) !=
               std::end(kNonTerminatingTargets))
        rule.target = TargetKind::kContinue;
      else if (!t.empty() && (std::isupper(static_cast<unsigned char>(t[0])) &&
                              t.find_first_of("abcdefghijklmnopqrstuvwxyz") == std::string::npos))
        rule.target = TargetKind::kUnknown;  // an upper-case name that is not a chain: checked again after parsing
      else
        rule.target = TargetKind::kJump;
      return Status::Ok();  // the rest are target options
    }
    if (o.rfind("--", 0) == 0) {
      // An option of the current match module.
      if (module == "tcp" || module == "udp") {
        if (o == "--dport" || o == "--destination-port" || o == "--sport" || o == "--source-port") {
          auto v = value(i);
          if (!v) return v.error();
          rule.normalized.push_back(*v);
          auto r = ParsePorts(*v);
          if (!r) return InvalidArgument("bad port \"" + *v + "\"");
          rule.matches.push_back(PortMatch({*r}, n, (o == "--dport" || o == "--destination-port") ? 0 : 1));
          continue;
        }
        if (module == "tcp" && o == "--tcp-flags") {
          if (i + 2 >= w.size()) return InvalidArgument("--tcp-flags needs a mask and a comparison");
          auto m = TcpFlagsMatch(w[i + 1], w[i + 2], n);
          rule.normalized.push_back(w[i + 1]);
          rule.normalized.push_back(w[i + 2]);
          i += 2;
          if (!m) return m.error();
          rule.matches.push_back(*m);
          continue;
        }
        if (module == "tcp" && o == "--syn") {
          rule.matches.push_back(
              {[n](const PacketState& s) { return s.packet->proto == Proto::kTcp ? Negate(Tri::kYes, n) : Tri::kNo; },
               ""});
          continue;
        }
      } else if (module == "multiport") {
        if (o == "--dports" || o == "--destination-ports" || o == "--sports" || o == "--source-ports" ||
            o == "--ports") {
          auto v = value(i);
          if (!v) return v.error();
          rule.normalized.push_back(*v);
          auto list = ParsePortList(*v);
          if (!list) return list.error();
          int which = (o == "--dports" || o == "--destination-ports") ? 0 : o == "--ports" ? 2 : 1;
          rule.matches.push_back(PortMatch(*list, n, which));
          continue;
        }
      } else if ((module == "conntrack" && o == "--ctstate") || (module == "state" && o == "--state")) {
        auto v = value(i);
        if (!v) return v.error();
        rule.normalized.push_back(*v);
        auto m = StateMatch(*v, n);
        if (!m) return m.error();
        rule.matches.push_back(*m);
        continue;
      } else if (module == "addrtype" && (o == "--dst-type" || o == "--src-type")) {
        auto v = value(i);
        if (!v) return v.error();
        rule.normalized.push_back(*v);
        auto m = AddrTypeMatch(*v, n, o == "--src-type");
        if (!m) return m.error();
        rule.matches.push_back(*m);
        continue;
      } else if (module == "comment" && o == "--comment") {
        auto v = value(i);
        if (!v) return v.error();
        rule.normalized.push_back(*v);
        continue;
      }
      // Not read: the rule depends on it (unless another match fails).
      std::string why = module.empty() ? o : "-m " + module + " " + o;
      size_t from = i;
      skip_values(i);
      for (size_t k = from + 1; k <= i; ++k) rule.normalized.push_back(w[k]);
      bool already = std::any_of(rule.matches.begin(), rule.matches.end(),
                                 [&](const Match& m) { return m.unknown_why == "-m " + module; });
      if (!already) rule.matches.push_back(Unknown(why));
      continue;
    }
    return InvalidArgument("unexpected word \"" + o + "\"");
  }
  return Status::Ok();
}

std::string_view TrimLine(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// ------------------------------------------------------------- evaluation

struct Outcome {
  enum class Kind { kVerdict, kReturn, kUnknown } kind = Kind::kReturn;
  Verdict verdict = Verdict::kAccept;
  std::string table, chain, rule, note;
  /// In the built-in chain: the index of the rule through which it was
  /// decided (rules.size() for the policy); -1 inside user chains.
  int entry = -1;
};

bool SameEnd(const Outcome& a, const Outcome& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == Outcome::Kind::kVerdict) return a.verdict == b.verdict;
  return a.kind == Outcome::Kind::kReturn;
}

class Evaluator {
 public:
  Evaluator(const Table& table) : table_(table) {}

  Outcome RunBuiltin(const Chain& chain, PacketState& state) { return Run(chain, 0, state, 0); }

 private:
  Outcome Policy(const Chain& chain) {
    Outcome o;
    o.kind = Outcome::Kind::kVerdict;
    o.verdict = chain.policy == "DROP" ? Verdict::kDrop : Verdict::kAccept;
    o.table = table_.name;
    o.chain = chain.name;
    o.rule = "policy " + chain.policy;
    o.entry = static_cast<int>(chain.rules.size());
    return o;
  }

  Outcome Returned(const Chain& chain) {
    if (chain.builtin()) return Policy(chain);
    return Outcome{};
  }

  Outcome FromRule(const Rule& r, const Chain& chain, Verdict v) {
    Outcome o;
    o.kind = Outcome::Kind::kVerdict;
    o.verdict = v;
    o.table = table_.name;
    o.chain = chain.name;
    o.rule = r.text;
    return o;
  }

  Outcome UnknownAt(const Rule& r, const Chain& chain, std::string note) {
    Outcome o;
    o.kind = Outcome::Kind::kUnknown;
    o.verdict = Verdict::kUnknown;
    o.table = table_.name;
    o.chain = chain.name;
    o.rule = r.text;
    o.note = std::move(note);
    return o;
  }

  static Tri Test(const Rule& r, const PacketState& s, std::string* why) {
    Tri result = Tri::kYes;
    for (const auto& m : r.matches) {
      Tri t = m.test(s);
      if (t == Tri::kNo) return Tri::kNo;
      if (t == Tri::kUnknown && result == Tri::kYes) {
        result = Tri::kUnknown;
        *why = m.unknown_why.empty() ? "depends on what is not known of the packet (its source address, "
                                       "interface or conntrack state)"
                                     : m.unknown_why + " is not evaluated";
      }
    }
    return result;
  }

  /// What happens once rule `i` matched: an end, or nullopt to go on with i+1.
  std::optional<Outcome> Take(const Chain& chain, size_t i, PacketState& state, int depth) {
    const Rule& r = chain.rules[i];
    switch (r.target) {
      case TargetKind::kAccept:
        return FromRule(r, chain, Verdict::kAccept);
      case TargetKind::kDrop:
        return FromRule(r, chain, Verdict::kDrop);
      case TargetKind::kReject:
        return FromRule(r, chain, Verdict::kReject);
      case TargetKind::kReturn:
        return Returned(chain);
      case TargetKind::kUnknown:
        return UnknownAt(r, chain, "target " + r.target_name + " is not evaluated");
      case TargetKind::kJump:
      case TargetKind::kGoto: {
        const Chain* sub = table_.Find(r.target_name);
        if (!sub) return UnknownAt(r, chain, "no chain " + r.target_name + " in table " + table_.name);
        if (depth >= kMaxChainDepth) return UnknownAt(r, chain, "chains nested deeper than 64");
        Outcome o = Run(*sub, 0, state, depth + 1);
        if (o.kind != Outcome::Kind::kReturn) return o;
        if (r.target == TargetKind::kGoto) return Returned(chain);
        return std::nullopt;
      }
      default:
        return std::nullopt;
    }
  }

  Outcome Run(const Chain& chain, size_t start, PacketState& state, int depth) {
    for (size_t i = start; i < chain.rules.size(); ++i) {
      const Rule& r = chain.rules[i];
      if (r.target == TargetKind::kNone || r.target == TargetKind::kContinue) continue;
      std::string why;
      Tri t = Test(r, state, &why);
      if (t == Tri::kNo) continue;
      if (r.target == TargetKind::kNotrack) {
        if (t == Tri::kYes)
          state.untracked = Tri::kYes;
        else if (state.untracked != Tri::kYes)
          state.untracked = Tri::kUnknown;
        continue;
      }
      if (t == Tri::kYes) {
        auto end = Take(chain, i, state, depth);
        if (!end) continue;
        if (chain.builtin() && end->entry < 0) end->entry = static_cast<int>(i);
        return *end;
      }
      // Unknown: follow both ways; a verdict both agree on is known.
      if (++forks_ > kMaxForks) return UnknownAt(r, chain, "too many rules that are not evaluated");
      PacketState matched_state = state;
      auto taken = Take(chain, i, matched_state, depth);
      // A jump that came back without changing the packet: both ways go on alike.
      if (!taken && matched_state.untracked == state.untracked) continue;
      Outcome matched = taken ? *taken : Run(chain, i + 1, matched_state, depth);
      if (taken && chain.builtin() && matched.entry < 0) matched.entry = static_cast<int>(i);
      PacketState skipped_state = state;
      Outcome skipped = Run(chain, i + 1, skipped_state, depth);
      if (matched.kind == Outcome::Kind::kUnknown) return matched;
      if (skipped.kind == Outcome::Kind::kUnknown) return skipped;
      if (!SameEnd(matched, skipped)) return UnknownAt(r, chain, why);
      state = skipped_state;
      if (matched.entry >= 0 && (skipped.entry < 0 || matched.entry < skipped.entry)) {
        skipped.entry = matched.entry;
      }
      if (skipped.note.empty()) skipped.note = "whether or not \"" + r.text + "\" matches";
      return skipped;
    }
    return Returned(chain);
  }

  const Table& table_;
  int forks_ = 0;
};

/// Full evaluation through the hooks, with the built-in chain and entry of
/// the decision (for PlanOpen).
struct Decision {
  RuleVerdict verdict;
  std::string hook_table, hook_chain;
  int entry = -1;
};

Decision Decide(const IptablesRuleset::Impl& impl, const Packet& packet) {
  Decision d;
  d.verdict.manager = impl.manager;
  if (packet.family != impl.family) {
    d.verdict.verdict = Verdict::kAccept;
    d.verdict.note = impl.manager + " does not see IPv" + std::to_string(packet.family) + " packets";
    return d;
  }
  PacketState state;
  state.packet = &packet;
  std::optional<Decision> unknown, accepted;
  for (const auto& hook : kInputHooks) {
    const Table* table = impl.Find(hook.table);
    if (!table) continue;
    const Chain* chain = table->Find(hook.chain);
    if (!chain) continue;
    Evaluator ev(*table);
    Outcome o = ev.RunBuiltin(*chain, state);
    Decision here;
    here.verdict.manager = impl.manager;
    here.verdict.verdict = o.kind == Outcome::Kind::kUnknown ? Verdict::kUnknown : o.verdict;
    here.verdict.table = o.table;
    here.verdict.chain = o.chain;
    here.verdict.rule = o.rule;
    here.verdict.note = o.note;
    here.hook_table = hook.table;
    here.hook_chain = hook.chain;
    here.entry = o.entry;
    if (here.verdict.verdict == Verdict::kDrop || here.verdict.verdict == Verdict::kReject) {
      if (unknown)
        here.verdict.note += (here.verdict.note.empty() ? "" : "; ") + std::string("dropped here if not before at \"") +
                             unknown->verdict.rule + "\"";
      return here;
    }
    if (here.verdict.verdict == Verdict::kUnknown) {
      if (!unknown) unknown = here;
      continue;
    }
    accepted = here;
  }
  if (unknown) return *unknown;
  if (accepted) return *accepted;
  d.verdict.verdict = Verdict::kAccept;
  d.verdict.note = "no input rules";
  return d;
}

std::string PortArg(const PortRange& r) {
  return r.first == r.last ? std::to_string(r.first) : std::to_string(r.first) + ":" + std::to_string(r.last);
}

std::vector<std::string> AcceptArgs(const RequiredPort& port) {
  switch (port.proto) {
    case Proto::kTcp:
      return {"-p", "tcp", "-m", "tcp", "--dport", PortArg(port.ports), "-j", "ACCEPT"};
    case Proto::kUdp:
      return {"-p", "udp", "-m", "udp", "--dport", PortArg(port.ports), "-j", "ACCEPT"};
    case Proto::kIpip:
      return {"-p", "4", "-j", "ACCEPT"};
  }
  return {};
}

std::string JoinWords(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

}  // namespace

Result<IptablesRuleset> IptablesRuleset::Parse(std::string_view save, std::string manager) {
  auto impl = std::make_shared<Impl>();
  impl->family = manager.rfind("ip6", 0) == 0 ? 6 : 4;
  impl->manager = std::move(manager);
  Table* table = nullptr;
  size_t line_no = 0;
  size_t pos = 0;
  auto where = [&](size_t n) { return impl->manager + "-save line " + std::to_string(n); };
  while (pos < save.size()) {
    auto nl = save.find('\n', pos);
    std::string_view raw = save.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? save.size() : nl + 1;
    ++line_no;
    if (line_no > kMaxLines) return InvalidArgument(impl->manager + "-save: more than 200000 lines");
    if (raw.size() > kMaxLineBytes) return InvalidArgument(where(line_no) + ": longer than 64 KiB");
    std::string_view line = TrimLine(raw);
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '*') {
      if (table)
        return InvalidArgument(where(line_no) + ": table " + std::string(line) + " before COMMIT of " + table->name);
      impl->tables.push_back(Table{std::string(line.substr(1)), {}});
      table = &impl->tables.back();
      continue;
    }
    if (line == "COMMIT") {
      if (!table) return InvalidArgument(where(line_no) + ": COMMIT outside a table");
      table = nullptr;
      continue;
    }
    if (!table) return InvalidArgument(where(line_no) + ": \"" + std::string(line) + "\" outside a table");
    if (line[0] == ':') {
      auto words = SplitWords(line.substr(1));
      if (!words || words->size() < 2)
        return InvalidArgument(where(line_no) + ": bad chain line \"" + std::string(line) + "\"");
      const std::string& policy = (*words)[1];
      if (policy != "ACCEPT" && policy != "DROP" && policy != "-")
        return InvalidArgument(where(line_no) + ": policy \"" + policy + "\"");
      if (table->Find((*words)[0])) return InvalidArgument(where(line_no) + ": chain " + (*words)[0] + " twice");
      table->chains.push_back(Chain{(*words)[0], policy, {}});
      continue;
    }
    if (line[0] == '[') {  // "[packets:bytes] -A ..." (saved with counters)
      auto close = line.find(']');
      if (close == std::string_view::npos) return InvalidArgument(where(line_no) + ": unclosed counters");
      line = TrimLine(line.substr(close + 1));
    }
    auto words = SplitWords(line);
    if (!words) return InvalidArgument(where(line_no) + ": " + words.error().message());
    if (words->size() < 2 || (*words)[0] != "-A")
      return InvalidArgument(where(line_no) + ": not a rule: \"" + std::string(line) + "\"");
    Chain* chain = table->Find((*words)[1]);
    if (!chain) return InvalidArgument(where(line_no) + ": rule for undeclared chain " + (*words)[1]);
    Rule rule;
    rule.text = std::string(line);
    auto st = ParseRuleWords(*words, 2, rule);
    if (!st) return InvalidArgument(where(line_no) + ": " + st.error().message() + " in \"" + rule.text + "\"");
    chain->rules.push_back(std::move(rule));
  }
  if (table) return InvalidArgument(impl->manager + "-save: table " + table->name + " has no COMMIT");
  // A target named like a chain of the table is a jump; an unknown upper-case target stays unknown.
  for (auto& t : impl->tables)
    for (auto& c : t.chains)
      for (auto& r : c.rules)
        if (r.target == TargetKind::kUnknown && t.Find(r.target_name)) r.target = TargetKind::kJump;
  IptablesRuleset rs;
  rs.impl_ = std::move(impl);
  return rs;
}

bool IptablesRuleset::FiltersInput() const {
  for (const auto& hook : kInputHooks) {
    const Table* t = impl_->Find(hook.table);
    const Chain* c = t ? t->Find(hook.chain) : nullptr;
    if (c && (!c->rules.empty() || c->policy != "ACCEPT")) return true;
  }
  return false;
}

std::vector<std::string> IptablesRuleset::InputManagers() const {
  std::vector<std::string> out;
  auto add = [&](const std::string& m) {
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  };
  auto is_ufw = [](const std::string& name) { return name.rfind("ufw-", 0) == 0 || name.rfind("ufw6-", 0) == 0; };
  for (const auto& hook : kInputHooks) {
    const Table* t = impl_->Find(hook.table);
    const Chain* c = t ? t->Find(hook.chain) : nullptr;
    if (!c) continue;
    bool ufw_here = false;
    for (const auto& r : c->rules) {
      bool ufw = (r.target == TargetKind::kJump || r.target == TargetKind::kGoto) && is_ufw(r.target_name);
      ufw_here = ufw_here || ufw;
      add(ufw ? "ufw" : impl_->manager);
    }
    if (c->policy != "ACCEPT") add(ufw_here ? "ufw" : impl_->manager);
  }
  return out;
}

RuleVerdict IptablesRuleset::Evaluate(const Packet& packet) const { return Decide(*impl_, packet).verdict; }

const std::string& IptablesRuleset::manager() const { return impl_->manager; }
int IptablesRuleset::family() const { return impl_->family; }

bool IptablesRuleset::SameRules(const IptablesRuleset& other) const {
  auto key = [](const Impl& impl) {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& t : impl.tables) {
      // A loaded table with nothing in it is the same as one not loaded.
      bool empty = std::all_of(t.chains.begin(), t.chains.end(),
                               [](const Chain& c) { return c.policy == "ACCEPT" && c.rules.empty(); });
      if (empty) continue;
      auto& lines = out[t.name];
      for (const auto& c : t.chains) lines.push_back(":" + c.name + " " + c.policy);
      std::sort(lines.begin(), lines.end());
      for (const auto& c : t.chains)
        for (const auto& r : c.rules) lines.push_back(c.name + " " + JoinWords(r.normalized));
    }
    return out;
  };
  return key(*impl_) == key(*other.impl_);
}

Result<IptablesRuleset> IptablesRuleset::WithInsert(const IptablesInsert& insert) const {
  auto impl = std::make_shared<Impl>(*impl_);
  Table* table = nullptr;
  for (auto& t : impl->tables)
    if (t.name == insert.table) table = &t;
  if (!table) return NotFound("no table " + insert.table + " in " + impl->manager);
  Chain* chain = table->Find(insert.chain);
  if (!chain) return NotFound("no chain " + insert.chain + " in table " + insert.table);
  if (insert.position < 1 || insert.position > static_cast<int>(chain->rules.size()) + 1)
    return InvalidArgument("position " + std::to_string(insert.position) + " outside " + insert.chain);
  std::vector<std::string> words = {"-A", insert.chain};
  words.insert(words.end(), insert.args.begin(), insert.args.end());
  Rule rule;
  rule.text = JoinWords(words);
  auto st = ParseRuleWords(words, 2, rule);
  if (!st) return st.error();
  chain->rules.insert(chain->rules.begin() + (insert.position - 1), std::move(rule));
  IptablesRuleset rs;
  rs.impl_ = std::move(impl);
  return rs;
}

Result<std::vector<IptablesInsert>> IptablesRuleset::PlanOpen(const RequiredPort& port,
                                                              const std::vector<Packet>& packets) const {
  std::vector<IptablesInsert> inserts;
  IptablesRuleset current = *this;
  for (int round = 0; round < kMaxInsertRounds; ++round) {
    std::optional<Decision> blocking;
    for (const auto& p : packets) {
      Decision d = Decide(*current.impl_, p);
      if (d.verdict.verdict == Verdict::kAccept) continue;
      if (d.verdict.verdict == Verdict::kUnknown)
        return InvalidArgument(impl_->manager + ": cannot tell whether " + ProtoName(p.proto) + " " +
                               std::to_string(p.dport) + " passes: \"" + d.verdict.rule + "\" (" + d.verdict.note +
                               ")");
      blocking = d;
      break;
    }
    if (!blocking) return inserts;
    if (blocking->entry < 0)
      return Internal(impl_->manager + ": no place found before \"" + blocking->verdict.rule + "\"");
    IptablesInsert ins{blocking->hook_table, blocking->hook_chain, blocking->entry + 1, AcceptArgs(port)};
    auto next = current.WithInsert(ins);
    if (!next) return next.error();
    current = *next;
    inserts.push_back(std::move(ins));
  }
  return InvalidArgument(impl_->manager + ": the inserted accept rules still do not let " + ProtoName(port.proto) +
                         " " + FormatPortRange(port.ports) + " pass");
}

std::vector<std::string> IptablesInsertArgv(const std::string& manager, const IptablesInsert& insert) {
  std::vector<std::string> argv = {manager, "-t", insert.table, "-I", insert.chain, std::to_string(insert.position)};
  argv.insert(argv.end(), insert.args.begin(), insert.args.end());
  return argv;
}

Result<std::string> InsertIntoSaveFile(std::string_view save_text, const IptablesInsert& insert,
                                       std::string_view path) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < save_text.size()) {
    auto nl = save_text.find('\n', pos);
    lines.push_back(save_text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    pos = nl == std::string_view::npos ? save_text.size() : nl + 1;
  }
  std::string prefix = "-A " + insert.chain + " ";
  std::string new_line = "-A " + insert.chain + " " + JoinWords(insert.args);
  bool in_table = false, declared = false;
  int seen = 0;
  std::optional<size_t> at, last_rule, commit;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view l = TrimLine(lines[i]);
    if (!in_table) {
      if (l == "*" + insert.table) in_table = true;
      continue;
    }
    if (l == "COMMIT") {
      commit = i;
      break;
    }
    if (!l.empty() && l[0] == '[' && l.find(']') != std::string_view::npos) l = TrimLine(l.substr(l.find(']') + 1));
    if (l.rfind(":" + insert.chain + " ", 0) == 0) declared = true;
    if (l.rfind(prefix, 0) == 0) {
      ++seen;
      if (seen == insert.position) at = i;
      last_rule = i;
    }
  }
  if (!commit || !declared)
    return InvalidArgument(std::string(path) + ": no chain " + insert.chain + " in table " + insert.table);
  size_t index = at ? *at : last_rule ? *last_rule + 1 : *commit;
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i == index) out += new_line + "\n";
    out += lines[i];
    if (i + 1 < lines.size() || (!save_text.empty() && save_text.back() == '\n')) out += "\n";
  }
  return out;
}

std::vector<std::string> IptablesPersistFiles(int family) {
  if (family == 6) return {"/etc/iptables/rules.v6", "/etc/sysconfig/ip6tables"};
  return {"/etc/iptables/rules.v4", "/etc/sysconfig/iptables"};
}

Result<std::vector<std::vector<FixStep>>> PlanIptablesOpen(const FileSystem& files, const IptablesRuleset& running,
                                                           const std::vector<IptablesOpenRequest>& requests,
                                                           std::string* warning) {
  std::vector<std::vector<IptablesInsert>> inserts(requests.size());
  IptablesRuleset current = running;
  size_t total = 0;
  for (size_t k = 0; k < requests.size(); ++k) {
    auto planned = current.PlanOpen(requests[k].port, requests[k].packets);
    if (!planned) return planned.error();
    for (const auto& ins : *planned) {
      auto next = current.WithInsert(ins);
      if (!next) return next.error();
      current = *next;
      inserts[k].push_back(ins);
      ++total;
    }
  }
  std::vector<std::vector<FixStep>> steps(requests.size());
  if (total == 0) return steps;
  std::string lines_text;
  for (size_t k = 0; k < requests.size(); ++k) {
    for (const auto& ins : inserts[k]) {
      steps[k].push_back(FixStep::Run(IptablesInsertArgv(running.manager(), ins),
                                      "accept " + JoinWords(ins.args) + " as rule " + std::to_string(ins.position) +
                                          " of " + ins.table + " " + ins.chain));
      lines_text += "\n  *" + ins.table + ": -A " + ins.chain + " " + JoinWords(ins.args) + " (as rule " +
                    std::to_string(ins.position) + " of " + ins.chain + ")";
    }
  }
  std::vector<std::string> persisted, differing;
  for (const auto& path : IptablesPersistFiles(running.family())) {
    if (!files.Exists(path)) continue;
    auto text = files.ReadFile(path);
    if (!text) {
      differing.push_back(path + " (" + text.error().message() + ")");
      continue;
    }
    auto saved = IptablesRuleset::Parse(*text, running.manager());
    if (!saved || !saved->SameRules(running)) {
      differing.push_back(
          path + (saved ? " (holds other rules than the running ones)" : " (" + saved.error().message() + ")"));
      continue;
    }
    // Each request's edit starts from the text the previous one left.
    std::vector<FileEdit> edits;
    std::string content = *text;
    std::optional<Error> failed;
    for (size_t k = 0; k < requests.size() && !failed; ++k) {
      if (inserts[k].empty()) {
        edits.emplace_back();
        continue;
      }
      FileEdit edit;
      edit.path = path;
      edit.before = content;
      for (const auto& ins : inserts[k]) {
        auto edited = InsertIntoSaveFile(content, ins, path);
        if (!edited) {
          failed = edited.error();
          break;
        }
        content = *edited;
      }
      edit.after = content;
      edits.push_back(std::move(edit));
    }
    if (failed) {
      differing.push_back(path + " (" + failed->message() + ")");
      continue;
    }
    for (size_t k = 0; k < requests.size(); ++k)
      if (!inserts[k].empty()) steps[k].push_back(FixStep::Edit(edits[k], "persist the accept rules in " + path));
    persisted.push_back(path);
  }
  if (persisted.empty() && warning) {
    std::string where = differing.empty()
                            ? "no saved rules file (" + JoinWords(IptablesPersistFiles(running.family())) + ") exists"
                            : "not edited: " + JoinWords(differing);
    *warning = running.manager() + ": applied at runtime only, lost at reboot (" + where +
               "); persist these rules where this node's " + running.manager() +
               " rules are restored from:" + lines_text;
  }
  return steps;
}

}  // namespace nodeagent::join_prep
