// The nftables evaluator on rule sets captured from nft 1.0.6 (testdata/nft:
// NAME.json from `nft -j list ruleset`, NAME.txt from `nft -a list ruleset`)
// and on small hand-written JSON documents for the shapes around them.
#include "firewall/nft_evaluator.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "host/fake_host.h"

namespace nodeagent::join_prep {
namespace {

using nlohmann::json;

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(JOIN_PREP_SOURCE_DIR) + "/firewall/testdata/nft/" + name);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

NftRuleset Captured(const std::string& stem) {
  auto rs = NftRuleset::Parse(json::parse(ReadTestdata(stem + ".json")), ReadTestdata(stem + ".txt"));
  REQUIRE(rs.ok());
  return *rs;
}

Packet Tcp(uint16_t port, std::string saddr = "10.77.0.1") {
  Packet p;
  p.saddr = std::move(saddr);
  p.daddr = "10.77.0.2";
  p.iifname = "eth1";
  p.proto = Proto::kTcp;
  p.dport = port;
  return p;
}

Packet Udp(uint16_t port, std::string saddr = "10.77.0.1") {
  Packet p = Tcp(port, std::move(saddr));
  p.proto = Proto::kUdp;
  return p;
}

// A rule set from its chain and rules in JSON, as nft prints them.
json Doc(std::vector<json> objects) {
  json list = json::array({json{{"metainfo", {{"version", "1.0.6"}, {"json_schema_version", 1}}}}});
  for (auto& o : objects) list.push_back(std::move(o));
  return json{{"nftables", list}};
}

json Table(const std::string& family, const std::string& name) {
  return json{{"table", {{"family", family}, {"name", name}, {"handle", 1}}}};
}

json BaseChain(const std::string& family, const std::string& table, const std::string& name, int prio,
               const std::string& policy, const std::string& hook = "input") {
  return json{{"chain",
               {{"family", family}, {"table", table}, {"name", name}, {"handle", 1}, {"type", "filter"},
                {"hook", hook}, {"prio", prio}, {"policy", policy}}}};
}

json Rule(const std::string& family, const std::string& table, const std::string& chain, int64_t handle,
          const std::string& expr) {
  return json{{"rule",
               {{"family", family}, {"table", table}, {"chain", chain}, {"handle", handle},
                {"expr", json::parse(expr)}}}};
}

// An `inet filter input` chain with this policy and these rules (JSON expr arrays).
NftRuleset Input(const std::string& policy, const std::vector<std::string>& rules) {
  std::vector<json> objects = {Table("inet", "filter"), BaseChain("inet", "filter", "input", 0, policy)};
  int64_t handle = 2;
  for (const auto& r : rules) objects.push_back(Rule("inet", "filter", "input", handle++, r));
  auto rs = NftRuleset::Parse(Doc(objects));
  REQUIRE(rs.ok());
  return *rs;
}

const char* kAccept = R"({"accept": null})";
const char* kDrop = R"({"drop": null})";

std::string Match(const std::string& left, const std::string& right, const std::string& op = "==") {
  return R"({"match": {"op": ")" + op + R"(", "left": )" + left + R"(, "right": )" + right + "}}";
}
const char* kTcpDport = R"({"payload": {"protocol": "tcp", "field": "dport"}})";
const char* kIpSaddr = R"({"payload": {"protocol": "ip", "field": "saddr"}})";

std::string Expr(std::vector<std::string> parts) {
  std::string out = "[";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out + "]";
}

// The `# probe:`, `# from:`, `# expect ADDR:` and `# unknown:` header of a testdata rule set.
struct Expectation {
  std::string from;
  std::string probe;
  std::string verdict;
};

std::vector<Expectation> Expectations(const std::string& nft_text, std::set<std::string>& unknown) {
  std::vector<Expectation> out;
  std::istringstream in(nft_text);
  std::string line;
  std::regex expect(R"(^#\s*expect\s+(\S+):\s*(.*)$)"), unknown_line(R"(^#\s*unknown:\s*(.*)$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, unknown_line)) {
      std::istringstream words(m[1].str());
      std::string w;
      while (words >> w) unknown.insert(w);
    } else if (std::regex_match(line, m, expect)) {
      std::istringstream words(m[2].str());
      std::string w;
      while (words >> w) {
        auto eq = w.find('=');
        out.push_back({m[1].str(), w.substr(0, eq), w.substr(eq + 1)});
      }
    }
  }
  return out;
}

