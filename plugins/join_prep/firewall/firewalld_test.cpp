#include "firewall/firewalld.h"

#include <catch2/catch.hpp>
#include <algorithm>
#include <fstream>
#include <sstream>

#include "host/fake_host.h"
#include "host/local_file_system.h"
#include "host/local_host.h"

using namespace nodeagent;
using namespace nodeagent::join_prep;

namespace {

// Outputs of firewall-cmd 1.3.3 on Debian 12, captured by testdata/capture.sh:
// eth1 in public (6443/tcp, 2379-2380/tcp, protocol ipencap), 10.79.0.2/32 in
// internal (services kubelet, kube-worker...; two rich rules), 10.79.5.0/24
// in trusted, fd00:79::/64 in drop.
std::string Testdata(const std::string& name) {
  std::ifstream in(std::string(JOIN_PREP_SOURCE_DIR) + "/firewall/testdata/firewalld/" + name);
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

  /// The captured node: firewalld running with the captured zones and the
  /// service definitions it ships.
  void Running() {
    commands.Answer({"firewall-cmd", "--state"}, Output(Testdata("state-running.txt")));
    commands.Answer({"firewall-cmd", "--get-default-zone"}, Output(Testdata("default-zone.txt")));
    commands.Answer({"firewall-cmd", "--get-active-zones"}, Output(Testdata("active-zones.txt")));
    for (std::string z : {"public", "internal", "trusted", "drop", "block", "work"})
      commands.Answer({"firewall-cmd", "--zone=" + z, "--list-all"}, Output(Testdata("zone-" + z + ".txt")));
    for (std::string s : {"kubelet", "kube-worker", "kube-apiserver", "etcd-client", "etcd-server",
                          "kube-nodeport-services", "bgp", "ssh", "dhcpv6-client", "mdns", "samba-client", "netbios-ns", "kube-api"})
      root.Write("/usr/lib/firewalld/services/" + s + ".xml", Testdata("service-" + s + ".xml"));
  }
};

RequiredPort Tcp(uint16_t first, uint16_t last = 0) { return {{first, last ? last : first}, Proto::kTcp, "test"}; }
RequiredPort Ipip() { return {{0, 0}, Proto::kIpip, "calico"}; }

}  // namespace

TEST_CASE("firewalld: a missing firewall-cmd is not installed", "[firewalld]") {
  FakeNode node;  // unscripted commands answer NotFound, as the real runner does for a missing program
  auto state = ReadFirewalld(node.host);
  REQUIRE(state);
  CHECK_FALSE(state->installed);
  CHECK_FALSE(state->running);
}

TEST_CASE("firewalld: --state exit 252 is installed, not running; nothing else is asked", "[firewalld]") {
  FakeNode node;
  node.commands.Answer({"firewall-cmd", "--state"}, Output(Testdata("state-not-running.txt"), 252,
                                                             Testdata("state-not-running.txt.stderr")));
  auto state = ReadFirewalld(node.host);
  REQUIRE(state);
  CHECK(state->installed);
  CHECK_FALSE(state->running);
  CHECK(node.commands.call_lines() == std::vector<std::string>{"firewall-cmd --state"});
}

TEST_CASE("firewalld: every query is read-only", "[firewalld]") {
  FakeNode node;
  node.Running();
  bool all_read_only = true;
  int calls = 0;
  node.commands.AnswerWith({"firewall-cmd"}, [&](const CommandSpec& spec) -> Result<CommandResult> {
    all_read_only = all_read_only && spec.read_only;
    ++calls;
    return Error(ErrorCode::kIo, "stop");
  });
  auto state = ReadFirewalld(node.host);
  CHECK_FALSE(state);
  CHECK(calls == 1);
  CHECK(all_read_only);
}

