#include "firewall/firewall_check.h"

#include <catch2/catch.hpp>

#include "host/fake_host.h"
#include "host/fake_network_info.h"
#include "host/local_file_system.h"
#include "host/local_host.h"
#include "join_options.h"

namespace nodeagent::join_prep {
namespace {

/// A node with eth0 10.78.0.2/24 (the control plane 10.78.0.1 is on-link)
/// and a default route via 10.78.0.254.
struct Node {
  TempRoot root;
  LocalFileSystem files{root.path()};
  FakeCommandRunner commands;
  FakeClock clock;
  FakeNetworkInfo network;
  LocalHost host{files, commands, clock, network};
  JoinOptions options;

  Node() {
    NetworkInterface eth0;
    eth0.name = "eth0";
    eth0.index = 2;
    eth0.up = true;
    network.interfaces = {eth0};
    InterfaceAddress a;
    a.interface_index = 2;
    a.interface = "eth0";
    a.prefix = *IpPrefix::Parse("10.78.0.2/24");
    a.scope = "global";
    network.addresses = {a};
    Route onlink;
    onlink.destination = *IpPrefix::Parse("10.78.0.0/24");
    onlink.device_index = 2;
    onlink.device = "eth0";
    onlink.source = IpAddress::Parse("10.78.0.2");
    onlink.type = "unicast";
    Route dflt = onlink;
    dflt.destination = *IpPrefix::Parse("0.0.0.0/0");
    dflt.gateway = IpAddress::Parse("10.78.0.254");
    dflt.source.reset();
    network.routes = {onlink, dflt};
    options.endpoint = "10.78.0.1:6443";
  }
  CheckInputs inputs() { return CheckInputs{host, options}; }
  void LegacySave(const std::string& out, int exit_code = 0, const std::string& err = "") {
    CommandResult r;
    r.exit_code = exit_code;
    r.stdout_data = out;
    r.stderr_data = err;
    commands.Answer({"iptables-legacy-save"}, r);
  }
};

/// An nftables stand-in: a verdict per port, a recorded PlanOpen.
class FakeNft : public InputRuleset {
 public:
  std::map<std::pair<Proto, uint16_t>, RuleVerdict> verdicts;
  std::vector<std::string> managers = {"nftables"};
  mutable std::vector<std::string> planned;
  std::string manager() const override { return "nftables"; }
  int family() const override { return 0; }
  std::vector<std::string> InputManagers() const override { return managers; }
  RuleVerdict Evaluate(const Packet& p) const override {
    auto it = verdicts.find({p.proto, p.dport});
    if (it != verdicts.end()) return it->second;
    RuleVerdict v;
    v.manager = "nftables";
    return v;
  }
  Result<std::vector<std::vector<FixStep>>> PlanOpen(const std::vector<PortOpenRequest>& requests,
                                                     std::string* warning) const override {
    std::vector<std::vector<FixStep>> out;
    for (const auto& r : requests) {
      planned.push_back(FormatPortRange(r.port.ports));
      out.push_back({FixStep::Run({"nft", "insert", "rule", "inet", "filter", "input", "tcp", "dport",
                                   FormatPortRange(r.port.ports), "accept"})});
    }
    *warning = "nft: runtime only";
    return out;
  }
};

RuleVerdict V(Verdict v, std::string table = "filter", std::string chain = "input", std::string rule = "drop") {
  RuleVerdict r;
  r.verdict = v;
  r.manager = "nftables";
  r.family = "inet";
  r.table = std::move(table);
  r.chain = std::move(chain);
  r.rule = std::move(rule);
  return r;
}

const CheckResult* Find(const FirewallReport& rep, const std::string& id) {
  for (const auto& c : rep.checks)
    if (c.id == id) return &c;
  return nullptr;
}

std::vector<std::string> Ids(const FirewallReport& rep) {
  std::vector<std::string> ids;
  for (const auto& c : rep.checks) ids.push_back(c.id);
  return ids;
}

// Only the iptables-legacy reader of the real sources (the others read
// nft, firewall-cmd and ufw, which these cases do not script).
FirewallSources LegacyOnly(Node& n) {
  FirewallSources s;
  s.iptables_legacy = RealFirewallSources(n.host).iptables_legacy;
  return s;
}

FirewallSources WithNft(Node& n, std::shared_ptr<FakeNft> nft) {
  FirewallSources s = LegacyOnly(n);
  s.nftables = [nft]() -> Result<std::shared_ptr<const InputRuleset>> {
    return std::shared_ptr<const InputRuleset>(nft);
  };
  return s;
}

const char* kDropAllBut10250 =
    "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    "-A INPUT -i lo -j ACCEPT\n-A INPUT -s 10.78.0.0/24 -p tcp -m tcp --dport 10250 -j ACCEPT\nCOMMIT\n";

}  // namespace

TEST_CASE("firewall: required ports by role and CNI", "[firewall]") {
  JoinOptions o;
  o.role = Role::kWorker;
  o.cni = Cni::kNone;
  auto w = RequiredPorts(o);
  REQUIRE(w.size() == 4);
  CHECK(w[0].ports == PortRange{10250, 10250});
  CHECK(w[2].ports == PortRange{30000, 32767});
  CHECK(w[3].proto == Proto::kUdp);
  o.role = Role::kControlPlane;
  o.cni = Cni::kCalico;
  o.extra_ports = {{6443, 6443}, {9100, 9100}};
  auto cp = RequiredPorts(o);
  std::vector<std::string> got;
  for (const auto& p : cp) got.push_back(FormatPortRange(p.ports) + "/" + ProtoName(p.proto));
  CHECK(got == std::vector<std::string>{"6443/tcp", "2379-2380/tcp", "10250/tcp", "10257/tcp", "10259/tcp", "179/tcp",
                                        "4789/udp", "5473/tcp", "0/ipip", "9100/tcp"});
}

TEST_CASE("firewall: the packet comes from the endpoint over its route", "[firewall]") {
  Node n;
  std::string problem;
  Packet p = ControlPlanePacket(n.inputs(), &problem);
  CHECK(problem.empty());
  CHECK(p.saddr == "10.78.0.1");
  CHECK(p.daddr == "10.78.0.2");
  CHECK(p.iifname == "eth0");
  CHECK(p.iif == 2);
  n.options.endpoint = "api.example:6443";
  p = ControlPlanePacket(n.inputs(), &problem);
  CHECK(p.saddr.empty());
  CHECK(p.iifname == "eth0");
  CHECK(p.daddr == "10.78.0.2");
  n.options.endpoint = "192.168.9.9:6443";
  n.network.routes.pop_back();  // no default route: unreachable
  p = ControlPlanePacket(n.inputs(), &problem);
  CHECK(p.saddr == "192.168.9.9");
  CHECK(p.iifname.empty());
  CHECK(problem.find("no route") != std::string::npos);
}

TEST_CASE("firewall: iptables-legacy drops, one finding per port with its fix", "[firewall]") {
  Node n;
  n.options.role = Role::kWorker;
  n.options.cni = Cni::kCalico;
  n.LegacySave(kDropAllBut10250);
  auto rep = CheckFirewall(n.inputs(), LegacyOnly(n), {});
  CHECK(Ids(rep) == std::vector<std::string>{"Firewall-10256-tcp", "Firewall-30000-32767-tcp",
                                             "Firewall-30000-32767-udp", "Firewall-179-tcp", "Firewall-4789-udp",
                                             "Firewall-5473-tcp", "Firewall-ipip"});
  const CheckResult* np = Find(rep, "Firewall-30000-32767-tcp");
  REQUIRE(np);
  CHECK(np->severity == CheckSeverity::kError);
  CHECK(np->message.find("dropped by iptables-legacy filter INPUT: policy DROP") != std::string::npos);
  REQUIRE(np->fix);
  CHECK(np->fix->id == "firewall");
  REQUIRE(np->fix->steps.size() == 1);
  // Planned after 10256's insert (rule 3): this one goes to position 4.
  CHECK(CommandLine(np->fix->steps[0].argv) ==
        "iptables-legacy -t filter -I INPUT 4 -p tcp -m tcp --dport 30000:32767 -j ACCEPT");
  CHECK(np->fix->warning.find("runtime only") != std::string::npos);
  CHECK(CommandLine(Find(rep, "Firewall-ipip")->fix->steps[0].argv) ==
        "iptables-legacy -t filter -I INPUT 9 -p 4 -j ACCEPT");
  // ports: 10250 accepted, each range as two entries.
  REQUIRE(rep.ports.size() == 10);
  CHECK(rep.ports[0] == nlohmann::json{{"port", 10250},
                                       {"proto", "tcp"},
                                       {"verdict", "accept"},
                                       {"manager", "iptables-legacy"},
                                       {"table", "filter"},
                                       {"chain", "INPUT"},
                                       {"rule", "-A INPUT -s 10.78.0.0/24 -p tcp -m tcp --dport 10250 -j ACCEPT"}});
  CHECK(rep.ports[2]["port"] == 30000);
  CHECK(rep.ports[3]["port"] == 32767);
  CHECK(rep.ports[9]["proto"] == "ipip");
  CHECK(rep.ports[9]["port"] == 0);
  // The reads were read-only commands only.
  CHECK(n.commands.call_lines() == std::vector<std::string>{"iptables-legacy-save"});

  n.options.firewall_fix = FirewallFix::kReport;
  rep = CheckFirewall(n.inputs(), LegacyOnly(n), {});
  CHECK_FALSE(Find(rep, "Firewall-179-tcp")->fix);
}

TEST_CASE("firewall: a source-restricted accept is unknown for a named endpoint", "[firewall]") {
  Node n;
  n.options.cni = Cni::kNone;
  n.options.endpoint = "api.example:6443";
  n.LegacySave(kDropAllBut10250);
  auto rep = CheckFirewall(n.inputs(), LegacyOnly(n), {});
  const CheckResult* k = Find(rep, "Firewall-10250-tcp");
  REQUIRE(k);
  CHECK(k->severity == CheckSeverity::kWarning);
  CHECK(k->message.find("cannot tell") != std::string::npos);
  CHECK_FALSE(k->fix);
}

TEST_CASE("firewall: missing tools are no finding; a failing read is", "[firewall]") {
  Node n;
  n.options.cni = Cni::kNone;
  auto rep = CheckFirewall(n.inputs(), LegacyOnly(n), {});  // not scripted: NotFound = not installed
  CHECK(rep.checks.empty());
  CHECK(rep.ports.size() == 6);
  for (const auto& p : rep.ports) CHECK(p["verdict"] == "accept");

  n.LegacySave("", 1,
               "iptables-legacy-save v1.8.9 (legacy): Cannot initialize: Permission denied (you must be root)\n");
  rep = CheckFirewall(n.inputs(), LegacyOnly(n), {});
  const CheckResult* read = Find(rep, "FirewallRead-iptables-legacy");
  REQUIRE(read);
  CHECK(read->message.find("exited 1: iptables-legacy-save v1.8.9 (legacy): Cannot initialize: Permission denied") !=
        std::string::npos);
  const CheckResult* port = Find(rep, "Firewall-10250-tcp");
  REQUIRE(port);
  CHECK(port->severity == CheckSeverity::kWarning);

  n.LegacySave("*filter\n:INPUT DROP [0:0]\n-A INPUT -s not-an-ip -j ACCEPT\nCOMMIT\n");
  rep = CheckFirewall(n.inputs(), LegacyOnly(n), {});
  REQUIRE(Find(rep, "FirewallRead-iptables-legacy"));
  CHECK(Find(rep, "FirewallRead-iptables-legacy")->message.find("line 3") != std::string::npos);
}

TEST_CASE("firewall: every rule set counts; a drop in either drops", "[firewall]") {
  Node n;
  n.options.cni = Cni::kNone;
  n.LegacySave(kDropAllBut10250);
  auto nft = std::make_shared<FakeNft>();
  nft->verdicts[{Proto::kTcp, 10250}] = V(Verdict::kDrop, "filter", "input", "tcp dport 10250 drop");
  nft->verdicts[{Proto::kTcp, 10256}] = V(Verdict::kUnknown, "filter", "input", "meta mark 0x1 accept");
  auto rep = CheckFirewall(n.inputs(), WithNft(n, nft), {});
  CHECK(Find(rep, "FirewallManagers"));
  const CheckResult* k = Find(rep, "Firewall-10250-tcp");
  REQUIRE(k);
  CHECK(k->severity == CheckSeverity::kError);
  CHECK(k->message.find("nftables filter input: tcp dport 10250 drop") != std::string::npos);
  REQUIRE(k->fix);
  CHECK(CommandLine(k->fix->steps[0].argv) == "nft insert rule inet filter input tcp dport 10250 accept");
  // 10256: dropped by legacy, unknown in nft: a drop (an error), and the fix opens legacy.
  const CheckResult* kp = Find(rep, "Firewall-10256-tcp");
  REQUIRE(kp);
  CHECK(kp->severity == CheckSeverity::kError);
  CHECK(kp->message.find("iptables-legacy") != std::string::npos);
  REQUIRE(kp->fix);
  CHECK(kp->fix->steps[0].argv[0] == "iptables-legacy");
  CHECK(nft->planned == std::vector<std::string>{"10250"});
}

TEST_CASE("firewall: firewalld and ufw decide through their own commands", "[firewall]") {
  Node n;
  n.options.cni = Cni::kNone;
  auto nft = std::make_shared<FakeNft>();
  nft->managers = {"firewalld"};
  nft->verdicts[{Proto::kTcp, 10250}] =
      V(Verdict::kReject, "firewalld", "filter_IN_public", "reject with icmpx admin-prohibited");
  nft->verdicts[{Proto::kTcp, 10256}] = V(Verdict::kDrop, "filter", "ufw-reject-input", "drop");
  FirewallSources sources = WithNft(n, nft);
  sources.firewalld_running = [] { return Result<bool>(true); };
  sources.ufw_active = [] { return Result<bool>(false); };
  std::vector<std::string> calls;
  FirewallFixers fixers;
  fixers.firewalld_open = [&](const Packet& p, const std::vector<RequiredPort>& ports) -> Result<std::vector<FixStep>> {
    calls.push_back("firewalld " + p.iifname + " " + p.saddr + " " + FormatPortRange(ports[0].ports));
    return std::vector<FixStep>{FixStep::Run({"firewall-cmd", "--permanent", "--zone=public", "--add-port=10250/tcp"}),
                                FixStep::Run({"firewall-cmd", "--reload"})};
  };
  fixers.ufw_allow = [&](const Packet&, const std::vector<RequiredPort>& ports) -> Result<std::vector<FixStep>> {
    calls.push_back("ufw " + FormatPortRange(ports[0].ports));
    return std::vector<FixStep>{FixStep::Run({"ufw", "allow", "10256/tcp"})};
  };
  auto rep = CheckFirewall(n.inputs(), sources, fixers);
  CHECK(calls == std::vector<std::string>{"firewalld eth0 10.78.0.1 10250", "ufw 10256"});
  const CheckResult* k = Find(rep, "Firewall-10250-tcp");
  REQUIRE(k);
  CHECK(k->message.find("rejected by firewalld") != std::string::npos);
  REQUIRE(k->fix);
  CHECK(k->fix->steps.size() == 2);
  CHECK(rep.ports[0]["manager"] == "firewalld");
  CHECK(rep.ports[1]["manager"] == "ufw");
  const CheckResult* fw = Find(rep, "Firewalld");
  REQUIRE(fw);
  CHECK(fw->severity == CheckSeverity::kWarning);
  CHECK_FALSE(Find(rep, "FirewallManagers"));  // firewalld's own nft table is firewalld
  CHECK(nft->planned.empty());

  // Without a fixer the finding says what to run.
  rep = CheckFirewall(n.inputs(), sources, {});
  CHECK_FALSE(Find(rep, "Firewall-10250-tcp")->fix);
  CHECK(Find(rep, "Firewall-10250-tcp")->hint.find("firewall-cmd --permanent") != std::string::npos);
}

TEST_CASE("firewall: ufw on iptables-legacy owns the INPUT policy", "[firewall]") {
  Node n;
  n.options.cni = Cni::kNone;
  n.LegacySave(
      "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:ufw-before-input - [0:0]\n"
      ":ufw-user-input - [0:0]\n-A INPUT -j ufw-before-input\n-A ufw-before-input -j ufw-user-input\n"
      "-A ufw-user-input -p tcp -m tcp --dport 10250 -j ACCEPT\nCOMMIT\n");
  FirewallSources sources = LegacyOnly(n);
  sources.ufw_active = [] { return Result<bool>(true); };
  int ufw_calls = 0;
  FirewallFixers fixers;
  fixers.ufw_allow = [&](const Packet&, const std::vector<RequiredPort>& ports) -> Result<std::vector<FixStep>> {
    ++ufw_calls;
    return std::vector<FixStep>{FixStep::Run({"ufw", "allow", FormatPortRange(ports[0].ports) + "/tcp"})};
  };
  auto rep = CheckFirewall(n.inputs(), sources, fixers);
  CHECK_FALSE(Find(rep, "FirewallManagers"));
  CHECK_FALSE(Find(rep, "Firewall-10250-tcp"));
  const CheckResult* kp = Find(rep, "Firewall-10256-tcp");
  REQUIRE(kp);
  REQUIRE(kp->fix);
  CHECK(CommandLine(kp->fix->steps[0].argv) == "ufw allow 10256/tcp");
  CHECK(ufw_calls == 3);  // 10256, 30000-32767 tcp and udp
  CHECK(rep.ports[1]["manager"] == "ufw");
}

TEST_CASE("firewall: who filters input in an nftables rule set", "[firewall]") {
  auto doc = nlohmann::json::parse(R"({"nftables": [
    {"metainfo": {"json_schema_version": 1}},
    {"table": {"family": "inet", "name": "firewalld", "handle": 1}},
    {"chain": {"family": "inet", "table": "firewalld", "name": "filter_INPUT", "handle": 1, "type": "filter",
               "hook": "input", "prio": 10, "policy": "accept"}},
    {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_INPUT", "handle": 5,
              "expr": [{"jump": {"target": "filter_INPUT_ZONES"}}]}},
    {"chain": {"family": "ip", "table": "filter", "name": "INPUT", "handle": 1, "type": "filter", "hook": "input",
               "prio": 0, "policy": "drop"}},
    {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 7,
              "expr": [{"jump": {"target": "ufw-before-input"}}]}},
    {"chain": {"family": "inet", "table": "mine", "name": "out", "handle": 1, "type": "filter", "hook": "output",
               "prio": 0, "policy": "drop"}},
    {"chain": {"family": "inet", "table": "mine", "name": "in", "handle": 2, "type": "filter", "hook": "input",
               "prio": 0, "policy": "accept"}}
  ]})");
  CHECK(NftInputManagers(doc) == std::vector<std::string>{"firewalld", "ufw"});
  doc["nftables"].push_back(nlohmann::json::parse(
      R"({"rule": {"family": "inet", "table": "mine", "chain": "in", "handle": 3, "expr": [{"drop": null}]}})"));
  CHECK(NftInputManagers(doc) == std::vector<std::string>{"firewalld", "ufw", "nftables"});
  CHECK(NftInputManagers(nlohmann::json::parse(R"({"nftables": []})")).empty());
}

