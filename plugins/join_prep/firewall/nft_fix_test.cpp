// The nft fix on captured rule sets: where the accept rule goes, what it
// says, that the simulated rule set then accepts, that a second plan is
// empty, and what it refuses to touch.
#include "firewall/nft_fix.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "host/fake_host.h"
#include "host/local_file_system.h"

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
  p.iifname = "eth1";
  p.proto = Proto::kTcp;
  p.dport = port;
  return p;
}

NftBootConfig Boot(std::string path, std::string content) {
  NftBootConfig boot;
  boot.files.push_back({std::move(path), std::move(content)});
  return boot;
}

std::vector<std::string> Lines(const NftFixPlan& plan) {
  std::vector<std::string> out;
  for (const auto& s : plan.steps) out.push_back(CommandLine(s.argv));
  return out;
}

void RequireAcceptedAndIdempotent(const NftFixPlan& plan, const std::vector<Packet>& packets) {
  for (const auto& v : plan.after) {
    INFO(v.rule << " " << v.note);
    CHECK(v.verdict == Verdict::kAccept);
  }
  REQUIRE(plan.simulated.has_value());
  CHECK(PlanNftFix(*plan.simulated, packets, {}).steps.empty());
}

TEST_CASE("nft fix: a policy drop gets an accept rule at the end of the chain", "[nft]") {
  std::vector<Packet> packets = {Tcp(6443)};
  NftFixPlan plan = PlanNftFix(Captured("policy_drop"), packets, Boot("/etc/nftables.conf", ReadTestdata("policy_drop.nft")));
  CHECK(Lines(plan) == std::vector<std::string>{
                           "nft add rule inet filter input ip saddr 10.77.0.1 tcp dport 6443 accept comment "
                           "'\"nodeagent join-prep\"'"});
  CHECK(plan.steps[0].kind == FixStep::Kind::kCommand);
  CHECK(plan.owner.empty());
  CHECK(plan.blocked.empty());
  CHECK_THAT(plan.warning, Catch::Contains("/etc/nftables.conf"));
  CHECK_THAT(plan.warning, Catch::Contains("`ip saddr 10.77.0.1 tcp dport 6443 accept comment \"nodeagent join-prep\"` "
                                           "in chain input of table inet filter, at the end of the chain "
                                           "(/etc/nftables.conf:9, at the end of chain input)"));
  RequireAcceptedAndIdempotent(plan, packets);
  auto fix = NftFixOf(plan);
  REQUIRE(fix.has_value());
  CHECK(fix->id == "firewall");
  CHECK(fix->warning == plan.warning);
}

TEST_CASE("nft fix: the accept goes just before the rule that drops", "[nft]") {
  std::vector<Packet> packets = {Tcp(6443)};
  NftFixPlan plan = PlanNftFix(Captured("established_only"), packets, {});
  REQUIRE(plan.steps.size() == 1);
  CHECK(CommandLine(plan.steps[0].argv) ==
        "nft insert rule inet filter input position 4 ip saddr 10.77.0.1 tcp dport 6443 accept comment "
        "'\"nodeagent join-prep\"'");
  CHECK_THAT(plan.warning, Catch::Contains("before the rule `drop`"));
  CHECK_THAT(plan.warning, Catch::Contains("/etc/sysconfig/nftables.conf"));
  RequireAcceptedAndIdempotent(plan, packets);
}

TEST_CASE("nft fix: a drop in a user chain is fixed before the jump in the base chain", "[nft]") {
  std::vector<Packet> packets = {Tcp(2379), Tcp(6443), Tcp(10250)};
  NftFixPlan plan = PlanNftFix(Captured("jump_return"), packets, {});
  // 2379 drops inside k8s (reached by `jump k8s`, handle 7); 6443 returns and
  // meets `tcp dport 6443 drop` (handle 8); 10250 is already accepted.
  CHECK(Lines(plan) == std::vector<std::string>{
                           "nft insert rule inet filter input position 7 ip saddr 10.77.0.1 tcp dport 2379 accept "
                           "comment '\"nodeagent join-prep\"'",
                           "nft insert rule inet filter input position 8 ip saddr 10.77.0.1 tcp dport 6443 accept "
                           "comment '\"nodeagent join-prep\"'"});
  RequireAcceptedAndIdempotent(plan, packets);
}