TEST_CASE("firewalld: reads the captured zones, services and rich rules", "[firewalld]") {
  FakeNode node;
  node.Running();
  auto state = ReadFirewalld(node.host);
  REQUIRE(state);
  CHECK(state->installed);
  CHECK(state->running);
  CHECK(state->default_zone == "public");
  std::vector<std::string> names;
  for (const auto& z : state->zones) names.push_back(z.name);
  CHECK(names == std::vector<std::string>{"drop", "internal", "public", "trusted"});
  const auto* pub = state->Zone("public");
  REQUIRE(pub);
  CHECK(pub->active);
  CHECK(pub->target == "default");
  CHECK(pub->interfaces == std::vector<std::string>{"eth1"});
  REQUIRE(pub->ports.size() == 2);
  CHECK(pub->ports[1].ports == PortRange{2379, 2380});
  CHECK(pub->ports[1].protocol == "tcp");
  CHECK(pub->protocols == std::vector<std::string>{"ipencap"});
  const auto* internal = state->Zone("internal");
  REQUIRE(internal);
  CHECK(internal->sources == std::vector<std::string>{"10.79.0.2/32"});
  REQUIRE(internal->rich_rules.size() == 2);  // printed in no fixed order
  CHECK(std::count(internal->rich_rules.begin(), internal->rich_rules.end(),
                   "rule family=\"ipv4\" source address=\"10.79.0.9\" port port=\"10255\" protocol=\"tcp\" reject") == 1);
  CHECK(state->Zone("trusted")->target == "ACCEPT");
  CHECK(state->Zone("drop")->target == "DROP");
  // kube-worker includes kubelet (10250/tcp) and kube-nodeport-services (30000-32767/tcp).
  const auto& worker = state->services.at("kube-worker");
  CHECK(worker.problem.empty());
  CHECK(worker.file == "/usr/lib/firewalld/services/kube-worker.xml");
  REQUIRE(worker.ports.size() == 2);
  CHECK(worker.ports[0].ports == PortRange{10250, 10250});
  CHECK(worker.ports[1].ports == PortRange{30000, 32767});
}

TEST_CASE("firewalld: the default zone is read even when no interface is bound to it", "[firewalld]") {
  FakeNode node;
  node.Running();
  node.commands.Answer({"firewall-cmd", "--get-active-zones"}, Output(""));  // as on a fresh node without NetworkManager
  auto state = ReadFirewalld(node.host);
  REQUIRE(state);
  REQUIRE(state->zones.size() == 1);
  CHECK(state->zones[0].name == "public");
  CHECK(ZoneFor(*state, "eth1", "10.79.0.2") == "public");
  CHECK(ZoneAllows(*state, "public", Tcp(6443)));
  CHECK_FALSE(ZoneAllows(*state, "public", Tcp(10250)));
}

TEST_CASE("firewalld: a source binding wins over the interface, else the interface's zone, else the default", "[firewalld]") {
  FakeNode node;
  node.Running();
  auto state = ReadFirewalld(node.host);
  REQUIRE(state);
  auto m = MatchFirewalldZone(*state, "eth1", "10.79.0.2");
  CHECK(m.zone == "internal");
  CHECK(m.reason == "source 10.79.0.2/32");
  CHECK(m.certain);
  CHECK(ZoneFor(*state, "eth1", "10.79.5.7") == "trusted");
  CHECK(ZoneFor(*state, "eth1", "10.79.0.3") == "public");
  CHECK(MatchFirewalldZone(*state, "eth1", "10.79.0.3").reason == "interface eth1");
  CHECK(ZoneFor(*state, "eth0", "10.79.0.3") == "public");
  CHECK(MatchFirewalldZone(*state, "eth0", "10.79.0.3").reason == "default zone");
  CHECK(ZoneFor(*state, "eth1", "fd00:79::5") == "drop");
  // An unknown control plane address: a source-bound zone may apply.
  auto unknown = MatchFirewalldZone(*state, "eth1", "");
  CHECK(unknown.zone == "public");
  CHECK_FALSE(unknown.certain);
  CHECK(unknown.note.find("source") != std::string::npos);
}

