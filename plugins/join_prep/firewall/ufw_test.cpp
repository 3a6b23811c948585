#include "firewall/ufw.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "host/fake_host.h"
#include "host/local_file_system.h"
#include "host/local_host.h"

using namespace nodeagent;
using namespace nodeagent::join_prep;

namespace {

// Outputs of ufw 0.36.2 on Debian 12, captured by testdata/capture.sh.
std::string Testdata(const std::string& name) {
  std::ifstream in(std::string(JOIN_PREP_SOURCE_DIR) + "/firewall/testdata/ufw/" + name);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CommandResult Output(std::string out, int exit_code = 0, std::string err = "") {
  CommandResult r;
  r.exit_code = exit_code;
  r.stdout_data = std::move(out);
  r.stderr_data = std::move(err);
  return r;
}

struct FakeNode {
  TempRoot root;
  LocalFileSystem files{root.path()};
  FakeCommandRunner commands;
  FakeClock clock;
  LocalHost host{files, commands, clock};
};

UfwState Active() {
  auto state = ParseUfwStatus(Testdata("status-active.txt"));
  REQUIRE(state);
  return *state;
}

RequiredPort Tcp(uint16_t first, uint16_t last = 0) { return {{first, last ? last : first}, Proto::kTcp, "test"}; }
RequiredPort Udp(uint16_t port) { return {{port, port}, Proto::kUdp, "test"}; }
RequiredPort Ipip() { return {{0, 0}, Proto::kIpip, "calico"}; }

Packet From(std::string saddr, std::string iif = "eth1") {
  Packet p;
  p.family = saddr.find(':') != std::string::npos ? 6 : 4;
  p.saddr = std::move(saddr);
  p.daddr = p.family == 6 ? "fd00:79::1" : "10.79.0.1";
  p.iifname = std::move(iif);
  return p;
}

}  // namespace

TEST_CASE("ufw: a missing ufw is not installed", "[ufw]") {
  FakeNode node;
  auto state = ReadUfw(node.host);
  REQUIRE(state);
  CHECK_FALSE(state->installed);
  CHECK_FALSE(state->active);
}

TEST_CASE("ufw: status verbose is read-only; inactive", "[ufw]") {
  FakeNode node;
  bool read_only = false;
  node.commands.AnswerWith({"ufw", "status", "verbose"}, [&](const CommandSpec& spec) -> Result<CommandResult> {
    read_only = spec.read_only;
    return Output(Testdata("status-inactive.txt"));
  });
  auto state = ReadUfw(node.host);
  REQUIRE(state);
  CHECK(read_only);
  CHECK(state->installed);
  CHECK_FALSE(state->active);
  CHECK(state->rules.empty());
  auto v = EvaluateUfw(*state, From("10.79.0.2"), Tcp(10250));
  CHECK(v.verdict == Verdict::kAccept);
  CHECK(v.rule == "inactive");
}

TEST_CASE("ufw: not root is an error quoting ufw", "[ufw]") {
  FakeNode node;
  node.commands.Answer({"ufw"}, Output(Testdata("status-not-root.txt"), 1, Testdata("status-not-root.txt.stderr")));
  auto state = ReadUfw(node.host);
  REQUIRE_FALSE(state);
  CHECK(state.error().message() == "ufw status verbose exited 1: ERROR: You need to be root to run this script");
  node.commands.Answer({"ufw"}, Output("", 1, "ERROR: problem running sysctl\n"));
  auto no_sysctl = ReadUfw(node.host);
  REQUIRE_FALSE(no_sysctl);
  CHECK(no_sysctl.error().message().find("install procps") != std::string::npos);
}

TEST_CASE("ufw: parses the captured rule table", "[ufw]") {
  UfwState s = Active();
  CHECK(s.active);
  CHECK(s.default_incoming == "deny");
  REQUIRE(s.rules.size() == 23);
  const auto& r6443 = s.rules[1];
  CHECK(r6443.action == "allow");
  CHECK(r6443.direction == "in");
  CHECK(r6443.to_ports == std::vector<PortRange>{{6443, 6443}});
  CHECK(r6443.proto == "tcp");
  CHECK(r6443.from_address == "10.79.0.0/24");
  CHECK_FALSE(r6443.v6);
  CHECK(s.rules[2].to_ports == std::vector<PortRange>{{30000, 32767}});  // 30000:32767/tcp
  CHECK(s.rules[3].action == "deny");                                    // Anywhere DENY IN 10.79.0.9
  CHECK(s.rules[3].to_ports.empty());
  CHECK(s.rules[3].from_address == "10.79.0.9");
  CHECK(s.rules[4].interface == "eth1");                                 // 10250/tcp on eth1
  CHECK(s.rules[5].action == "limit");
  CHECK(s.rules[6].action == "reject");                                  // 10255: tcp and udp
  CHECK(s.rules[6].proto.empty());
  CHECK(s.rules[7].to_ports == std::vector<PortRange>{{80, 80}, {443, 443}});
  CHECK(s.rules[8].proto == "gre");                                      // from 10.79.0.0/24/gre
  CHECK(s.rules[8].from_address == "10.79.0.0/24");
  CHECK(s.rules[9].to_address == "10.79.0.1");                           // 10.79.0.1 9100/tcp
  CHECK(s.rules[10].to_ports == std::vector<PortRange>{{8080, 8080}});   // (log)
  CHECK(s.rules[12].v6);                                                 // 22/tcp (v6)
  CHECK(s.rules[14].v6);                                                 // 10250/tcp (v6) on eth1
  CHECK(s.rules[14].interface == "eth1");
  const auto& bgp = s.rules[18];                                         // 179/tcp from fd00:79::/64 # calico bgp
  CHECK(bgp.v6);
  CHECK(bgp.comment == "calico bgp");
  CHECK(bgp.from_address == "fd00:79::/64");
  CHECK(s.rules[21].direction == "out");                                 // 53/udp ALLOW OUT
  CHECK(s.rules[22].direction == "out");
}

TEST_CASE("ufw: first matching rule decides, then the default incoming policy", "[ufw]") {
  UfwState s = Active();
  auto v = EvaluateUfw(s, From("10.79.0.2"), Tcp(6443));
  CHECK(v.verdict == Verdict::kAccept);
  CHECK(v.rule == "6443/tcp                   ALLOW IN    10.79.0.0/24");
  CHECK(v.manager == "ufw");
  // The subnet rule does not cover another source: default deny.
  auto other = EvaluateUfw(s, From("10.80.0.2"), Tcp(6443));
  CHECK(other.verdict == Verdict::kDrop);
  CHECK(other.rule == "default deny (incoming)");
  // 10.79.0.9 is denied everything, but 22/tcp comes first.
  CHECK(EvaluateUfw(s, From("10.79.0.9"), Tcp(22)).verdict == Verdict::kAccept);
  CHECK(EvaluateUfw(s, From("10.79.0.9"), Tcp(10250)).verdict == Verdict::kDrop);
  CHECK(EvaluateUfw(s, From("10.79.0.9"), Tcp(10250)).rule.find("DENY IN") != std::string::npos);
  // On eth1 only.
  CHECK(EvaluateUfw(s, From("10.79.0.2"), Tcp(10250)).verdict == Verdict::kAccept);
  CHECK(EvaluateUfw(s, From("10.79.0.2", "eth0"), Tcp(10250)).verdict == Verdict::kDrop);
  CHECK(EvaluateUfw(s, From("10.79.0.2", ""), Tcp(10250)).verdict == Verdict::kUnknown);
  // A rule without a protocol covers udp too; reject.
  CHECK(EvaluateUfw(s, From("10.79.0.2"), Udp(10255)).verdict == Verdict::kReject);
  CHECK(EvaluateUfw(s, From("10.79.0.2"), Tcp(2222)).verdict == Verdict::kAccept);  // limit
  CHECK(EvaluateUfw(s, From("10.79.0.2"), Tcp(2222)).note.find("rate limited") != std::string::npos);
  CHECK(EvaluateUfw(s, From("10.79.0.2"), Tcp(443)).verdict == Verdict::kAccept);
  CHECK(EvaluateUfw(s, From("10.79.0.2"), Udp(443)).verdict == Verdict::kDrop);
  CHECK(EvaluateUfw(s, From("10.79.0.2"), Udp(4789)).verdict == Verdict::kAccept);
  // 10.79.0.1 9100/tcp: to this node's address.
  CHECK(EvaluateUfw(s, From("10.79.0.2"), Tcp(9100)).verdict == Verdict::kAccept);
  Packet unknown_daddr = From("10.79.0.2");
  unknown_daddr.daddr.clear();
  CHECK(EvaluateUfw(s, unknown_daddr, Tcp(9100)).verdict == Verdict::kUnknown);
  // Outgoing rules never admit inbound traffic.
  CHECK(EvaluateUfw(s, From("10.79.0.2"), Udp(53)).verdict == Verdict::kDrop);
}

TEST_CASE("ufw: ranges are judged over every port", "[ufw]") {
  UfwState s = Active();
  CHECK(EvaluateUfw(s, From("10.79.0.2"), Tcp(30000, 32767)).verdict == Verdict::kAccept);
  auto wider = EvaluateUfw(s, From("10.79.0.2"), Tcp(29999, 30001));
  CHECK(wider.verdict == Verdict::kDrop);
  CHECK(wider.note.find("port 29999 of 29999-30001") == 0);
  auto past = EvaluateUfw(s, From("10.79.0.2"), Tcp(32767, 32768));
  CHECK(past.verdict == Verdict::kDrop);
  CHECK(past.note.find("port 32768") == 0);
}

TEST_CASE("ufw: v6 rules apply to v6 packets only", "[ufw]") {
  UfwState s = Active();
  CHECK(EvaluateUfw(s, From("fd00:79::2"), Tcp(179)).verdict == Verdict::kAccept);
  CHECK(EvaluateUfw(s, From("fd00:80::2"), Tcp(179)).verdict == Verdict::kDrop);
  CHECK(EvaluateUfw(s, From("10.79.0.2"), Tcp(179)).verdict == Verdict::kDrop);
  CHECK(EvaluateUfw(s, From("fd00:79::2"), Tcp(6443)).verdict == Verdict::kDrop);  // the 6443 rule is 10.79.0.0/24 only
  CHECK(EvaluateUfw(s, From("fd00:79::2"), Tcp(30000)).verdict == Verdict::kAccept);
}

TEST_CASE("ufw: an unknown source makes source-bound rules unknown", "[ufw]") {
  UfwState s = Active();
  auto v = EvaluateUfw(s, From(""), Tcp(6443));
  CHECK(v.verdict == Verdict::kUnknown);
  CHECK(v.note.find("line 9:") == 0);  // the 6443 row
  CHECK(EvaluateUfw(s, From(""), Tcp(22)).verdict == Verdict::kAccept);
}

TEST_CASE("ufw: IPIP matches only protocol-less, port-less rules", "[ufw]") {
  UfwState s = Active();
  // Only "Anywhere DENY IN 10.79.0.9" has neither protocol nor ports.
  CHECK(EvaluateUfw(s, From("10.79.0.9"), Ipip()).verdict == Verdict::kDrop);
  CHECK(EvaluateUfw(s, From("10.79.0.2"), Ipip()).verdict == Verdict::kDrop);
  CHECK(EvaluateUfw(s, From("10.79.0.2"), Ipip()).rule == "default deny (incoming)");
}

TEST_CASE("ufw: application rules, allow default and malformed output", "[ufw]") {
  auto app = ParseUfwStatus(
      "Status: active\nLogging: on (low)\nDefault: allow (incoming), allow (outgoing), disabled (routed)\n"
      "New profiles: skip\n\nTo                         Action      From\n--                         ------      ----\n"
      "22/tcp (OpenSSH)           ALLOW IN    Anywhere\n"
      "22/tcp (OpenSSH (v6))      ALLOW IN    Anywhere (v6)\n"
      "Apache Full                DENY IN     Anywhere\n");
  REQUIRE(app);
  REQUIRE(app->rules.size() == 3);
  CHECK(app->rules[0].app == "OpenSSH");
  CHECK(app->rules[0].to_ports == std::vector<PortRange>{{22, 22}});
  CHECK(app->rules[1].v6);
  CHECK(app->rules[2].app == "Apache Full");
  CHECK(EvaluateUfw(*app, From("10.79.0.2"), Tcp(10250)).verdict == Verdict::kUnknown);
  app->rules.pop_back();
  CHECK(EvaluateUfw(*app, From("10.79.0.2"), Tcp(10250)).verdict == Verdict::kAccept);  // default allow

  auto bad = ParseUfwStatus("Status: active\nDefault: deny (incoming)\n--  ------  ----\n6443/tcp   PERMIT   Anywhere\n");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("line 4") != std::string::npos);
  CHECK_FALSE(ParseUfwStatus("Status: maybe\n"));
  CHECK_FALSE(ParseUfwStatus(""));
  CHECK_FALSE(ParseUfwStatus("Status: active\n--\n"));  // no default policy
}