TEST_CASE("nft fix: a goto's chain that ends falls to the policy: the accept goes before the goto", "[nft]") {
  std::vector<Packet> packets = {Tcp(6443)};
  NftFixPlan plan = PlanNftFix(Captured("goto_policy"), packets, {});
  REQUIRE(plan.steps.size() == 1);
  CHECK_THAT(CommandLine(plan.steps[0].argv), Catch::StartsWith("nft insert rule inet filter input position 5 "));
  RequireAcceptedAndIdempotent(plan, packets);
}

TEST_CASE("nft fix: every base chain that drops gets its own rule", "[nft]") {
  std::vector<Packet> packets = {Tcp(6443)};
  NftFixPlan two = PlanNftFix(Captured("two_tables"), packets, {});
  CHECK(Lines(two) == std::vector<std::string>{"nft add rule ip second input ip saddr 10.77.0.1 tcp dport 6443 accept "
                                               "comment '\"nodeagent join-prep\"'"});
  RequireAcceptedAndIdempotent(two, packets);

  std::vector<Packet> kubelet = {Tcp(10250)};
  NftFixPlan pre = PlanNftFix(Captured("prerouting_drop"), kubelet, {});
  CHECK(Lines(pre) == std::vector<std::string>{"nft insert rule ip early pre position 2 ip saddr 10.77.0.1 tcp dport "
                                               "10250 accept comment '\"nodeagent join-prep\"'"});
  RequireAcceptedAndIdempotent(pre, kubelet);
}

TEST_CASE("nft fix: the rule names what the packet is", "[nft]") {
  Packet anywhere = Tcp(6443, "");
  CHECK(NftAcceptRuleFor(anywhere).text == "tcp dport 6443 accept comment \"nodeagent join-prep\"");
  Packet v6 = Tcp(6443, "fd00::1");
  v6.family = 6;
  CHECK(NftAcceptRuleFor(v6).text == "ip6 saddr fd00::1 tcp dport 6443 accept comment \"nodeagent join-prep\"");
  Packet vxlan = Tcp(8472);
  vxlan.proto = Proto::kUdp;
  CHECK(NftAcceptRuleFor(vxlan).text ==
        "ip saddr 10.77.0.1 udp dport 8472 accept comment \"nodeagent join-prep\"");
  Packet ipip = Tcp(0);
  ipip.proto = Proto::kIpip;
  CHECK(NftAcceptRuleFor(ipip).text ==
        "ip saddr 10.77.0.1 meta l4proto ipencap accept comment \"nodeagent join-prep\"");
  // Its JSON is what the evaluator reads back.
  std::vector<Packet> packets = {ipip, vxlan};
  NftFixPlan plan = PlanNftFix(Captured("policy_drop"), packets, {});
  CHECK(plan.steps.size() == 2);
  RequireAcceptedAndIdempotent(plan, packets);
}