TEST_CASE("firewalld: ports, ranges, services with includes, protocols and targets", "[firewalld]") {
  FakeNode node;
  node.Running();
  auto state = ReadFirewalld(node.host);
  REQUIRE(state);
  CHECK(ZoneAllows(*state, "public", Tcp(6443)));
  CHECK(ZoneAllows(*state, "public", Tcp(2379, 2380)));
  CHECK(ZoneAllows(*state, "public", Tcp(2380)));
  CHECK_FALSE(ZoneAllows(*state, "public", Tcp(2379, 2381)));
  CHECK(ZoneAllows(*state, "public", Ipip()));  // protocol ipencap
  auto closed = FirewalldZoneVerdict(*state, "public", Tcp(10250));
  CHECK(closed.verdict == Verdict::kReject);
  CHECK(closed.rule == "target default");
  CHECK(closed.manager == "firewalld");
  CHECK(closed.chain == "public");
  auto ssh = FirewalldZoneVerdict(*state, "public", Tcp(22));
  CHECK(ssh.verdict == Verdict::kAccept);
  CHECK(ssh.rule == "service ssh (22/tcp)");

  CHECK(ZoneAllows(*state, "trusted", Tcp(10250)));
  CHECK(FirewalldZoneVerdict(*state, "trusted", Tcp(10250)).rule == "target ACCEPT");
  CHECK(FirewalldZoneVerdict(*state, "drop", Tcp(10250)).verdict == Verdict::kDrop);
  CHECK(FirewalldZoneVerdict(*state, "nosuch", Tcp(10250)).verdict == Verdict::kUnknown);
}

TEST_CASE("firewalld: a rich rule that may reject makes the zone's verdict unknown, naming it", "[firewalld]") {
  FakeNode node;
  node.Running();
  auto state = ReadFirewalld(node.host);
  REQUIRE(state);
  // internal allows 10250 through kubelet/kube-worker, but its reject rich
  // rule comes first in firewalld's chain order (deny before allow).
  auto v = FirewalldZoneVerdict(*state, "internal", Tcp(10250));
  CHECK(v.verdict == Verdict::kUnknown);
  CHECK(v.rule.find("reject") != std::string::npos);
  CHECK(v.note.find("rich rule") != std::string::npos);
  CHECK_FALSE(ZoneAllows(*state, "internal", Tcp(10250)));

  // Without the reject rule: the services decide; an accept-only rich rule
  // makes a port that nothing else opens unknown, not rejected.
  auto& internal = const_cast<FirewalldZone&>(*state->Zone("internal"));
  internal.rich_rules.erase(std::find_if(internal.rich_rules.begin(), internal.rich_rules.end(),
                                        [](const std::string& r) { return r.find(" reject") != std::string::npos; }));
  auto kubelet = FirewalldZoneVerdict(*state, "internal", Tcp(10250));
  CHECK(kubelet.verdict == Verdict::kAccept);
  CHECK(kubelet.rule == "service kube-worker (10250/tcp)");  // services are listed sorted
  CHECK(ZoneAllows(*state, "internal", Tcp(30000, 32767)));  // kube-worker includes kube-nodeport-services
  auto other = FirewalldZoneVerdict(*state, "internal", Tcp(6443));
  INFO(other.rule << " / " << other.note);
  CHECK(other.verdict == Verdict::kUnknown);
  CHECK(other.rule.find("service name=\"bgp\" accept") != std::string::npos);
}