TEST_CASE("nft: every captured rule set gives the verdict the kernel gave", "[nft]") {
  const char* stems[] = {"policy_drop",  "two_tables", "established_only", "named_set",
                         "interval_set", "anonymous_set", "saddr",         "jump_return",
                         "reject",       "ip6_only",   "vmap",             "unparseable",
                         "policy_accept_port_drop", "iifname", "prerouting_drop", "goto_policy", "ip6_saddr", "concat", "ingress"};
  int checked = 0;
  for (const char* stem : stems) {
    NftRuleset rs = Captured(stem);
    std::set<std::string> unknown;
    auto expectations = Expectations(ReadTestdata(std::string(stem) + ".nft"), unknown);
    REQUIRE(!expectations.empty());
    for (const auto& e : expectations) {
      auto colon = e.probe.find(':');
      uint16_t port = static_cast<uint16_t>(std::stoi(e.probe.substr(colon + 1)));
      Packet p = e.probe.rfind("tcp", 0) == 0 ? Tcp(port, e.from) : Udp(port, e.from);
      if (e.from.find(':') != std::string::npos) {
        p.family = 6;
        p.daddr = "fd00:77::2";
      }
      RuleVerdict v = rs.Evaluate(p);
      std::string want = unknown.count(e.probe) ? "unknown" : e.verdict;
      INFO(stem << " from " << e.from << " " << e.probe << ": " << v.rule << " (" << v.note << ")");
      CHECK(VerdictName(v.verdict) == want);
      CHECK(v.manager == "nftables");
      ++checked;
    }
  }
  CHECK(checked >= 50);
}

TEST_CASE("nft: the deciding rule is quoted as nft prints it, with its handle", "[nft]") {
  NftRuleset rs = Captured("reject");
  RuleVerdict v = rs.Evaluate(Tcp(6443));
  CHECK(v.verdict == Verdict::kReject);
  CHECK(v.family == "inet");
  CHECK(v.table == "filter");
  CHECK(v.chain == "input");
  CHECK(v.rule == "tcp dport 6443 reject with tcp reset");
  CHECK(v.handle == 3);

  RuleVerdict policy = Captured("policy_drop").Evaluate(Tcp(6443));
  CHECK(policy.rule == "policy drop");
  CHECK(policy.handle == 0);

  // Without the listing the rule is rendered from its JSON.
  auto bare = NftRuleset::Parse(json::parse(ReadTestdata("reject.json")));
  REQUIRE(bare.ok());
  CHECK(bare->Evaluate(Tcp(6443)).rule == "tcp dport 6443 reject with tcp reset");
  CHECK(bare->Evaluate(Udp(8472)).rule == "udp dport 8472 reject with icmpx port-unreachable");
}

TEST_CASE("nft: a drop in a user chain names that chain; the jump decides nothing by itself", "[nft]") {
  NftRuleset rs = Captured("jump_return");
  RuleVerdict v = rs.Evaluate(Tcp(2379));
  CHECK(v.verdict == Verdict::kDrop);
  CHECK(v.chain == "k8s");
  CHECK(v.rule == "tcp dport 2379 drop");
  NftDecision d = rs.Decide(Tcp(2379));
  CHECK(d.base_chain == "input");
  CHECK(d.base_rule == "jump k8s");
  // 6443 returns from k8s and meets the drop after the jump.
  CHECK(rs.Evaluate(Tcp(6443)).rule == "tcp dport 6443 drop");
}

