#include "firewall/nft_evaluator.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <set>
#include <sstream>

#include "nodeagent/host.h"
#include "text.h"

namespace nodeagent::join_prep {

using nlohmann::json;

namespace {

// ---------------------------------------------------------------- model

struct NftRule {
  int64_t handle = 0;
  json expr;  // the rule's "expr" array, kept as nft printed it
  std::string text;
};

struct NftChain {
  std::string family, table, name;
  bool base = false;
  std::string type, hook, policy = "accept";
  int prio = 0;
  size_t order = 0;  // position in the listing: ties in priority keep it
  std::vector<std::string> devices;  // ingress chains: the devices they hook
  bool devices_known = false;
  std::vector<NftRule> rules;
};

struct NftSet {
  bool concat = false;  // a concatenated type: elements are tuples we do not model
  json elems = json::array();
};

using TableKey = std::pair<std::string, std::string>;                // family, table
using NameKey = std::tuple<std::string, std::string, std::string>;  // family, table, name

}  // namespace

struct NftRuleset::Impl {
  std::vector<NftChain> chains;
  std::map<NameKey, size_t> chain_index;
  std::map<NameKey, NftSet> sets;  // sets and maps (verdict maps too)
  std::set<TableKey> dormant;
  std::set<TableKey> iptables_nft;  // tables the listing says iptables-nft manages
  bool skip_iptables_nft = false;   // WithoutIptablesNftTables: those are evaluated elsewhere
};

namespace {

// ---------------------------------------------------------------- parsing

Error ShapeError(const std::string& where, const std::string& what) {
  return InvalidArgument("nft -j list ruleset: " + where + ": " + what);
}

Result<std::string> StringField(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return ShapeError(where + "." + key, "expected a string");
  return it->get<std::string>();
}

Result<int64_t> IntField(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return ShapeError(where + "." + key, "expected an integer");
  return it->get<int64_t>();
}

// Priority as a number, or one of nft's standard names.
std::optional<int> PriorityValue(const json& prio) {
  if (prio.is_number_integer()) return prio.get<int>();
  if (!prio.is_string()) return std::nullopt;
  static const std::map<std::string, int> kNames = {{"raw", -300},    {"mangle", -150}, {"dstnat", -100},
                                                    {"filter", 0},    {"security", 50}, {"srcnat", 100}};
  auto it = kNames.find(prio.get<std::string>());
  if (it == kNames.end()) return std::nullopt;
  return it->second;
}

std::string RenderExpr(const json& e);

std::string RenderValue(const json& v) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (!s.empty() && s[0] == '@') return s;
    bool plain = std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == ':' || c == '-' || c == '_' || c == '/'; });
    return plain ? s : "\"" + s + "\"";
  }
  if (v.is_number()) return v.dump();
  if (v.is_array()) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ",") + RenderValue(x);
    return out;
  }
  if (v.is_object()) {
    if (v.contains("set") && v["set"].is_array()) {
      std::string out;
      for (const auto& x : v["set"]) {
        if (x.is_array() && x.size() == 2) {
          out += (out.empty() ? "" : ", ") + RenderValue(x[0]) + " : " + RenderExpr(x[1]);
        } else {
          out += (out.empty() ? "" : ", ") + RenderValue(x);
        }
      }
      return "{ " + out + " }";
    }
    if (v.contains("range") && v["range"].is_array() && v["range"].size() == 2)
      return RenderValue(v["range"][0]) + "-" + RenderValue(v["range"][1]);
    if (v.contains("prefix") && v["prefix"].is_object())
      return RenderValue(v["prefix"].value("addr", json(""))) + "/" + v["prefix"].value("len", json(0)).dump();
    if (v.contains("elem") && v["elem"].is_object()) return RenderValue(v["elem"].value("val", json()));
    if (v.contains("concat") && v["concat"].is_array()) {
      std::string out;
      for (const auto& part : v["concat"]) out += (out.empty() ? "" : " . ") + RenderValue(part);
      return out;
    }
    return RenderExpr(v);
  }
  return v.dump();
}

std::string RenderLeft(const json& l) {
  if (l.is_object()) {
    if (l.contains("payload") && l["payload"].is_object()) {
      const json& p = l["payload"];
      return p.value("protocol", std::string("?")) + " " + p.value("field", std::string("?"));
    }
    if (l.contains("meta") && l["meta"].is_object()) {
      std::string key = l["meta"].value("key", std::string("?"));
      if (key == "iifname" || key == "oifname" || key == "iif" || key == "oif") return key;
      return "meta " + key;
    }
    if (l.contains("ct") && l["ct"].is_object()) return "ct " + l["ct"].value("key", std::string("?"));
    if (l.contains("concat") && l["concat"].is_array()) {
      std::string out;
      for (const auto& part : l["concat"]) out += (out.empty() ? "" : " . ") + RenderLeft(part);
      return out;
    }
    if (l.contains("&") && l["&"].is_array() && l["&"].size() == 2)
      return RenderLeft(l["&"][0]) + " & " + RenderValue(l["&"][1]);
  }
  return l.dump();
}

// One expression of a rule, roughly as `nft list ruleset` prints it.
std::string RenderExpr(const json& e) {
  if (!e.is_object() || e.size() != 1) return e.dump();
  const std::string& key = e.begin().key();
  const json& v = e.begin().value();
  if (key == "match" && v.is_object()) {
    std::string op = v.value("op", std::string("=="));
    std::string left = RenderLeft(v.value("left", json()));
    std::string right = RenderValue(v.value("right", json()));
    return left + (op == "==" || op == "in" ? "" : " " + op) + " " + right;
  }
  if (key == "accept" || key == "drop" || key == "return" || key == "continue" || key == "notrack") return key;
  if ((key == "jump" || key == "goto") && v.is_object()) return key + " " + v.value("target", std::string("?"));
  if (key == "reject") {
    if (!v.is_object()) return "reject";
    std::string type = v.value("type", std::string(""));
    std::string what = v.contains("expr") ? RenderValue(v["expr"]) : "";
    if (type == "tcp reset") return "reject with tcp reset";
    if (type.empty()) return "reject";
    return "reject with " + type + (what.empty() ? "" : " " + what);
  }
  if (key == "counter") return "counter";
  if (key == "log") return v.is_object() && v.contains("prefix") ? "log prefix " + RenderValue(v["prefix"]) : "log";
  if (key == "limit" && v.is_object())
    return "limit rate " + std::string(v.value("inv", false) ? "over " : "") + v.value("rate", json(0)).dump() + "/" +
           v.value("per", std::string("second"));
  if (key == "vmap" && v.is_object())
    return RenderLeft(v.value("key", json())) + " vmap " + RenderValue(v.value("data", json()));
  if (key == "mangle" && v.is_object())
    return RenderLeft(v.value("key", json())) + " set " + RenderValue(v.value("value", json()));
  return key + " " + v.dump();
}