TEST_CASE("firewalld: EvaluateFirewalld picks the zone and says why", "[firewalld]") {
  FakeNode node;
  node.Running();
  auto state = ReadFirewalld(node.host);
  REQUIRE(state);
  Packet p;
  p.saddr = "10.79.0.3";
  p.iifname = "eth1";
  p.dport = 10250;
  auto v = EvaluateFirewalld(*state, p, Tcp(10250));
  CHECK(v.verdict == Verdict::kReject);
  CHECK(v.note.find("zone public by interface eth1") == 0);
  p.saddr = "10.79.5.1";
  CHECK(EvaluateFirewalld(*state, p, Tcp(10250)).verdict == Verdict::kAccept);
  p.saddr = "";  // unknown: trusted or internal might apply
  CHECK(EvaluateFirewalld(*state, p, Tcp(6443)).verdict == Verdict::kUnknown);
}

TEST_CASE("firewalld: a service that cannot be read is unknown, not a guess", "[firewalld]") {
  FakeNode node;
  node.Running();
  node.root.Write("/etc/firewalld/services/kubelet.xml", "<service><port protocol=\"tcp\" port=\"nope\"/></service>");
  auto state = ReadFirewalld(node.host);
  REQUIRE(state);
  CHECK(state->services.at("kubelet").problem.find("/etc/firewalld/services/kubelet.xml") != std::string::npos);
  auto& internal = const_cast<FirewalldZone&>(*state->Zone("internal"));
  internal.rich_rules.clear();
  internal.services = {"kubelet"};
  auto v = FirewalldZoneVerdict(*state, "internal", Tcp(10250));
  CHECK(v.verdict == Verdict::kUnknown);
  CHECK(v.note.find("kubelet") != std::string::npos);
}

TEST_CASE("firewalld: /etc/firewalld/services overrides /usr/lib", "[firewalld]") {
  FakeNode node;
  node.Running();
  node.root.Write("/etc/firewalld/services/ssh.xml",
                  "<?xml version=\"1.0\"?>\n<service><!-- local <port> -->\n<port protocol=\"tcp\" port=\"2222\"/></service>\n");
  auto state = ReadFirewalld(node.host);
  REQUIRE(state);
  CHECK(state->services.at("ssh").file == "/etc/firewalld/services/ssh.xml");
  CHECK_FALSE(ZoneAllows(*state, "public", Tcp(22)));
  CHECK(ZoneAllows(*state, "public", Tcp(2222)));
}

TEST_CASE("firewalld: parse errors name the command and the line", "[firewalld]") {
  auto zones = ParseFirewalldActiveZones("public\n  interfaces: eth0\n  color: blue\n", "firewall-cmd --get-active-zones");
  REQUIRE_FALSE(zones);
  CHECK(zones.error().message().find("firewall-cmd --get-active-zones: line 3") == 0);
  auto zone = ParseFirewalldZone("public (active)\n  target: default\n  ports: 6443/tcp x/udp\n", "firewall-cmd --zone=public --list-all");
  REQUIRE_FALSE(zone);
  CHECK(zone.error().message().find("line 3: bad port \"x/udp\"") != std::string::npos);
  CHECK_FALSE(ParseFirewalldZone("", "c"));
  CHECK_FALSE(ParseFirewalldService("<service><port port=\"1\"/></service>", "f.xml"));
  CHECK_FALSE(ParseFirewalldService("<zone/>", "f.xml"));
  CHECK_FALSE(ParseFirewalldService("<service><port port=\"1", "f.xml"));

  FakeNode node;
  node.Running();
  node.commands.Answer({"firewall-cmd", "--zone=internal", "--list-all"}, Output("", 112, "Error: INVALID_ZONE: internal\n"));
  auto state = ReadFirewalld(node.host);
  REQUIRE_FALSE(state);
  CHECK(state.error().message() == "firewall-cmd --zone=internal --list-all exited 112: Error: INVALID_ZONE: internal");
}

TEST_CASE("firewalld: outputs are bounded", "[firewalld]") {
  std::string many;
  for (int i = 0; i < 600; ++i) many += "zone" + std::to_string(i) + "\n  interfaces: e" + std::to_string(i) + "\n";
  auto zones = ParseFirewalldActiveZones(many, "firewall-cmd --get-active-zones");
  REQUIRE_FALSE(zones);
  CHECK(zones.error().message().find("more than 512 zones") != std::string::npos);
}