TEST_CASE("nft: an unknown source address is tried both ways", "[nft]") {
  SECTION("the outcome depends on it: unknown, naming the rule") {
    RuleVerdict v = Captured("saddr").Evaluate(Tcp(6443, ""));
    CHECK(v.verdict == Verdict::kUnknown);
    CHECK(v.rule == "ip saddr @control_plane accept");
    CHECK(v.chain == "input");
    CHECK(v.note.find("accept or drop") != std::string::npos);
  }
  SECTION("every outcome agrees: that verdict, with a note") {
    NftRuleset rs = Input("drop", {Expr({Match(kIpSaddr, R"("10.0.0.9")"), kDrop})});
    RuleVerdict v = rs.Evaluate(Tcp(6443, ""));
    CHECK(v.verdict == Verdict::kDrop);
    CHECK(v.note.find("the same whichever way") != std::string::npos);
  }
  SECTION("rules that another match already rules out are not tried, however many") {
    std::vector<std::string> rules;
    for (int i = 0; i < 2000; ++i)
      rules.push_back(Expr({Match(kIpSaddr, "\"192.168.0." + std::to_string(i % 250) + "\""),
                            Match(kTcpDport, std::to_string(20000 + i)), kDrop}));
    rules.push_back(Expr({Match(kTcpDport, "6443"), kAccept}));
    RuleVerdict v = Input("drop", rules).Evaluate(Tcp(6443, ""));
    CHECK(v.verdict == Verdict::kAccept);
  }
  SECTION("many undecidable rules that agree: more than it tries is unknown") {
    std::vector<std::string> rules;
    for (int i = 0; i < 300; ++i)
      rules.push_back(Expr({Match(kIpSaddr, "\"192.168.1." + std::to_string(i % 250) + "\""), kDrop}));
    RuleVerdict v = Input("drop", rules).Evaluate(Tcp(6443, ""));
    CHECK(v.verdict == Verdict::kUnknown);
    CHECK_THAT(v.note, Catch::Contains("more than 256 combinations"));
  }
  SECTION("a rule set that never looks at the source does not care") {
    CHECK(Captured("named_set").Evaluate(Tcp(6443, "")).verdict == Verdict::kAccept);
  }
}

TEST_CASE("nft: an unknown interface makes iifname matches undecidable", "[nft]") {
  NftRuleset rs = Captured("iifname");
  Packet p = Tcp(6443);
  p.iifname = "";
  CHECK(rs.Evaluate(p).verdict == Verdict::kUnknown);
  p.iifname = "ens3";
  CHECK(rs.Evaluate(p).verdict == Verdict::kDrop);
  p.iifname = "eth0";
  CHECK(rs.Evaluate(p).verdict == Verdict::kAccept);
}

TEST_CASE("nft: rules it cannot read are unknown, never guessed", "[nft]") {
  RuleVerdict v = Captured("unparseable").Evaluate(Tcp(6443));
  CHECK(v.verdict == Verdict::kUnknown);
  CHECK(v.rule == "meta skuid 0 accept");
  CHECK(v.note.find("meta skuid is not modelled") != std::string::npos);

  SECTION("an unknown statement") {
    NftRuleset rs = Input("accept", {Expr({Match(kTcpDport, "6443"), R"({"queue": {"num": 1}})"})});
    RuleVerdict q = rs.Evaluate(Tcp(6443));
    CHECK(q.verdict == Verdict::kUnknown);
    CHECK(q.note.find("queue") != std::string::npos);
    CHECK(rs.Evaluate(Tcp(22)).verdict == Verdict::kAccept);  // never reached for 22
  }
  SECTION("an unknown match whose rule decides nothing does not matter") {
    NftRuleset rs = Input("drop", {Expr({Match(R"({"meta": {"key": "skuid"}})", "0"), R"({"counter": null})"}),
                                   Expr({Match(kTcpDport, "6443"), kAccept})});
    CHECK(rs.Evaluate(Tcp(6443)).verdict == Verdict::kAccept);
  }
  SECTION("a limit depends on traffic: unknown unless it decides nothing") {
    std::string limit = R"({"limit": {"rate": 10, "burst": 5, "per": "second"}})";
    CHECK(Input("drop", {Expr({limit, kAccept})}).Evaluate(Tcp(6443)).verdict == Verdict::kUnknown);
    CHECK(Input("drop", {Expr({limit, R"({"counter": null})"})}).Evaluate(Tcp(6443)).verdict == Verdict::kDrop);
  }
  SECTION("a jump to a chain that is not there") {
    NftRuleset rs = Input("accept", {R"([{"jump": {"target": "missing"}}])"});
    CHECK(rs.Evaluate(Tcp(6443)).verdict == Verdict::kUnknown);
  }
}