std::string RenderRule(const json& expr, const json& rule) {
  std::string out;
  for (const auto& e : expr) out += (out.empty() ? "" : " ") + RenderExpr(e);
  if (rule.contains("comment") && rule["comment"].is_string())
    out += " comment \"" + rule["comment"].get<std::string>() + "\"";
  return out;
}

Status AddChain(NftRuleset::Impl& impl, const json& c, const std::string& where) {
  NftChain chain;
  auto family = StringField(c, "family", where);
  if (!family) return family.error();
  auto table = StringField(c, "table", where);
  if (!table) return table.error();
  auto name = StringField(c, "name", where);
  if (!name) return name.error();
  chain.family = *family;
  chain.table = *table;
  chain.name = *name;
  if (c.contains("hook")) {
    chain.base = true;
    auto type = StringField(c, "type", where);
    if (!type) return type.error();
    auto hook = StringField(c, "hook", where);
    if (!hook) return hook.error();
    chain.type = *type;
    chain.hook = *hook;
    auto prio = PriorityValue(c.value("prio", json()));
    if (!prio) return ShapeError(where + ".prio", "expected a number or a standard priority name");
    chain.prio = *prio;
    if (c.contains("policy")) {
      auto policy = StringField(c, "policy", where);
      if (!policy) return policy.error();
      chain.policy = *policy;
    }
    // nft 1.0.6 leaves an ingress chain's device out of its JSON; the text
    // listing has it (ParseDoc fills it in from there).
    if (c.contains("dev")) {
      const json& dev = c["dev"];
      if (dev.is_string()) chain.devices.push_back(dev.get<std::string>());
      if (dev.is_array())
        for (const auto& d : dev)
          if (d.is_string()) chain.devices.push_back(d.get<std::string>());
      chain.devices_known = !chain.devices.empty();
    }
  }
  chain.order = impl.chains.size();
  NameKey key{chain.family, chain.table, chain.name};
  if (impl.chain_index.count(key)) return ShapeError(where, "chain " + chain.name + " listed twice");
  impl.chain_index[key] = impl.chains.size();
  impl.chains.push_back(std::move(chain));
  return Status::Ok();
}

Status AddSet(NftRuleset::Impl& impl, const json& s, const std::string& where) {
  auto family = StringField(s, "family", where);
  if (!family) return family.error();
  auto table = StringField(s, "table", where);
  if (!table) return table.error();
  auto name = StringField(s, "name", where);
  if (!name) return name.error();
  NftSet set;
  set.concat = s.contains("type") && s["type"].is_array();
  if (s.contains("elem")) {
    if (!s["elem"].is_array()) return ShapeError(where + ".elem", "expected an array");
    set.elems = s["elem"];
  }
  impl.sets[{*family, *table, *name}] = std::move(set);
  return Status::Ok();
}

Status AddRule(NftRuleset::Impl& impl, const json& r, const std::string& where,
               const std::map<std::tuple<std::string, std::string, int64_t>, std::string>& texts) {
  auto family = StringField(r, "family", where);
  if (!family) return family.error();
  auto table = StringField(r, "table", where);
  if (!table) return table.error();
  auto chain = StringField(r, "chain", where);
  if (!chain) return chain.error();
  auto handle = IntField(r, "handle", where);
  if (!handle) return handle.error();
  auto it = r.find("expr");
  if (it == r.end() || !it->is_array()) return ShapeError(where + ".expr", "expected an array");
  auto ci = impl.chain_index.find({*family, *table, *chain});
  if (ci == impl.chain_index.end())
    return ShapeError(where, "rule in chain " + *family + " " + *table + " " + *chain + " that was not listed before it");
  NftRule rule;
  rule.handle = *handle;
  rule.expr = *it;
  auto text = texts.find({*family, *table, *handle});
  rule.text = text != texts.end() ? text->second : RenderRule(*it, r);
  impl.chains[ci->second].rules.push_back(std::move(rule));
  return Status::Ok();
}

Result<std::shared_ptr<NftRuleset::Impl>> ParseDoc(
    const json& doc, const std::map<std::tuple<std::string, std::string, int64_t>, std::string>& texts,
    const std::map<NameKey, std::vector<std::string>>& devices) {
  if (!doc.is_object() || !doc.contains("nftables")) return ShapeError("top level", "expected an object with \"nftables\"");
  const json& list = doc["nftables"];
  if (!list.is_array()) return ShapeError("nftables", "expected an array");
  if (list.size() > kMaxNftObjects)
    return ShapeError("nftables", "more than " + std::to_string(kMaxNftObjects) + " objects");
  auto impl = std::make_shared<NftRuleset::Impl>();
  for (size_t i = 0; i < list.size(); ++i) {
    const json& item = list[i];
    std::string where = "nftables[" + std::to_string(i) + "]";
    if (!item.is_object() || item.size() != 1) return ShapeError(where, "expected an object with one key");
    const std::string& kind = item.begin().key();
    const json& body = item.begin().value();
    where += "." + kind;
    if (kind == "metainfo") continue;
    if (!body.is_object()) return ShapeError(where, "expected an object");
    Status st;
    if (kind == "table") {
      auto family = StringField(body, "family", where);
      if (!family) return family.error();
      auto name = StringField(body, "name", where);
      if (!name) return name.error();
      if (body.contains("flags")) {
        const json& f = body["flags"];
        bool dormant = (f.is_string() && f == "dormant") ||
                       (f.is_array() && std::find(f.begin(), f.end(), json("dormant")) != f.end());
        if (dormant) impl->dormant.insert({*family, *name});
      }
    } else if (kind == "chain") {
      st = AddChain(*impl, body, where);
    } else if (kind == "set" || kind == "map") {
      st = AddSet(*impl, body, where);
    } else if (kind == "rule") {
      st = AddRule(*impl, body, where, texts);
    }
    // Other objects (flowtables, counters, quotas, ct helpers, elements) do not decide.
    if (!st) return st.error();
  }
  for (auto& c : impl->chains) {
    auto it = devices.find({c.family, c.table, c.name});
    if (c.hook == "ingress" && !c.devices_known && it != devices.end()) {
      c.devices = it->second;
      c.devices_known = true;
    }
  }
  return impl;
}

// ---------------------------------------------------------------- values

enum class Tri { kFalse, kTrue, kUnknown };

Tri Not(Tri t) { return t == Tri::kTrue ? Tri::kFalse : t == Tri::kFalse ? Tri::kTrue : Tri::kUnknown; }

// What conntrack says about the packet where a chain sees it: a new
// connection; untracked (a notrack ran before conntrack); or nothing yet
// (ingress, and prerouting before priority -200), where `ct state` reads
// as invalid.
enum class CtView { kNew, kUntracked, kNone };

enum class FieldKind { kNumber, kProto, kAddr, kIfname, kFlags, kName, kConcat };