TEST_CASE("ufw: the fix, ranges with ':' and a source", "[ufw]") {
  auto any = UfwAllowPorts({Tcp(10250), Tcp(30000, 32767), Udp(4789), Tcp(10250)}, "");
  CHECK(any.id == "firewall");
  REQUIRE(any.steps.size() == 3);
  CHECK(CommandLine(any.steps[0].argv) == "ufw allow 10250/tcp");
  CHECK(CommandLine(any.steps[1].argv) == "ufw allow 30000:32767/tcp");
  CHECK(CommandLine(any.steps[2].argv) == "ufw allow 4789/udp");
  CHECK(any.warning.empty());
  auto from = UfwAllowPorts({Tcp(6443), Tcp(2379, 2380), Ipip()}, "10.79.0.0/24");
  REQUIRE(from.steps.size() == 2);
  CHECK(CommandLine(from.steps[0].argv) == "ufw allow proto tcp from 10.79.0.0/24 to any port 6443");
  CHECK(CommandLine(from.steps[1].argv) == "ufw allow proto tcp from 10.79.0.0/24 to any port 2379:2380");
  CHECK(from.steps[0].description == "allow 6443/tcp (test) from 10.79.0.0/24 in ufw");
  // ufw 0.36 refuses `proto ipip` and `proto 4` (testdata/ufw/notes.txt).
  CHECK(from.warning.find("IPIP") != std::string::npos);
  CHECK(from.warning.find("before.rules") != std::string::npos);
}