TEST_CASE("nft: families, hooks, priorities and dormant tables", "[nft]") {
  SECTION("an ip6 table does not see IPv4, an ip table does not see IPv6") {
    NftRuleset v6 = Captured("ip6_only");
    CHECK(v6.Evaluate(Tcp(6443)).verdict == Verdict::kAccept);
    Packet p6 = Tcp(6443, "fd00::1");
    p6.family = 6;
    p6.daddr = "fd00::2";
    CHECK(v6.Evaluate(p6).verdict == Verdict::kDrop);
    CHECK(Captured("saddr").Evaluate(p6).verdict == Verdict::kAccept);
  }
  SECTION("prerouting runs before input whatever the priorities") {
    RuleVerdict v = Captured("prerouting_drop").Evaluate(Tcp(10250));
    CHECK(v.verdict == Verdict::kDrop);
    CHECK(v.chain == "pre");
    CHECK(v.family == "ip");
  }
  SECTION("ingress chains hook the devices the listing names (nft 1.0.6's JSON leaves them out)") {
    NftRuleset rs = Captured("ingress");
    RuleVerdict v = rs.Evaluate(Tcp(10250));
    CHECK(v.verdict == Verdict::kDrop);
    CHECK(v.family == "netdev");
    CHECK(v.chain == "on_eth1");
    Packet other = Tcp(10250);
    other.iifname = "eth2";
    CHECK(rs.Evaluate(other).verdict == Verdict::kAccept);
    Packet unknown_dev = Tcp(10250);
    unknown_dev.iifname = "";
    CHECK(rs.Evaluate(unknown_dev).verdict == Verdict::kUnknown);
    auto json_only = NftRuleset::Parse(json::parse(ReadTestdata("ingress.json")));
    REQUIRE(json_only.ok());
    RuleVerdict blind = json_only->Evaluate(Tcp(6443));
    CHECK(blind.verdict == Verdict::kUnknown);
    CHECK_THAT(blind.note, Catch::Contains("the chain's device is not known"));
  }
  SECTION("a later base chain drops what an earlier one accepted; the first drop is named") {
    RuleVerdict v = Captured("two_tables").Evaluate(Tcp(6443));
    CHECK(v.verdict == Verdict::kDrop);
    CHECK(v.table == "second");
    CHECK(v.rule == "policy drop");
  }
  SECTION("lower priority first: the reject at -10 is named, not the drop at 0") {
    auto rs = NftRuleset::Parse(Doc({Table("inet", "a"), BaseChain("inet", "a", "in", 0, "drop"), Table("inet", "b"),
                                     BaseChain("inet", "b", "in", -10, "accept"),
                                     Rule("inet", "b", "in", 2, R"([{"reject": null}])")}));
    REQUIRE(rs.ok());
    CHECK(rs->Evaluate(Tcp(1)).verdict == Verdict::kReject);
  }
  SECTION("nat and output chains, and dormant tables, do not filter input") {
    json nat = BaseChain("inet", "n", "pre", -100, "accept", "prerouting");
    nat["chain"]["type"] = "nat";
    json dormant = Table("inet", "sleepy");
    dormant["table"]["flags"] = json::array({"dormant"});
    auto rs = NftRuleset::Parse(Doc({Table("inet", "n"), nat, Rule("inet", "n", "pre", 2, "[" + std::string(kDrop) + "]"),
                                     BaseChain("inet", "n", "out", 0, "drop", "output"), dormant,
                                     BaseChain("inet", "sleepy", "input", 0, "drop")}));
    REQUIRE(rs.ok());
    CHECK_FALSE(rs->FiltersInput());
    CHECK(rs->Evaluate(Tcp(6443)).verdict == Verdict::kAccept);
  }
  SECTION("FiltersInput") {
    CHECK(Captured("policy_drop").FiltersInput());
    auto empty = NftRuleset::Parse(Doc({}));
    REQUIRE(empty.ok());
    CHECK_FALSE(empty->FiltersInput());
    CHECK_FALSE(Input("accept", {}).FiltersInput());
  }
}