// One property of the packet that a match reads.
struct Field {
  FieldKind kind = FieldKind::kNumber;
  bool present = true;   // false: the packet lacks the header (tcp dport of a UDP packet): no match either way
  bool known = true;     // false: the check does not know the value (saddr empty)
  int64_t number = 0;    // ports, protocols, flag bits
  std::string text;      // interface names, nfproto, ethertype names
  std::array<uint8_t, 16> addr{};
  int addr_len = 0;      // 4 or 16
  std::string flag_kind; // "ct state" or "tcp flags"
  std::string what;      // "ip saddr", for notes
  std::vector<Field> parts;  // kConcat: one per component, in order
};

std::optional<int64_t> ProtoNumber(const std::string& name) {
  static const std::map<std::string, int64_t> kProtos = {
      {"icmp", 1},   {"igmp", 2},  {"ipencap", 4}, {"tcp", 6},         {"udp", 17},       {"ipv6", 41},
      {"gre", 47},   {"esp", 50},  {"ah", 51},     {"ipv6-icmp", 58},  {"icmpv6", 58},    {"ipip", 94},
      {"sctp", 132}, {"dccp", 33}, {"udplite", 136}, {"vrrp", 112}};
  auto it = kProtos.find(name);
  if (it == kProtos.end()) return std::nullopt;
  return it->second;
}

int64_t PacketProto(const Packet& p) {
  switch (p.proto) {
    case Proto::kTcp: return 6;
    case Proto::kUdp: return 17;
    case Proto::kIpip: return 4;
  }
  return -1;
}

bool ParseAddr(const std::string& s, int family, std::array<uint8_t, 16>& out) {
  out.fill(0);
  return inet_pton(family == 4 ? AF_INET : AF_INET6, s.c_str(), out.data()) == 1;
}

int64_t FlagBit(const std::string& kind, const std::string& name) {
  if (kind == "ct state") {
    static const std::map<std::string, int64_t> k = {
        {"invalid", 1}, {"established", 2}, {"related", 4}, {"new", 8}, {"untracked", 64}};
    auto it = k.find(name);
    return it == k.end() ? -1 : it->second;
  }
  if (kind == "ct status") {
    static const std::map<std::string, int64_t> k = {{"expected", 1}, {"seen-reply", 2}, {"assured", 4},
                                                     {"confirmed", 8}, {"snat", 16},     {"dnat", 32},
                                                     {"dying", 512}};
    auto it = k.find(name);
    return it == k.end() ? -1 : it->second;
  }
  static const std::map<std::string, int64_t> k = {{"fin", 1},  {"syn", 2},  {"rst", 4},   {"psh", 8},
                                                   {"ack", 16}, {"urg", 32}, {"ecn", 64}, {"cwr", 128}};
  auto it = k.find(name);
  return it == k.end() ? -1 : it->second;
}

// A flag set written as a name, a list of names or a number; -1 when not one.
int64_t FlagMask(const Field& f, const json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) return FlagBit(f.flag_kind, v.get<std::string>());
  if (v.is_array() || (v.is_object() && v.contains("set") && v["set"].is_array())) {
    const json& list = v.is_array() ? v : v["set"];
    int64_t mask = 0;
    for (const auto& x : list) {
      int64_t b = FlagMask(f, x);
      if (b < 0) return -1;
      mask |= b;
    }
    return mask;
  }
  return -1;
}

struct Lookup {
  const NftRuleset::Impl& impl;
  const std::string& family;
  const std::string& table;
};

// Whether the field's value equals (or falls in) one element: a scalar, a
// range, a prefix, an {"elem": {"val": ...}}. Unknown for shapes it does not model.
Tri MatchesElement(const Field& f, const json& e, std::string& why) {
  if (e.is_object() && e.contains("elem") && e["elem"].is_object()) return MatchesElement(f, e["elem"].value("val", json()), why);
  if (f.kind == FieldKind::kConcat) {
    if (!e.is_object() || !e.contains("concat") || !e["concat"].is_array() || e["concat"].size() != f.parts.size()) {
      why = f.what + ": cannot compare with " + e.dump();
      return Tri::kUnknown;
    }
    Tri all = Tri::kTrue;
    for (size_t i = 0; i < f.parts.size(); ++i) {
      Tri t = MatchesElement(f.parts[i], e["concat"][i], why);
      if (t == Tri::kFalse) return Tri::kFalse;
      if (t == Tri::kUnknown) all = Tri::kUnknown;
    }
    return all;
  }
  if (!f.known) {
    why = f.what + " of the packet is not known";
    return Tri::kUnknown;
  }
  switch (f.kind) {
    case FieldKind::kConcat:
      break;  // matched part by part above
    case FieldKind::kNumber:
    case FieldKind::kProto: {
      auto number = [&](const json& v) -> std::optional<int64_t> {
        if (v.is_number_integer()) return v.get<int64_t>();
        if (v.is_string() && f.kind == FieldKind::kProto) return ProtoNumber(v.get<std::string>());
        return std::nullopt;
      };
      if (e.is_object() && e.contains("range") && e["range"].is_array() && e["range"].size() == 2) {
        auto lo = number(e["range"][0]), hi = number(e["range"][1]);
        if (!lo || !hi) break;
        return f.number >= *lo && f.number <= *hi ? Tri::kTrue : Tri::kFalse;
      }
      auto n = number(e);
      if (!n) break;
      return f.number == *n ? Tri::kTrue : Tri::kFalse;
    }
    case FieldKind::kAddr: {
      int family = f.addr_len == 4 ? 4 : 6;
      std::array<uint8_t, 16> a{}, b{};
      if (e.is_string()) {
        if (!ParseAddr(e.get<std::string>(), family, a)) break;
        return std::memcmp(a.data(), f.addr.data(), f.addr_len) == 0 ? Tri::kTrue : Tri::kFalse;
      }
      if (e.is_object() && e.contains("prefix") && e["prefix"].is_object()) {
        const json& p = e["prefix"];
        if (!p.contains("addr") || !p["addr"].is_string() || !p.contains("len") || !p["len"].is_number_integer()) break;
        if (!ParseAddr(p["addr"].get<std::string>(), family, a)) break;
        int len = p["len"].get<int>();
        if (len < 0 || len > f.addr_len * 8) break;
        for (int bit = 0; bit < len; ++bit) {
          int byte = bit / 8, mask = 0x80 >> (bit % 8);
          if ((a[byte] & mask) != (f.addr[byte] & mask)) return Tri::kFalse;
        }
        return Tri::kTrue;
      }
      if (e.is_object() && e.contains("range") && e["range"].is_array() && e["range"].size() == 2 &&
          e["range"][0].is_string() && e["range"][1].is_string()) {
        if (!ParseAddr(e["range"][0].get<std::string>(), family, a) ||
            !ParseAddr(e["range"][1].get<std::string>(), family, b))
          break;
        bool ge = std::memcmp(f.addr.data(), a.data(), f.addr_len) >= 0;
        bool le = std::memcmp(f.addr.data(), b.data(), f.addr_len) <= 0;
        return ge && le ? Tri::kTrue : Tri::kFalse;
      }
      break;
    }
    case FieldKind::kIfname:
    case FieldKind::kName: {
      if (f.what == "iif" && e.is_number_integer()) {
        if (f.number == 0) {
          why = "the packet's interface index is not known";
          return Tri::kUnknown;
        }
        return f.number == e.get<int64_t>() ? Tri::kTrue : Tri::kFalse;
      }
      if (f.what == "iif" && f.text.empty()) {
        why = "the packet's interface name is not known";
        return Tri::kUnknown;
      }
      if (!e.is_string()) break;
      std::string pattern = e.get<std::string>();
      if (f.kind == FieldKind::kIfname && !pattern.empty() && pattern.back() == '*') {
        pattern.pop_back();
        return f.text.compare(0, pattern.size(), pattern) == 0 ? Tri::kTrue : Tri::kFalse;
      }
      return f.text == pattern ? Tri::kTrue : Tri::kFalse;
    }
    case FieldKind::kFlags: {
      int64_t m = FlagMask(f, e);
      if (m < 0) break;
      return f.number == m ? Tri::kTrue : Tri::kFalse;
    }
  }
  why = f.what + ": cannot compare with " + e.dump();
  return Tri::kUnknown;
}