TEST_CASE("firewall: an IPv6 control plane is checked against ip6tables-legacy", "[firewall]") {
  Node n;
  n.options.cni = Cni::kNone;
  InterfaceAddress a6;
  a6.interface_index = 2;
  a6.interface = "eth0";
  a6.prefix = *IpPrefix::Parse("fd00:78::2/64");
  a6.scope = "global";
  n.network.addresses.push_back(a6);
  Route r6;
  r6.family = AddressFamily::kIpv6;
  r6.destination = *IpPrefix::Parse("fd00:78::/64");
  r6.device_index = 2;
  r6.device = "eth0";
  r6.type = "unicast";
  n.network.routes.push_back(r6);
  n.options.endpoint = "[fd00:78::1]:6443";
  n.LegacySave(kDropAllBut10250);  // IPv4 rules: must not matter
  CommandResult v6;
  v6.exit_code = 0;
  v6.stdout_data =
      "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s fd00:78::1/128 -p tcp -m tcp --dport 10250 -j DROP\nCOMMIT\n";
  n.commands.Answer({"ip6tables-legacy-save"}, v6);
  auto rep = CheckFirewall(n.inputs(), LegacyOnly(n), {});
  CHECK(Ids(rep) == std::vector<std::string>{"Firewall-10250-tcp"});
  CHECK(CommandLine(Find(rep, "Firewall-10250-tcp")->fix->steps[0].argv) ==
        "ip6tables-legacy -t filter -I INPUT 1 -p tcp -m tcp --dport 10250 -j ACCEPT");
  CHECK(rep.ports[1]["verdict"] == "accept");
  CHECK(rep.ports[1]["manager"] == "ip6tables-legacy");
  CHECK(n.commands.call_lines() == std::vector<std::string>{"ip6tables-legacy-save"});
}

TEST_CASE("firewall: an accept shows the rule set that filters", "[firewall]") {
  Node n;
  n.options.cni = Cni::kNone;
  n.LegacySave("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n");  // loaded, filters nothing
  auto nft = std::make_shared<FakeNft>();
  nft->verdicts[{Proto::kTcp, 10250}] = V(Verdict::kAccept, "filter", "input", "tcp dport 10250 accept");
  auto rep = CheckFirewall(n.inputs(), WithNft(n, nft), {});
  CHECK(rep.ports[0]["manager"] == "nftables");
  CHECK(rep.ports[0]["rule"] == "tcp dport 10250 accept");
  CHECK_FALSE(Find(rep, "FirewallManagers"));
  nft->managers.clear();
  nft->verdicts.clear();
  rep = CheckFirewall(n.inputs(), WithNft(n, nft), {});
  CHECK(rep.checks.empty());
  CHECK(rep.ports[0]["manager"] == "");
}

}  // namespace nodeagent::join_prep