TEST_CASE("nft fix: nothing to do, unknown verdicts and managers' tables", "[nft]") {
  SECTION("accepted already") {
    NftFixPlan plan = PlanNftFix(Captured("named_set"), {Tcp(6443)}, {});
    CHECK(plan.steps.empty());
    CHECK(plan.warning.empty());
    CHECK_FALSE(NftFixOf(plan).has_value());
  }
  SECTION("unknown: no steps, the verdict in `blocked`") {
    NftFixPlan plan = PlanNftFix(Captured("unparseable"), {Tcp(6443)}, {});
    CHECK(plan.steps.empty());
    REQUIRE(plan.blocked.size() == 1);
    CHECK(plan.blocked[0].verdict == Verdict::kUnknown);
    CHECK(plan.blocked[0].rule == "meta skuid 0 accept");
  }
  SECTION("iptables-nft's tables are left to iptables") {
    NftFixPlan plan = PlanNftFix(Captured("iptables_nft"), {Tcp(6443, "10.99.0.1")}, {});
    CHECK(plan.steps.empty());
    CHECK(plan.owner == "iptables-nft");
  }
  SECTION("firewalld's table is left to firewalld") {
    auto rs = NftRuleset::Parse(json::parse(R"({"nftables": [
      {"table": {"family": "inet", "name": "firewalld", "handle": 1}},
      {"chain": {"family": "inet", "table": "firewalld", "name": "filter_INPUT", "handle": 1, "type": "filter",
                 "hook": "input", "prio": 10, "policy": "accept"}},
      {"chain": {"family": "inet", "table": "firewalld", "name": "filter_INPUT_ZONES", "handle": 2}},
      {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_INPUT", "handle": 3,
                "expr": [{"jump": {"target": "filter_INPUT_ZONES"}}]}},
      {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_INPUT", "handle": 4,
                "expr": [{"reject": {"type": "icmpx", "expr": "admin-prohibited"}}]}}]})"));
    REQUIRE(rs.ok());
    NftFixPlan plan = PlanNftFix(*rs, {Tcp(6443)}, {});
    CHECK(plan.steps.empty());
    CHECK(plan.owner == "firewalld");
    REQUIRE(plan.blocked.size() == 1);
    CHECK(plan.blocked[0].verdict == Verdict::kReject);
  }
}

TEST_CASE("nft fix: the warning says where each rule belongs in the boot files", "[nft]") {
  TempRoot root;
  root.Write("/etc/nftables.conf",
             "#!/usr/sbin/nft -f\nflush ruleset\ninclude \"/etc/nftables.d/*.nft\"\ninclude \"/etc/extra.nft\"\n");
  root.Write("/etc/nftables.d/10-filter.nft", ReadTestdata("jump_return.nft"));
  root.Write("/etc/nftables.d/README", "not included");
  root.Write("/etc/extra.nft", "# nothing\n");
  LocalFileSystem files(root.path());
  NftBootConfig boot = ReadNftBootConfig(files);
  REQUIRE(boot.files.size() == 3);
  CHECK(boot.files[0].path == "/etc/nftables.conf");
  CHECK(boot.files[1].path == "/etc/nftables.d/10-filter.nft");
  CHECK(boot.files[2].path == "/etc/extra.nft");
  CHECK(boot.problem.empty());

  NftFixPlan plan = PlanNftFix(Captured("jump_return"), {Tcp(2379)}, boot);
  CHECK_THAT(plan.warning, Catch::StartsWith("the nft rules are added to the running rule set only; to keep them "
                                             "after a reboot add to /etc/nftables.conf:"));
  CHECK_THAT(plan.warning, Catch::Contains("before the rule `jump k8s` (/etc/nftables.d/10-filter.nft:12, before "
                                           "`jump k8s`)"));

  SECTION("a rule set that is not the boot one") {
    root.Write("/etc/nftables.d/10-filter.nft", ReadTestdata("policy_drop.nft"));
    NftFixPlan other = PlanNftFix(Captured("jump_return"), {Tcp(2379)}, ReadNftBootConfig(files));
    CHECK_THAT(other.warning, Catch::Contains("not found in /etc/nftables.conf or the files it includes: the running "
                                              "rule set is not the one loaded at boot"));
  }
  SECTION("an include that cannot be read is said") {
    root.Write("/etc/nftables.conf", "include \"/etc/missing.nft\"\n");
    NftBootConfig broken = ReadNftBootConfig(files);
    CHECK(broken.files.size() == 1);
    CHECK_THAT(broken.problem, Catch::Contains("/etc/missing.nft"));
  }
  SECTION("RHEL's file") {
    TempRoot rhel;
    rhel.Write("/etc/sysconfig/nftables.conf", "# include \"/etc/nftables/main.nft\"\n");
    LocalFileSystem rhel_files(rhel.path());
    NftBootConfig b = ReadNftBootConfig(rhel_files);
    REQUIRE(b.files.size() == 1);
    CHECK(b.files[0].path == "/etc/sysconfig/nftables.conf");
  }
  SECTION("no file") {
    TempRoot empty;
    LocalFileSystem empty_files(empty.path());
    CHECK(ReadNftBootConfig(empty_files).files.empty());
  }
}

}  // namespace
}  // namespace nodeagent::join_prep