// Membership in a list of elements: true if any is true, unknown if none
// is true and some is unknown.
Tri MatchesAny(const Field& f, const json& elems, std::string& why) {
  Tri result = Tri::kFalse;
  for (const auto& e : elems) {
    Tri t = MatchesElement(f, e, why);
    if (t == Tri::kTrue) return Tri::kTrue;
    if (t == Tri::kUnknown) result = Tri::kUnknown;
  }
  return result;
}

// The right-hand side of a match: a value, a range, a prefix, an anonymous
// set or a named set ("@name").
Tri MatchesRight(const Field& f, const json& right, const Lookup& look, std::string& why) {
  if (right.is_string() && !right.get<std::string>().empty() && right.get<std::string>()[0] == '@') {
    auto it = look.impl.sets.find({look.family, look.table, right.get<std::string>().substr(1)});
    if (it == look.impl.sets.end()) {
      why = "set " + right.get<std::string>() + " is not in the rule set";
      return Tri::kUnknown;
    }
    if (it->second.concat != (f.kind == FieldKind::kConcat)) {
      why = "set " + right.get<std::string>() + (it->second.concat ? " has" : " does not have") +
            " a concatenated type";
      return Tri::kUnknown;
    }
    return MatchesAny(f, it->second.elems, why);
  }
  if (right.is_object() && right.contains("set") && right["set"].is_array()) return MatchesAny(f, right["set"], why);
  return MatchesElement(f, right, why);
}

// The value of the packet that a match's left side reads; nullopt when the
// evaluator does not model it (`why` says what it is).
std::optional<Field> PacketField(const json& left, const Packet& p, CtView ct, std::string& why) {
  Field f;
  f.what = RenderLeft(left);
  if (!left.is_object() || left.size() != 1) {
    why = f.what + " is not modelled";
    return std::nullopt;
  }
  const std::string& kind = left.begin().key();
  const json& body = left.begin().value();
  if (kind == "ct" && body.is_object() && body.value("key", std::string()) == "state") {
    f.kind = FieldKind::kFlags;
    f.flag_kind = "ct state";
    f.number = ct == CtView::kNew ? 8 : ct == CtView::kUntracked ? 64 : 1;
    return f;
  }
  if (kind == "ct" && body.is_object() && body.value("key", std::string()) == "status" && ct == CtView::kNew) {
    // A new connection addressed to the node itself: not NATed, not
    // expected by a helper, not yet confirmed or answered.
    f.kind = FieldKind::kFlags;
    f.flag_kind = "ct status";
    f.number = 0;
    return f;
  }
  if (kind == "ct" && body.is_object() && body.value("key", std::string()) == "direction" && ct == CtView::kNew) {
    f.kind = FieldKind::kName;
    f.text = "original";
    return f;
  }
  if (kind == "meta" && body.is_object()) {
    std::string key = body.value("key", std::string());
    if (key == "l4proto") {
      f.kind = FieldKind::kProto;
      f.number = PacketProto(p);
      return f;
    }
    if (key == "nfproto" || key == "protocol") {
      f.kind = FieldKind::kName;
      f.text = key == "nfproto" ? (p.family == 4 ? "ipv4" : "ipv6") : (p.family == 4 ? "ip" : "ip6");
      return f;
    }
    if (key == "iifname") {
      f.kind = FieldKind::kIfname;
      f.text = p.iifname;
      f.known = !p.iifname.empty();
      return f;
    }
    if (key == "iif") {
      // nft prints the index as the interface's name when it can resolve
      // it, else as the number.
      f.kind = FieldKind::kIfname;
      f.text = p.iifname;
      f.number = p.iif;
      f.known = !p.iifname.empty() || p.iif != 0;
      f.what = "iif";
      return f;
    }
  }
  if (kind == "payload" && body.is_object() && body.contains("protocol")) {
    std::string proto = body.value("protocol", std::string());
    std::string field = body.value("field", std::string());
    bool ports = p.proto == Proto::kTcp || p.proto == Proto::kUdp;
    if ((proto == "tcp" || proto == "udp" || proto == "th") && (field == "dport" || field == "sport")) {
      f.kind = FieldKind::kNumber;
      f.present = proto == "th" ? ports : (proto == "tcp" ? p.proto == Proto::kTcp : p.proto == Proto::kUdp);
      f.number = field == "dport" ? p.dport : 0;
      // The source port of a new connection is whatever the peer picked.
      f.known = field == "dport";
      return f;
    }
    // Headers of other layer 4 protocols: a TCP, UDP or IPIP packet has none.
    static const std::set<std::string> kOtherL4 = {"icmp", "icmpv6", "sctp", "dccp", "udplite",
                                                   "esp",  "ah",     "comp", "igmp"};
    if (kOtherL4.count(proto)) {
      f.kind = FieldKind::kNumber;
      f.present = false;
      return f;
    }
    if (proto == "tcp" && field == "flags") {
      f.kind = FieldKind::kFlags;
      f.flag_kind = "tcp flags";
      f.present = p.proto == Proto::kTcp;
      f.number = 2;  // a SYN
      return f;
    }
    if ((proto == "ip" && p.family == 4) || (proto == "ip6" && p.family == 6) ||
        (proto == "ip" || proto == "ip6")) {
      bool present = (proto == "ip") == (p.family == 4);
      if (field == "saddr" || field == "daddr") {
        f.kind = FieldKind::kAddr;
        f.present = present;
        f.addr_len = proto == "ip" ? 4 : 16;
        const std::string& a = field == "saddr" ? p.saddr : p.daddr;
        f.known = present && !a.empty() && ParseAddr(a, proto == "ip" ? 4 : 6, f.addr);
        return f;
      }
      if ((proto == "ip" && field == "protocol") || (proto == "ip6" && field == "nexthdr")) {
        f.kind = FieldKind::kProto;
        f.present = present;
        f.number = PacketProto(p);
        return f;
      }
      if (field == "version") {
        f.kind = FieldKind::kNumber;
        f.present = present;
        f.number = p.family;
        return f;
      }
    }
  }
  if (kind == "concat" && body.is_array() && !body.empty() && body.size() <= 8) {
    f.kind = FieldKind::kConcat;
    for (const auto& part : body) {
      auto pf = PacketField(part, p, ct, why);
      if (!pf || pf->kind == FieldKind::kConcat) {
        if (pf) why = f.what + " is not modelled";
        return std::nullopt;
      }
      if (!pf->present) f.present = false;
      f.parts.push_back(*pf);
    }
    return f;
  }
  if (kind == "&" && body.is_array() && body.size() == 2) {
    std::string inner_why;
    auto inner = PacketField(body[0], p, ct, inner_why);
    if (inner && inner->kind == FieldKind::kFlags) {
      int64_t mask = FlagMask(*inner, body[1]);
      if (mask >= 0) {
        inner->number &= mask;
        inner->what = f.what;
        return inner;
      }
    }
  }
  why = f.what + " is not modelled";
  return std::nullopt;
}