TEST_CASE("nft: protocol, flag and address matches", "[nft]") {
  SECTION("IPIP is protocol 4 (ipencap); nft's `ipip` is protocol 94") {
    Packet ipip = Tcp(0);
    ipip.proto = Proto::kIpip;
    std::string ip_protocol = R"({"payload": {"protocol": "ip", "field": "protocol"}})";
    CHECK(Input("drop", {Expr({Match(ip_protocol, R"("ipip")"), kAccept})}).Evaluate(ipip).verdict == Verdict::kDrop);
    CHECK(Input("drop", {Expr({Match(ip_protocol, R"("ipencap")"), kAccept})}).Evaluate(ipip).verdict ==
          Verdict::kAccept);
    CHECK(Input("drop", {Expr({Match(ip_protocol, "4"), kAccept})}).Evaluate(ipip).verdict == Verdict::kAccept);
    // No ports: a dport match, even !=, does not match.
    CHECK(Input("accept", {Expr({Match(R"({"payload": {"protocol": "th", "field": "dport"}})", "1", "!="), kDrop})})
              .Evaluate(ipip)
              .verdict == Verdict::kAccept);
  }
  SECTION("other protocols' headers are not in a TCP packet, even for !=") {
    std::string icmpv6 = R"({"payload": {"protocol": "icmpv6", "field": "type"}})";
    NftRuleset rs = Input("accept", {Expr({Match(icmpv6, R"({"set": ["nd-neighbor-solicit"]})"), kDrop}),
                                     Expr({Match(icmpv6, R"("echo-request")", "!="), kDrop})});
    CHECK(rs.Evaluate(Tcp(6443)).verdict == Verdict::kAccept);
  }
  SECTION("tcp dport != and a UDP packet") {
    NftRuleset rs = Input("accept", {Expr({Match(kTcpDport, "22", "!="), kDrop})});
    CHECK(rs.Evaluate(Tcp(6443)).verdict == Verdict::kDrop);
    CHECK(rs.Evaluate(Tcp(22)).verdict == Verdict::kAccept);
    CHECK(rs.Evaluate(Udp(6443)).verdict == Verdict::kAccept);
  }
  SECTION("tcp flags: a new connection is a SYN") {
    std::string flags = R"({"payload": {"protocol": "tcp", "field": "flags"}})";
    std::string masked = R"({"&": [)" + flags + R"(, ["fin", "syn", "rst", "ack"]]})";
    CHECK(Input("drop", {Expr({Match(masked, R"("syn")"), kAccept})}).Evaluate(Tcp(1)).verdict == Verdict::kAccept);
    CHECK(Input("drop", {Expr({Match(flags, R"("ack")", "in"), kAccept})}).Evaluate(Tcp(1)).verdict == Verdict::kDrop);
  }
  SECTION("ct state: new and untracked are not established") {
    std::string ct = R"({"ct": {"key": "state"}})";
    NftRuleset rs = Input("drop", {Expr({Match(ct, R"(["established", "related"])", "in"), kAccept}),
                                   Expr({Match(ct, R"("new")", "in"), kAccept})});
    CHECK(rs.Evaluate(Tcp(1)).verdict == Verdict::kAccept);
    CHECK(rs.Evaluate(Tcp(1)).handle == 3);
  }
  SECTION("ct status and ct direction of a new connection to the node") {
    std::string status = R"({"ct": {"key": "status"}})";
    std::string direction = R"({"ct": {"key": "direction"}})";
    NftRuleset rs = Input("drop", {Expr({Match(status, R"("dnat")", "in"), kDrop}),
                                   Expr({Match(direction, R"("reply")"), kDrop}),
                                   Expr({Match(status, R"(["dnat", "snat"])", "!="), kAccept})});
    RuleVerdict v = rs.Evaluate(Tcp(1));
    CHECK(v.verdict == Verdict::kAccept);
    CHECK(v.handle == 4);
  }
  SECTION("iif by name or by index") {
    std::string iif = R"({"meta": {"key": "iif"}})";
    NftRuleset by_index = Input("drop", {Expr({Match(iif, "7"), kAccept})});
    Packet p = Tcp(1);
    CHECK(by_index.Evaluate(p).verdict == Verdict::kUnknown);  // index not known
    p.iif = 7;
    CHECK(by_index.Evaluate(p).verdict == Verdict::kAccept);
    p.iif = 8;
    CHECK(by_index.Evaluate(p).verdict == Verdict::kDrop);
    NftRuleset by_name = Input("drop", {Expr({Match(iif, R"("eth1")"), kAccept})});
    CHECK(by_name.Evaluate(Tcp(1)).verdict == Verdict::kAccept);
    Packet index_only = Tcp(1);
    index_only.iifname = "";
    index_only.iif = 3;
    CHECK(by_name.Evaluate(index_only).verdict == Verdict::kUnknown);
  }
  SECTION("a notrack before conntrack leaves the packet untracked") {
    std::string ct = R"({"ct": {"key": "state"}})";
    json raw = BaseChain("inet", "filter", "raw", -300, "accept", "prerouting");
    auto rs = NftRuleset::Parse(Doc({Table("inet", "filter"), raw, Rule("inet", "filter", "raw", 2, R"([{"notrack": null}])"),
                                     BaseChain("inet", "filter", "input", 0, "drop"),
                                     Rule("inet", "filter", "input", 3, Expr({Match(ct, R"("new")", "in"), kAccept}))}));
    REQUIRE(rs.ok());
    CHECK(rs->Evaluate(Tcp(1)).verdict == Verdict::kDrop);
  }
  SECTION("address prefixes, ranges and sets") {
    NftRuleset rs = Input(
        "drop", {Expr({Match(kIpSaddr, R"({"prefix": {"addr": "10.1.0.0", "len": 16}})"), kAccept}),
                 Expr({Match(kIpSaddr, R"({"range": ["10.2.0.5", "10.2.0.9"]})"), kAccept}),
                 Expr({Match(kIpSaddr, R"({"set": ["10.3.0.1", {"prefix": {"addr": "10.4.0.0", "len": 24}}]})"), kAccept})});
    CHECK(rs.Evaluate(Tcp(1, "10.1.200.3")).verdict == Verdict::kAccept);
    CHECK(rs.Evaluate(Tcp(1, "10.2.0.7")).verdict == Verdict::kAccept);
    CHECK(rs.Evaluate(Tcp(1, "10.2.0.10")).verdict == Verdict::kDrop);
    CHECK(rs.Evaluate(Tcp(1, "10.4.0.255")).verdict == Verdict::kAccept);
    CHECK(rs.Evaluate(Tcp(1, "10.4.1.0")).verdict == Verdict::kDrop);
  }
  SECTION("port comparisons and a named verdict map") {
    auto rs = NftRuleset::Parse(Doc(
        {Table("inet", "filter"),
         json{{"map",
               {{"family", "inet"}, {"table", "filter"}, {"name", "ports"}, {"type", "inet_service"}, {"handle", 3},
                {"map", "verdict"}, {"elem", json::parse(R"([[6443, {"accept": null}], [{"range": [10250, 10259]}, {"drop": null}]])")}}}},
         BaseChain("inet", "filter", "input", 0, "accept"),
         Rule("inet", "filter", "input", 4, R"([{"vmap": {"key": {"payload": {"protocol": "tcp", "field": "dport"}}, "data": "@ports"}}])"),
         Rule("inet", "filter", "input", 5, Expr({Match(kTcpDport, "1024", ">="), kDrop}))}));
    REQUIRE(rs.ok());
    CHECK(rs->Evaluate(Tcp(6443)).verdict == Verdict::kAccept);
    CHECK(rs->Evaluate(Tcp(10255)).verdict == Verdict::kDrop);
    CHECK(rs->Evaluate(Tcp(10255)).handle == 4);
    CHECK(rs->Evaluate(Tcp(2000)).handle == 5);
    CHECK(rs->Evaluate(Tcp(22)).verdict == Verdict::kAccept);
  }
}