TEST_CASE("firewalld: the fix opens ports and IPIP, saved and running, without a reload", "[firewalld]") {
  auto fix = FirewalldOpenPorts("public", {Tcp(10250), Tcp(30000, 32767), Ipip(), Tcp(10250)});
  CHECK(fix.id == "firewall");
  REQUIRE(fix.steps.size() == 4);
  CHECK(CommandLine(fix.steps[0].argv) ==
        "firewall-cmd --permanent --zone=public --add-port=10250/tcp --add-port=30000-32767/tcp");
  CHECK(CommandLine(fix.steps[1].argv) == "firewall-cmd --permanent --zone=public --add-protocol=ipencap");
  CHECK(CommandLine(fix.steps[2].argv) == "firewall-cmd --zone=public --add-port=10250/tcp --add-port=30000-32767/tcp");
  CHECK(CommandLine(fix.steps[3].argv) == "firewall-cmd --zone=public --add-protocol=ipencap");
  CHECK(fix.steps[0].description == "open 10250/tcp, 30000-32767/tcp in firewalld zone public (saved configuration)");
  CHECK(FirewalldOpenPorts("public", {}).steps.empty());
  CHECK(FirewalldOpenPorts("public", {Ipip()}).steps.size() == 2);
}

TEST_CASE("firewalld: an IPv6 source bound to the drop zone drops; services kubeadm users add", "[firewalld]") {
  FakeNode node;
  node.Running();
  auto state = ReadFirewalld(node.host);
  REQUIRE(state);
  Packet p;
  p.family = 6;
  p.saddr = "fd00:79::5";
  p.iifname = "eth1";
  auto v = EvaluateFirewalld(*state, p, Tcp(10250));
  CHECK(v.verdict == Verdict::kDrop);
  CHECK(v.chain == "drop");
  CHECK(v.note.find("zone drop by source fd00:79::/64") == 0);
  // The definitions shipped in /usr/lib/firewalld/services decide, not a table.
  auto& pub = const_cast<FirewalldZone&>(*state->Zone("public"));
  pub.ports.clear();
  pub.services = {"kube-apiserver", "etcd-client", "etcd-server"};
  for (std::string s : {"kube-apiserver", "etcd-client", "etcd-server"}) {
    auto parsed = ParseFirewalldService(Testdata("service-" + s + ".xml"), s);
    REQUIRE(parsed);
    state->services[s] = *parsed;
  }
  CHECK(FirewalldZoneVerdict(*state, "public", Tcp(6443)).rule == "service kube-apiserver (6443/tcp)");
  CHECK(ZoneAllows(*state, "public", Tcp(2379, 2380)));  // etcd-client 2379 + etcd-server 2380 together
}

TEST_CASE("firewalld: a zone with an ingress priority (firewalld 2.x) makes the zone choice uncertain", "[firewalld]") {
  auto zone = ParseFirewalldZone("trusted (active)\n  target: ACCEPT\n  ingress-priority: -10\n  sources: 10.79.5.0/24\n",
                                 "firewall-cmd --zone=trusted --list-all");
  REQUIRE(zone);
  CHECK(zone->ingress_priority == -10);
  CHECK_FALSE(ParseFirewalldZone("z\n  ingress-priority: high\n", "c"));
  FakeNode node;
  node.Running();
  auto state = ReadFirewalld(node.host);
  REQUIRE(state);
  const_cast<FirewalldZone&>(*state->Zone("trusted")).ingress_priority = -10;
  auto m = MatchFirewalldZone(*state, "eth1", "10.79.0.3");
  CHECK(m.zone == "public");
  CHECK_FALSE(m.certain);
  CHECK(m.note.find("ingress-priority -10") != std::string::npos);
}