Tri EvaluateMatch(const json& m, const Packet& p, CtView ct, const Lookup& look, std::string& why) {
  if (!m.is_object() || !m.contains("left") || !m.contains("right")) {
    why = "match without left/right";
    return Tri::kUnknown;
  }
  auto field = PacketField(m["left"], p, ct, why);
  if (!field) return Tri::kUnknown;
  // A header the packet lacks fails the implicit dependency: no match, for != too.
  if (!field->present) return Tri::kFalse;
  std::string op = m.value("op", std::string("=="));
  const json& right = m["right"];
  if (field->kind == FieldKind::kFlags) {
    int64_t mask = FlagMask(*field, right);
    if (mask < 0) {
      why = field->what + ": unknown flag in " + right.dump();
      return Tri::kUnknown;
    }
    if (op == "in") return (field->number & mask) != 0 ? Tri::kTrue : Tri::kFalse;
    if (op == "==") return field->number == mask ? Tri::kTrue : Tri::kFalse;
    if (op == "!=") return field->number != mask ? Tri::kTrue : Tri::kFalse;
    why = field->what + ": operator " + op + " is not modelled";
    return Tri::kUnknown;
  }
  if (op == "==" || op == "in") return MatchesRight(*field, right, look, why);
  if (op == "!=") return Not(MatchesRight(*field, right, look, why));
  if ((op == "<" || op == ">" || op == "<=" || op == ">=") && field->kind == FieldKind::kNumber &&
      right.is_number_integer()) {
    if (!field->known) {
      why = field->what + " of the packet is not known";
      return Tri::kUnknown;
    }
    int64_t v = field->number, r = right.get<int64_t>();
    bool ok = op == "<" ? v < r : op == ">" ? v > r : op == "<=" ? v <= r : v >= r;
    return ok ? Tri::kTrue : Tri::kFalse;
  }
  why = field->what + ": operator " + op + " is not modelled";
  return Tri::kUnknown;
}

// ---------------------------------------------------------------- evaluation

enum class Flow { kNext, kAccept, kDrop, kReject, kReturn, kUnknown, kJump, kGoto };

// One run through the rule set with a fixed answer for every undecided match.
struct Run {
  const NftRuleset::Impl& impl;
  const Packet& packet;
  std::vector<bool> choices;   // the answers, in the order the undecided matches are met
  size_t next_choice = 0;
  std::vector<RuleVerdict> undecided;  // the rules met, same order (verdict kUnknown, note: why)
  bool untracked = false;
  // Outcome.
  Verdict verdict = Verdict::kAccept;
  RuleVerdict where;
  std::string base_family, base_table, base_chain;
  int64_t base_rule_handle = 0;
  std::string base_rule_text;

  CtView Ct(const NftChain& chain) const {
    if (untracked) return CtView::kUntracked;
    bool before = chain.hook == "ingress" || (chain.hook == "prerouting" && chain.prio < -200);
    return before ? CtView::kNone : CtView::kNew;
  }

  bool Choose(const NftChain& chain, const NftRule& rule, const std::string& why) {
    if (next_choice == choices.size()) {
      choices.push_back(false);
      RuleVerdict point;
      point.verdict = Verdict::kUnknown;
      point.manager = "nftables";
      point.family = chain.family;
      point.table = chain.table;
      point.chain = chain.name;
      point.rule = rule.text;
      point.handle = rule.handle;
      point.note = why;
      undecided.push_back(point);
    }
    return choices[next_choice++];
  }
};

constexpr int kMaxJumpDepth = 16;

void Decide(Run& run, Verdict v, const NftChain& chain, const NftRule* rule, const std::string& note = "") {
  run.verdict = v;
  run.where.verdict = v;
  run.where.manager = "nftables";
  run.where.family = chain.family;
  run.where.table = chain.table;
  run.where.chain = chain.name;
  run.where.rule = rule ? rule->text : "policy " + chain.policy;
  run.where.handle = rule ? rule->handle : 0;
  run.where.note = note;
}

Flow RunChain(Run& run, const NftChain& chain, int depth);

// The verdict part of a rule or a vmap element; `target` is set for jump/goto.
Flow VerdictOf(Run& run, const json& stmt, const NftChain& chain, const NftRule& rule, int depth, bool& handled) {
  handled = true;
  if (!stmt.is_object() || stmt.size() != 1) {
    handled = false;
    return Flow::kNext;
  }
  const std::string& key = stmt.begin().key();
  const json& body = stmt.begin().value();
  if (key == "accept") {
    Decide(run, Verdict::kAccept, chain, &rule);
    return Flow::kAccept;
  }
  if (key == "drop") {
    Decide(run, Verdict::kDrop, chain, &rule);
    return Flow::kDrop;
  }
  if (key == "reject") {
    Decide(run, Verdict::kReject, chain, &rule);
    return Flow::kReject;
  }
  if (key == "return") return Flow::kReturn;
  if (key == "continue") return Flow::kNext;
  if ((key == "jump" || key == "goto") && body.is_object() && body.contains("target") && body["target"].is_string()) {
    auto it = run.impl.chain_index.find({chain.family, chain.table, body["target"].get<std::string>()});
    if (it == run.impl.chain_index.end() || depth + 1 > kMaxJumpDepth) {
      Decide(run, Verdict::kUnknown, chain, &rule,
             it == run.impl.chain_index.end() ? "the target chain is not in the rule set" : "jumps nest too deep");
      return Flow::kUnknown;
    }
    Flow f = RunChain(run, run.impl.chains[it->second], depth + 1);
    if (f == Flow::kNext || f == Flow::kReturn) return key == "jump" ? Flow::kNext : Flow::kReturn;
    return f;
  }
  handled = false;
  return Flow::kNext;
}