TEST_CASE("nft: iptables-nft rules (xt extensions the JSON does not detail)", "[nft]") {
  NftRuleset rs = Captured("iptables_nft");
  CHECK(rs.ManagedByIptablesNft("ip", "filter"));
  CHECK_FALSE(rs.ManagedByIptablesNft("inet", "filter"));
  // -m comment always matches.
  Packet vxlan = Udp(8472);
  RuleVerdict v = rs.Evaluate(vxlan);
  CHECK(v.verdict == Verdict::kAccept);
  CHECK(v.rule == "udp dport 8472  counter packets 0 bytes 0 accept");
  // -j REJECT rejects, whatever its options.
  RuleVerdict reject = rs.Evaluate(Tcp(2380));
  CHECK(reject.verdict == Verdict::kReject);
  CHECK(reject.chain == "KUBE");
  // -m conntrack / -m multiport are tried both ways: here the outcomes differ.
  RuleVerdict ct = rs.Evaluate(Tcp(6443));
  CHECK(ct.verdict == Verdict::kUnknown);
  CHECK(ct.rule == "tcp dport 6443 ct state new counter packets 0 bytes 0 accept");
  CHECK_THAT(ct.note, Catch::Contains("-m conntrack"));
  RuleVerdict multiport = rs.Evaluate(Tcp(2379));
  CHECK(multiport.verdict == Verdict::kUnknown);
  CHECK_THAT(multiport.note, Catch::Contains("-m multiport"));
}