Flow RunRule(Run& run, const NftChain& chain, const NftRule& rule, int depth) {
  Lookup look{run.impl, chain.family, chain.table};
  // Matches only read the packet: one that is false anywhere in the rule
  // settles it before an undecidable one is tried both ways for nothing.
  for (const auto& stmt : rule.expr) {
    if (stmt.is_object() && stmt.size() == 1 && stmt.begin().key() == "match") {
      std::string why;
      if (EvaluateMatch(stmt.begin().value(), run.packet, run.Ct(chain), look, why) == Tri::kFalse) return Flow::kNext;
    }
  }
  for (const auto& stmt : rule.expr) {
    if (!stmt.is_object() || stmt.size() != 1) {
      Decide(run, Verdict::kUnknown, chain, &rule, "an expression this check does not read: " + stmt.dump());
      return Flow::kUnknown;
    }
    const std::string& key = stmt.begin().key();
    const json& body = stmt.begin().value();
    if (key == "match") {
      std::string why;
      Tri t = EvaluateMatch(body, run.packet, run.Ct(chain), look, why);
      if (t == Tri::kUnknown) t = run.Choose(chain, rule, why) ? Tri::kTrue : Tri::kFalse;
      if (t == Tri::kFalse) return Flow::kNext;
      continue;
    }
    if (key == "limit" || key == "quota" || key == "ct count") {
      // Whether it matches depends on traffic this check cannot see.
      if (run.Choose(chain, rule, key + " depends on traffic")) continue;
      return Flow::kNext;
    }
    if (key == "xt" && body.is_object()) {
      // An iptables-nft extension: the JSON names it but not its options.
      std::string type = body.value("type", std::string()), name = body.value("name", std::string());
      if (type == "match" && name == "comment") continue;  // always matches
      if (type == "match") {
        // A predicate whose options are not listed: tried both ways.
        if (run.Choose(chain, rule, "iptables-nft match -m " + name + ": its options are not in nft's JSON")) continue;
        return Flow::kNext;
      }
      if (type == "target" && name == "REJECT") {
        Decide(run, Verdict::kReject, chain, &rule);
        return Flow::kReject;
      }
      if (type == "target" && (name == "LOG" || name == "NFLOG" || name == "MARK" || name == "CONNMARK")) continue;
      Decide(run, Verdict::kUnknown, chain, &rule, "iptables-nft extension " + type + " " + name);
      return Flow::kUnknown;
    }
    if (key == "counter" || key == "log" || key == "mangle" || key == "set" || key == "dup" ||
        key == "ct helper" || key == "ct timeout" || key == "ct expectation") {
      continue;  // statements that do not decide
    }
    if (key == "notrack") {
      // Conntrack runs at priority -200 on prerouting: a notrack before it
      // leaves the packet untracked for every later chain.
      if (chain.hook == "prerouting" && chain.prio < -200) run.untracked = true;
      continue;
    }
    if (key == "vmap" && body.is_object() && body.contains("key") && body.contains("data")) {
      std::string why;
      auto field = PacketField(body["key"], run.packet, run.Ct(chain), why);
      if (field && !field->present) return Flow::kNext;
      json elems;
      const json& data = body["data"];
      if (data.is_object() && data.contains("set") && data["set"].is_array()) {
        elems = data["set"];
      } else if (data.is_string() && !data.get<std::string>().empty() && data.get<std::string>()[0] == '@') {
        auto it = run.impl.sets.find({chain.family, chain.table, data.get<std::string>().substr(1)});
        if (it != run.impl.sets.end() && field && it->second.concat == (field->kind == FieldKind::kConcat))
          elems = it->second.elems;
      }
      if (!field || !elems.is_array()) {
        Decide(run, Verdict::kUnknown, chain, &rule, field ? "verdict map not readable" : why);
        return Flow::kUnknown;
      }
      for (const auto& pair : elems) {
        if (!pair.is_array() || pair.size() != 2) continue;
        std::string ewhy;
        Tri t = MatchesRight(*field, pair[0], look, ewhy);
        if (t == Tri::kUnknown) t = run.Choose(chain, rule, ewhy) ? Tri::kTrue : Tri::kFalse;
        if (t == Tri::kTrue) {
          bool handled = false;
          Flow f = VerdictOf(run, pair[1], chain, rule, depth, handled);
          if (!handled) {
            Decide(run, Verdict::kUnknown, chain, &rule, "verdict map element " + pair[1].dump());
            return Flow::kUnknown;
          }
          return f;
        }
      }
      return Flow::kNext;  // no element: the rule does not match
    }
    bool handled = false;
    Flow f = VerdictOf(run, stmt, chain, rule, depth, handled);
    if (handled) return f;
    Decide(run, Verdict::kUnknown, chain, &rule, "a statement this check does not read: " + key);
    return Flow::kUnknown;
  }
  return Flow::kNext;
}

Flow RunChain(Run& run, const NftChain& chain, int depth) {
  for (const auto& rule : chain.rules) {
    Flow f = RunRule(run, chain, rule, depth);
    if (f == Flow::kNext) continue;
    if (f == Flow::kReturn) {
      // Out of the base chain (a return, or a goto that came back): its
      // policy decides, and this is the rule after which nothing else runs.
      if (depth == 0) {
        run.base_rule_handle = rule.handle;
        run.base_rule_text = rule.text;
      }
      return Flow::kReturn;
    }
    // A verdict: remember which rule of the base chain led here.
    if (depth == 0) {
      run.base_rule_handle = rule.handle;
      run.base_rule_text = rule.text;
    }
    return f;
  }
  return Flow::kNext;
}

bool AppliesTo(const NftChain& c, const Packet& p, const NftRuleset::Impl& impl) {
  if (!c.base || c.type != "filter") return false;
  if (impl.dormant.count({c.family, c.table})) return false;
  if (impl.skip_iptables_nft && impl.iptables_nft.count({c.family, c.table})) return false;
  if (c.hook == "ingress") return c.family == "netdev" || c.family == "inet";
  if (c.hook != "input" && c.hook != "prerouting") return false;
  if (c.family == "inet") return true;
  return (c.family == "ip" && p.family == 4) || (c.family == "ip6" && p.family == 6);
}