TEST_CASE("nft: a document of the wrong shape is refused, saying where", "[nft]") {
  auto error_of = [](const json& doc) {
    auto rs = NftRuleset::Parse(doc);
    REQUIRE_FALSE(rs.ok());
    CHECK(rs.error().code() == ErrorCode::kInvalidArgument);
    return rs.error().message();
  };
  CHECK_THAT(error_of(json::array()), Catch::Contains("top level"));
  CHECK_THAT(error_of(json{{"nftables", 3}}), Catch::Contains("nftables: expected an array"));
  CHECK_THAT(error_of(Doc({Table("inet", "f"), BaseChain("inet", "f", "input", 0, "drop"),
                           json{{"rule", {{"family", "inet"}, {"table", "f"}, {"chain", "input"}, {"handle", 2}}}}})),
             Catch::Contains("nftables[3].rule.expr: expected an array"));
  CHECK_THAT(error_of(Doc({Table("inet", "f"), Rule("inet", "f", "nowhere", 2, "[]")})),
             Catch::Contains("nftables[2].rule"));
  json bad_chain = BaseChain("inet", "f", "input", 0, "drop");
  bad_chain["chain"].erase("type");
  CHECK_THAT(error_of(Doc({Table("inet", "f"), bad_chain})), Catch::Contains("nftables[2].chain.type"));
  json bad_prio = BaseChain("inet", "f", "input", 0, "drop");
  bad_prio["chain"]["prio"] = "sideways";
  CHECK_THAT(error_of(Doc({bad_prio})), Catch::Contains("nftables[1].chain.prio"));
  CHECK_THAT(error_of(json{{"nftables", json::array({json{{"rule", 1}, {"table", 2}}})}}),
             Catch::Contains("nftables[0]: expected an object with one key"));
}

TEST_CASE("nft: reading the rule set through the command runner", "[nft]") {
  FakeCommandRunner runner;
  SECTION("both listings") {
    CommandResult j, a;
    j.exit_code = a.exit_code = 0;
    j.stdout_data = ReadTestdata("reject.json");
    a.stdout_data = ReadTestdata("reject.txt");
    int read_only = 0;
    runner.AnswerWith({"nft", "-j"}, [&](const CommandSpec& spec) -> Result<CommandResult> {
      read_only += spec.read_only;
      return j;
    });
    runner.AnswerWith({"nft", "-a"}, [&](const CommandSpec& spec) -> Result<CommandResult> {
      read_only += spec.read_only;
      return a;
    });
    auto rs = ReadNftRuleset(runner);
    REQUIRE(rs.ok());
    CHECK(rs->Evaluate(Tcp(10250)).rule == "tcp dport 10250 reject");
    CHECK(read_only == 2);  // both commands only look
  }
  SECTION("an empty rule set prints nothing") {
    CommandResult r;
    r.exit_code = 0;
    runner.Answer({"nft"}, r);
    auto rs = ReadNftRuleset(runner);
    REQUIRE(rs.ok());
    CHECK_FALSE(rs->FiltersInput());
  }
  SECTION("nft fails: the command and its stderr") {
    CommandResult r;
    r.exit_code = 1;
    r.stderr_data = "netlink: Error: cache initialization failed: Operation not permitted\n";
    runner.Answer({"nft"}, r);
    auto rs = ReadNftRuleset(runner);
    REQUIRE_FALSE(rs.ok());
    CHECK(rs.error().message() ==
          "nft -j list ruleset exited 1: netlink: Error: cache initialization failed: Operation not permitted");
  }
  SECTION("not JSON") {
    CommandResult r;
    r.exit_code = 0;
    r.stdout_data = "table inet filter {";
    runner.Answer({"nft"}, r);
    auto rs = ReadNftRuleset(runner);
    REQUIRE_FALSE(rs.ok());
    CHECK(rs.error().code() == ErrorCode::kInvalidArgument);
  }
  for (const auto& call : runner.calls()) CHECK(call[0] == "nft");
}

TEST_CASE("nft: which manager owns a verdict", "[nft]") {
  CHECK(NftOwner("inet", "firewalld", "filter_INPUT") == "firewalld");
  CHECK(NftOwner("ip", "filter", "ufw-user-input") == "ufw");
  CHECK(NftOwner("ip6", "filter", "ufw6-before-input") == "ufw");
  CHECK(NftOwner("inet", "filter", "input") == "nftables");
}

}  // namespace
}  // namespace nodeagent::join_prep