// Base chains in the order the kernel runs them: prerouting before input,
// lower priority first; equal priorities keep the listing's order (the
// kernel's order between them is the order they were registered, which the
// listing does not show; it only matters for which of two drops is named).
std::vector<const NftChain*> BaseChains(const NftRuleset::Impl& impl, const Packet& p) {
  std::vector<const NftChain*> out;
  for (const auto& c : impl.chains)
    if (AppliesTo(c, p, impl)) out.push_back(&c);
  std::stable_sort(out.begin(), out.end(), [](const NftChain* a, const NftChain* b) {
    auto rank = [](const std::string& hook) { return hook == "ingress" ? 0 : hook == "prerouting" ? 1 : 2; };
    int ha = rank(a->hook), hb = rank(b->hook);
    if (ha != hb) return ha < hb;
    return a->prio < b->prio;
  });
  return out;
}

// Whether an ingress chain hooks the device the packet arrives on; tried
// both ways when the device or the chain's devices are not known.
bool OnPacketsDevice(Run& run, const NftChain& chain) {
  if (chain.devices_known && !run.packet.iifname.empty())
    return std::find(chain.devices.begin(), chain.devices.end(), run.packet.iifname) != chain.devices.end();
  NftRule hook;
  hook.text = "type filter hook ingress" +
              (chain.devices_known ? " device " + chain.devices.front() : std::string(" (device not listed)"));
  return run.Choose(chain, hook, chain.devices_known ? "the packet's interface is not known"
                                                     : "the chain's device is not known");
}

void RunAll(Run& run) {
  run.verdict = Verdict::kAccept;
  run.where = RuleVerdict{};
  run.where.manager = "nftables";
  run.where.rule = "no base chain dropped it";
  for (const NftChain* base : BaseChains(run.impl, run.packet)) {
    if (base->hook == "ingress" && !OnPacketsDevice(run, *base)) continue;
    run.base_rule_handle = 0;
    run.base_rule_text.clear();
    Flow f = RunChain(run, *base, 0);
    if (f == Flow::kNext || f == Flow::kReturn) {
      if (base->policy == "drop") {
        Decide(run, Verdict::kDrop, *base, nullptr);
        f = Flow::kDrop;
      } else {
        Decide(run, Verdict::kAccept, *base, nullptr);
        f = Flow::kAccept;
      }
    }
    run.base_family = base->family;
    run.base_table = base->table;
    run.base_chain = base->name;
    if (f != Flow::kAccept) return;
  }
}

constexpr size_t kMaxRuns = 256;

}  // namespace

std::map<std::tuple<std::string, std::string, int64_t>, std::string> ParseNftListing(std::string_view listing) {
  std::map<std::tuple<std::string, std::string, int64_t>, std::string> out;
  std::string family, table;
  bool in_chain = false;
  size_t lines = 0;
  size_t pos = 0;
  while (pos < listing.size() && lines++ < 4 * kMaxNftObjects) {
    size_t nl = listing.find('\n', pos);
    std::string_view line = listing.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? listing.size() : nl + 1;
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string_view::npos) continue;
    line = line.substr(b);
    if (line.rfind("table ", 0) == 0) {
      std::string_view rest = line.substr(6);
      size_t sp = rest.find(' ');
      if (sp == std::string_view::npos) continue;
      family = std::string(rest.substr(0, sp));
      rest = rest.substr(sp + 1);
      table = std::string(rest.substr(0, rest.find(' ')));
      in_chain = false;
      continue;
    }
    if (line.rfind("chain ", 0) == 0) {
      in_chain = true;
      continue;
    }
    if (line == "}") {  // the end of a chain (or of a set, a table)
      in_chain = false;
      continue;
    }
    if (!in_chain) continue;
    size_t h = line.rfind(" # handle ");
    if (h == std::string_view::npos) continue;
    std::string num(line.substr(h + 10));
    char* end = nullptr;
    long long handle = std::strtoll(num.c_str(), &end, 10);
    if (end == num.c_str()) continue;
    out[{family, table, handle}] = std::string(line.substr(0, h));
  }
  return out;
}

namespace {

// The devices of each ingress chain, from `nft -a list ruleset`'s
// "type filter hook ingress device "eth1" ..." / "devices = { eth1, eth2 }".
std::map<NameKey, std::vector<std::string>> ParseIngressDevices(std::string_view listing) {
  std::map<NameKey, std::vector<std::string>> out;
  std::string family, table, chain;
  std::istringstream in{std::string(listing.substr(0, std::min<size_t>(listing.size(), 64u << 20)))};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::vector<std::string> w;
    std::string x;
    while (words >> x && w.size() < 64) w.push_back(x);
    if (w.size() >= 3 && w[0] == "table") {
      family = w[1];
      table = w[2];
    } else if (w.size() >= 2 && w[0] == "chain") {
      chain = w[1];
    } else if (w.size() >= 5 && w[0] == "type" && w[2] == "hook" && w[3] == "ingress") {
      std::vector<std::string> devices;
      auto unquote = [](std::string d) {
        while (!d.empty() && (d.back() == ',' || d.back() == ';')) d.pop_back();
        if (d.size() >= 2 && d.front() == '"' && d.back() == '"') d = d.substr(1, d.size() - 2);
        return d;
      };
      if (w[4] == "device" && w.size() >= 6) devices.push_back(unquote(w[5]));
      if (w[4] == "devices" && w.size() >= 7 && w[6] == "{")
        for (size_t i = 7; i < w.size() && w[i] != "}"; ++i) devices.push_back(unquote(w[i]));
      if (!devices.empty()) out[{family, table, chain}] = devices;
    }
  }
  return out;
}

// "# Warning: table ip filter is managed by iptables-nft, do not touch!"
std::set<TableKey> ParseIptablesNftTables(std::string_view listing) {
  std::set<TableKey> out;
  const std::string_view marker = "# Warning: table ";
  size_t pos = 0;
  while ((pos = listing.find(marker, pos)) != std::string_view::npos && out.size() < 1000) {
    size_t end = listing.find('\n', pos);
    std::istringstream words{std::string(listing.substr(pos + marker.size(), end == std::string_view::npos ? std::string_view::npos : end - pos - marker.size()))};
    std::string family, table, is, managed, by, tool;
    if (words >> family >> table >> is >> managed >> by >> tool && managed == "managed" && tool.rfind("iptables-nft", 0) == 0)
      out.insert({family, table});
    pos += marker.size();
  }
  return out;
}

}  // namespace

Result<NftRuleset> NftRuleset::Parse(const json& doc) { return Parse(doc, ""); }

Result<NftRuleset> NftRuleset::Parse(const json& doc, std::string_view listing) {
  auto impl = ParseDoc(doc, ParseNftListing(listing), ParseIngressDevices(listing));
  if (!impl) return impl.error();
  (*impl)->iptables_nft = ParseIptablesNftTables(listing);
  NftRuleset r;
  r.impl_ = *impl;
  return r;
}

bool NftRuleset::FiltersInput() const {
  for (int family : {4, 6}) {
    Packet p;
    p.family = family;
    for (const NftChain* c : BaseChains(*impl_, p))
      if (!c->rules.empty() || c->policy != "accept") return true;
  }
  return false;
}

NftDecision NftRuleset::Decide(const Packet& packet) const {
  std::vector<Run> runs;
  std::vector<bool> choices;
  bool exhausted = false;
  while (true) {
    if (runs.size() >= kMaxRuns) {
      exhausted = true;
      break;
    }
    Run run{*impl_, packet, choices};
    RunAll(run);
    // Answers given but never asked again (a shorter path) are dropped.
    run.choices.resize(run.next_choice);
    runs.push_back(run);
    // Two outcomes that differ (or one unknown) settle it: unknown.
    if (run.verdict == Verdict::kUnknown || run.verdict != runs.front().verdict) break;
    // Next combination: flip the last `false` to `true`, drop what follows.
    choices = run.choices;
    while (!choices.empty() && choices.back()) choices.pop_back();
    if (choices.empty()) break;
    choices.back() = true;
  }
  const Run& first = runs.front();
  NftDecision d;
  d.verdict = first.where;
  d.base_family = first.base_family;
  d.base_table = first.base_table;
  d.base_chain = first.base_chain;
  d.base_rule_handle = first.base_rule_handle;
  d.base_rule = first.base_rule_text;
  std::set<std::string> seen;
  std::vector<const RuleVerdict*> points;
  for (const auto& r : runs)
    for (const auto& u : r.undecided) {
      std::string text = u.family + " " + u.table + " " + u.chain + ": " + u.rule + " (" + u.note + ")";
      if (seen.insert(text).second) {
        d.undecided.push_back(text);
        points.push_back(&u);
      }
    }
  if (first.verdict == Verdict::kUnknown) return d;
  for (const auto& r : runs) {
    if (r.verdict == Verdict::kUnknown) {
      d.verdict = r.where;
      d.verdict.note = "reached when " + (d.undecided.empty() ? std::string("?") : d.undecided.front()) +
                       " matches: " + r.where.note;
      return d;
    }
  }
  bool agree = std::all_of(runs.begin(), runs.end(), [&](const Run& r) { return r.verdict == first.verdict; });
  if (exhausted) {
    d.verdict.verdict = Verdict::kUnknown;
    d.verdict.note = "more than " + std::to_string(kMaxRuns) + " combinations of undecided matches";
    return d;
  }
  if (agree) {
    if (!d.undecided.empty())
      d.verdict.note = "the same whichever way these match: " + d.undecided.front() +
                       (d.undecided.size() > 1 ? " (+" + std::to_string(d.undecided.size() - 1) + " more)" : "");
    return d;
  }
  // The outcome depends on a match the check cannot decide: name the first one.
  RuleVerdict v = *points.front();
  std::string outcomes;
  std::set<std::string> names;
  for (const auto& r : runs) names.insert(VerdictName(r.verdict));
  for (const auto& n : names) outcomes += (outcomes.empty() ? "" : " or ") + n;
  v.note = "the verdict depends on " + d.undecided.front() + ": " + outcomes;
  d.verdict = v;
  return d;
}

RuleVerdict NftRuleset::Evaluate(const Packet& packet) const { return Decide(packet).verdict; }

bool NftRuleset::HasIptablesNftTables() const { return !impl_->iptables_nft.empty(); }

NftRuleset NftRuleset::WithoutIptablesNftTables() const {
  auto impl = std::make_shared<Impl>(*impl_);
  impl->skip_iptables_nft = true;
  NftRuleset r;
  r.impl_ = std::move(impl);
  return r;
}

bool NftRuleset::ManagedByIptablesNft(const std::string& family, const std::string& table) const {
  return impl_->iptables_nft.count({family, table}) > 0;
}

Result<NftRuleset> NftRuleset::WithRule(const std::string& family, const std::string& table, const std::string& chain,
                                        int64_t before_handle, const json& expr, const std::string& text) const {
  auto impl = std::make_shared<Impl>(*impl_);
  auto ci = impl->chain_index.find({family, table, chain});
  if (ci == impl->chain_index.end())
    return InvalidArgument("no chain " + family + " " + table + " " + chain + " in the rule set");
  int64_t max_handle = 0;
  for (const auto& c : impl->chains)
    if (c.family == family && c.table == table)
      for (const auto& r : c.rules) max_handle = std::max(max_handle, r.handle);
  NftRule rule;
  rule.handle = max_handle + 1;
  rule.expr = expr;
  rule.text = text;
  auto& rules = impl->chains[ci->second].rules;
  auto pos = rules.end();
  if (before_handle != 0) {
    pos = std::find_if(rules.begin(), rules.end(), [&](const NftRule& r) { return r.handle == before_handle; });
    if (pos == rules.end())
      return InvalidArgument("no rule with handle " + std::to_string(before_handle) + " in chain " + family + " " +
                             table + " " + chain);
  }
  rules.insert(pos, std::move(rule));
  NftRuleset r;
  r.impl_ = impl;
  return r;
}

Result<NftRuleset> ReadNftRuleset(CommandRunner& commands, json* doc_out) {
  auto run = [&](std::vector<std::string> argv) -> Result<std::string> {
    CommandSpec spec;
    spec.argv = argv;
    spec.read_only = true;
    spec.timeout = std::chrono::seconds(30);
    auto r = commands.Run(spec);
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    if (!r) return r.error().Wrap(line);
    if (!r->succeeded()) {
      std::string err = ErrorLine(r->stderr_data);
      return Error(ErrorCode::kIo, line + (r->timed_out ? " timed out" : " exited " + std::to_string(r->exit_code)) +
                                       (err.empty() ? "" : ": " + err));
    }
    if (r->output_truncated) return Error(ErrorCode::kTooLarge, line + ": output too large (truncated by the runner)");
    // nft warns on stderr about tables iptables-nft manages: the text
    // listing keeps it; the JSON is stdout alone.
    if (argv[1] == "-j") return r->stdout_data;
    return r->stdout_data + (r->stderr_data.empty() ? "" : "\n" + r->stderr_data);
  };
  auto doc_text = run({"nft", "-j", "list", "ruleset"});
  if (!doc_text) return doc_text.error();
  json doc;
  if (doc_text->find_first_not_of(" \t\n") == std::string::npos) {
    doc = json{{"nftables", json::array()}};  // an empty rule set prints nothing
  } else {
    doc = json::parse(*doc_text, nullptr, false);
    if (doc.is_discarded()) return InvalidArgument("nft -j list ruleset: output is not JSON");
  }
  auto listing = run({"nft", "-a", "list", "ruleset"});
  auto rules = NftRuleset::Parse(doc, listing ? std::string_view(*listing) : std::string_view());
  if (rules && doc_out) *doc_out = std::move(doc);
  return rules;
}

std::string NftOwner(const std::string& family, const std::string& table, const std::string& chain) {
  (void)family;
  if (table == "firewalld") return "firewalld";
  if (chain.rfind("ufw-", 0) == 0 || chain.rfind("ufw6-", 0) == 0) return "ufw";
  return "nftables";
}

}  // namespace nodeagent::join_prep
