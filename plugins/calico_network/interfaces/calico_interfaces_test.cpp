// Calico's interfaces over FakeNetworkInfo tables: what is listed and its
// JSON, every problem both ways (fires / stays quiet at its boundary), the
// underlying interface from the default route, and the IPPool list parser.
#include "interfaces/calico_interfaces.h"

#include <catch2/catch.hpp>

#include "host/fake_network_info.h"

using namespace nodeagent;
using namespace nodeagent::calico;

namespace {

struct Node {
  FakeNetworkInfo net;
  int next_index = 1;

  NetworkInterface& Link(const std::string& name, uint32_t mtu, bool up = true, const std::string& kind = "") {
    NetworkInterface i;
    i.index = next_index++;
    i.name = name;
    i.mtu = mtu;
    i.up = up;
    i.kind = kind;
    net.interfaces.push_back(i);
    return net.interfaces.back();
  }
  void Addr(const std::string& name, const std::string& prefix) {
    for (const auto& i : net.interfaces)
      if (i.name == name) net.addresses.push_back({i.index, name, *IpPrefix::Parse(prefix), "global", false});
  }
  void DefaultRoute(const std::string& dev, uint32_t metric = 0, AddressFamily family = AddressFamily::kIpv4) {
    Route r;
    r.family = family;
    r.destination = *IpPrefix::Parse(family == AddressFamily::kIpv4 ? "0.0.0.0/0" : "::/0");
    r.device = dev;
    r.metric = metric;
    r.type = "unicast";
    net.routes.push_back(r);
  }
};

IpPoolView Pool(const std::string& name, const std::string& ipip, const std::string& vxlan = "Never",
                const std::string& cidr = "10.244.0.0/16") {
  IpPoolView p;
  p.name = name;
  p.cidr = cidr;
  p.ipv6 = cidr.find(':') != std::string::npos;
  p.ipip_mode = ipip;
  p.vxlan_mode = vxlan;
  return p;
}

InterfacesReport Report(Node& n, InterfaceReportInputs in) {
  auto r = ReportCalicoInterfaces(n.net, in);
  REQUIRE(r);
  return *r;
}

// The problems about `subject` of `severity`.
std::vector<std::string> Said(const InterfacesReport& r, const std::string& subject,
                              ProblemSeverity severity = ProblemSeverity::kWarning) {
  std::vector<std::string> out;
  for (const auto& p : r.problems)
    if (p.subject == subject && p.severity == severity) out.push_back(p.message);
  return out;
}

bool Mentions(const InterfacesReport& r, const std::string& text) {
  for (const auto& p : r.problems)
    if (p.message.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("tunl0 is always listed; the other tunnels only when present") {
  Node n;
  n.Link("lo", 65536);
  n.Link("eth1", 1500);
  n.Link("cali1a2b3c", 1480, true, "veth");
  n.Link("cali4d5e6f", 1480, true, "veth");
  InterfacesReport r = Report(n, {"eth1", std::vector<IpPoolView>{}});
  REQUIRE(r.interfaces.size() == 1);
  CHECK(r.interfaces[0].ToJson() == nlohmann::json::parse(R"({"name":"tunl0","exists":false,"up":false,"mtu":0,
      "kind":"","addresses":[],"errors":{"rx_errors":0,"tx_errors":0,"rx_dropped":0,"tx_dropped":0}})"));
  CHECK(r.cali_veths == 2);
  CHECK(r.underlying == "eth1");
  CHECK(r.underlying_mtu == 1500);
  CHECK(r.problems.empty());

  n.Link("wg-v6.cali", 1400, true, "wireguard");
  n.Link("vxlan.calico", 1450, true, "vxlan");
  NetworkInterface& tunl0 = n.Link("tunl0", 1480, true, "ipip");
  tunl0.stats.rx_errors = 1;
  tunl0.stats.tx_errors = 2;
  tunl0.stats.rx_dropped = 3;
  tunl0.stats.tx_dropped = 4;
  n.Addr("tunl0", "10.244.1.0/32");
  r = Report(n, {"eth1", std::nullopt});
  REQUIRE(r.interfaces.size() == 3);
  CHECK(r.interfaces[0].name == "tunl0");
  CHECK(r.interfaces[1].name == "vxlan.calico");
  CHECK(r.interfaces[2].name == "wg-v6.cali");
  CHECK(r.interfaces[0].ToJson() == nlohmann::json::parse(R"({"name":"tunl0","exists":true,"up":true,"mtu":1480,
      "kind":"ipip","addresses":["10.244.1.0/32"],"errors":{"rx_errors":1,"tx_errors":2,"rx_dropped":3,"tx_dropped":4}})"));
  CHECK(r.interfaces[2].encapsulation == "WireGuard IPv6");
  CHECK(r.interfaces[2].overhead == 80);
  nlohmann::json j = r.ToJson();
  CHECK(j["underlying"] == "eth1");
  CHECK(j["underlying_mtu"] == 1500);
  CHECK(j["cali_veths"] == 2);
  CHECK(j["interfaces"].size() == 3);
  CHECK(j["problems"].is_array());
}

TEST_CASE("a tunnel MTU above the underlying MTU minus Calico's overhead is a warning; equal is fine") {
  struct Case {
    const char* tunnel;
    uint32_t overhead;
    const char* setting;
  };
  Case cases[] = {{"tunl0", 20, "FELIX_IPINIPMTU"},
                  {"vxlan.calico", 50, "FELIX_VXLANMTU"},
                  {"vxlan-v6.calico", 70, "FELIX_VXLANMTUV6"},
                  {"wireguard.cali", 60, "FELIX_WIREGUARDMTU"},
                  {"wg-v6.cali", 80, "FELIX_WIREGUARDMTUV6"}};
  for (uint32_t underlying : {1500u, 9000u, 1450u}) {
    for (const Case& c : cases) {
      for (int delta : {-1, 0, 1, 100}) {
        INFO(c.tunnel << " underlying " << underlying << " delta " << delta);
        Node n;
        n.Link("eth1", underlying);
        n.Link(c.tunnel, underlying - c.overhead + delta);
        InterfacesReport r = Report(n, {"eth1", std::nullopt});
        auto said = Said(r, c.tunnel);
        if (delta <= 0) {
          CHECK(said.empty());
        } else {
          REQUIRE(said.size() == 1);
          std::string limit = std::to_string(underlying - c.overhead);
          CHECK(said[0].rfind(std::string(c.tunnel) + " MTU " + std::to_string(underlying - c.overhead + delta) +
                                  " > eth1 MTU " + std::to_string(underlying) + " - " + std::to_string(c.overhead),
                              0) == 0);
          CHECK(said[0].find("set " + std::string(c.setting) + " (") != std::string::npos);
          CHECK(said[0].find(") to " + limit + " or lower") != std::string::npos);
        }
      }
    }
  }
  // The message the issue asks for, in full.
  Node n;
  n.Link("eth1", 1500);
  n.Link("tunl0", 1500);
  InterfacesReport mtu = Report(n, {"eth1", std::nullopt});
  REQUIRE(mtu.problems.size() == 1);
  CHECK(mtu.problems[0].check == InterfaceCheck::kTunnelMtu);  // the check id it counts under: tunnel-mtu
  auto said = Said(mtu, "tunl0");
  REQUIRE(said.size() == 1);
  CHECK(said[0] ==
        "tunl0 MTU 1500 > eth1 MTU 1500 - 20 (IPIP): set FELIX_IPINIPMTU (FelixConfiguration ipipMTU; veth_mtu in the "
        "calico-config ConfigMap; the Installation's spec.calicoNetwork.mtu) to 1480 or lower; until then full-size "
        "packets between pods on different nodes are dropped or fragmented");
}

TEST_CASE("the underlying interface defaults to the default route's device") {
  SECTION("IPv4, lowest metric") {
    Node n;
    n.Link("eth0", 1500);
    n.Link("eth1", 1400);
    n.Link("tunl0", 1480);
    n.DefaultRoute("eth0", 100);
    n.DefaultRoute("eth1", 50);
    InterfacesReport r = Report(n, {"", std::nullopt});
    CHECK(r.underlying == "eth1");
    CHECK(r.underlying_mtu == 1400);
    CHECK(Said(r, "tunl0").size() == 1);  // 1480 > 1400 - 20
  }
  SECTION("IPv6 when there is no IPv4 default route") {
    Node n;
    n.Link("ens3", 1500);
    n.DefaultRoute("ens3", 1024, AddressFamily::kIpv6);
    InterfacesReport r = Report(n, {"", std::nullopt});
    CHECK(r.underlying == "ens3");
  }
  SECTION("no default route: a warning and no MTU check") {
    Node n;
    n.Link("eth1", 1500);
    n.Link("tunl0", 1500);
    InterfacesReport r = Report(n, {"", std::nullopt});
    CHECK(r.underlying.empty());
    CHECK(r.underlying_mtu == 0);
    CHECK(r.ToJson()["underlying"].is_null());
    REQUIRE(Said(r, "underlying").size() == 1);
    CHECK(Said(r, "underlying")[0].find("no default route") != std::string::npos);
    CHECK(Said(r, "tunl0").empty());
  }
  SECTION("a given interface that does not exist") {
    Node n;
    n.Link("eth1", 1500);
    n.Link("tunl0", 1500);
    n.DefaultRoute("eth1");
    InterfacesReport r = Report(n, {"bond0", std::nullopt});
    REQUIRE(Said(r, "bond0").size() == 1);
    CHECK(Said(r, "bond0")[0] == "the underlying interface bond0 does not exist: the tunnel MTU check is skipped");
    CHECK(Said(r, "tunl0").empty());
    CHECK(r.underlying.empty());
  }
}

TEST_CASE("tunl0 against the pools' ipipMode") {
  SECTION("tunl0 up while every pool says Never: warning") {
    Node n;
    n.Link("eth1", 1500);
    n.Link("tunl0", 1480, true);
    InterfacesReport r = Report(n, {"eth1", std::vector{Pool("default-ipv4-ippool", "Never", "Always")}});
    REQUIRE(Said(r, "tunl0").size() == 1);
    CHECK(Said(r, "tunl0")[0].rfind("tunl0 is up but every IP pool has ipipMode Never (default-ipv4-ippool)", 0) == 0);
  }
  SECTION("tunl0 down but with Calico's address while every pool says Never: warning") {
    Node n;
    n.Link("eth1", 1500);
    n.Link("tunl0", 1480, false);
    n.Addr("tunl0", "10.244.1.0/32");
    InterfacesReport r = Report(n, {"eth1", std::vector{Pool("p", "Never")}});
    REQUIRE(Said(r, "tunl0").size() == 1);
    CHECK(Said(r, "tunl0")[0].rfind("tunl0 is down with 10.244.1.0/32 but", 0) == 0);
  }
  SECTION("tunl0 down and bare (the kernel's own) while every pool says Never: info only") {
    Node n;
    n.Link("eth1", 1500);
    n.Link("tunl0", 1480, false);
    InterfacesReport r = Report(n, {"eth1", std::vector{Pool("p", "Never")}});
    CHECK(Said(r, "tunl0").empty());
    REQUIRE(Said(r, "tunl0", ProblemSeverity::kInfo).size() == 1);
    CHECK_FALSE(r.HasWarnings());
  }
  SECTION("no pools at all and tunl0 up: warning saying so") {
    Node n;
    n.Link("eth1", 1500);
    n.Link("tunl0", 1480, true);
    InterfacesReport r = Report(n, {"eth1", std::vector<IpPoolView>{}});
    REQUIRE(Said(r, "tunl0").size() == 1);
    CHECK(Said(r, "tunl0")[0].find("there are no IP pools") != std::string::npos);
  }
  SECTION("tunl0 up and a pool uses IPIP: quiet") {
    for (const char* mode : {"Always", "CrossSubnet"}) {
      Node n;
      n.Link("eth1", 1500);
      n.Link("tunl0", 1480, true);
      InterfacesReport r = Report(n, {"eth1", std::vector{Pool("a", "Never"), Pool("b", mode)}});
      CHECK(r.problems.empty());
    }
  }
  SECTION("a pool uses IPIP but there is no tunl0: warning per pool") {
    for (const char* mode : {"Always", "CrossSubnet"}) {
      Node n;
      n.Link("eth1", 1500);
      InterfacesReport r = Report(n, {"eth1", std::vector{Pool("ipip-pool", mode), Pool("plain", "Never")}});
      REQUIRE(Said(r, "pool ipip-pool").size() == 1);
      CHECK(Said(r, "pool ipip-pool")[0].rfind("IP pool ipip-pool (10.244.0.0/16) has ipipMode " + std::string(mode) +
                                                   " but tunl0 does not exist",
                                               0) == 0);
      CHECK(Said(r, "pool plain").empty());
    }
  }
  SECTION("no pool uses IPIP and there is no tunl0: quiet") {
    Node n;
    n.Link("eth1", 1500);
    CHECK(Report(n, {"eth1", std::vector{Pool("a", "Never")}}).problems.empty());
  }
  SECTION("a pool uses IPIP and tunl0 is down: warning; up: quiet") {
    Node n;
    n.Link("eth1", 1500);
    NetworkInterface& t = n.Link("tunl0", 1480, false);
    (void)t;
    InterfacesReport r = Report(n, {"eth1", std::vector{Pool("a", "Always")}});
    REQUIRE(Said(r, "tunl0").size() == 1);
    CHECK(Said(r, "tunl0")[0].rfind("tunl0 is down while IP pool(s) a use IPIP", 0) == 0);
    n.net.interfaces.back().up = true;
    CHECK(Report(n, {"eth1", std::vector{Pool("a", "Always")}}).problems.empty());
  }
  SECTION("IPIP on an IPv6 pool does not ask for tunl0") {
    Node n;
    n.Link("eth1", 1500);
    CHECK(Report(n, {"eth1", std::vector{Pool("v6", "Always", "Never", "fd00:10:244::/64")}}).problems.empty());
  }
}

TEST_CASE("pools unknown: the comparison is skipped and said; a Calico-made tunnel that is down still warns") {
  Node n;
  n.Link("eth1", 1500);
  n.Link("tunl0", 1480, false);
  InterfacesReport r = Report(n, {"eth1", std::nullopt});
  REQUIRE(Said(r, "IP pools", ProblemSeverity::kInfo).size() == 1);
  CHECK(Said(r, "tunl0").empty());  // bare and down: may be the kernel's own
  CHECK_FALSE(r.HasWarnings());

  n.Addr("tunl0", "10.244.1.0/32");
  r = Report(n, {"eth1", std::nullopt});
  REQUIRE(Said(r, "tunl0").size() == 1);
  CHECK(Said(r, "tunl0")[0].rfind("tunl0 exists but is down", 0) == 0);

  Node v;
  v.Link("eth1", 1500);
  v.Link("vxlan.calico", 1450, false);
  CHECK(Said(Report(v, {"eth1", std::nullopt}), "vxlan.calico").size() == 1);
  v.net.interfaces.back().up = true;
  CHECK(Said(Report(v, {"eth1", std::nullopt}), "vxlan.calico").empty());
}

TEST_CASE("VXLAN pools against vxlan.calico and vxlan-v6.calico") {
  SECTION("missing device: warning; present: quiet") {
    struct Case {
      const char* cidr;
      const char* device;
    };
    for (const Case& c : {Case{"10.244.0.0/16", "vxlan.calico"}, Case{"fd00:10:244::/64", "vxlan-v6.calico"}}) {
      INFO(c.device);
      Node n;
      n.Link("eth1", 1500);
      auto pools = std::vector{Pool("vx", "Never", "CrossSubnet", c.cidr)};
      InterfacesReport r = Report(n, {"eth1", pools});
      REQUIRE(Said(r, "pool vx").size() == 1);
      CHECK(Said(r, "pool vx")[0].find("has vxlanMode CrossSubnet but " + std::string(c.device) + " does not exist") !=
            std::string::npos);
      n.Link(c.device, 1400, true, "vxlan");
      CHECK(Report(n, {"eth1", pools}).problems.empty());
      n.net.interfaces.back().up = false;
      r = Report(n, {"eth1", pools});
      REQUIRE(Said(r, c.device).size() == 1);
      CHECK(Said(r, c.device)[0].find("is down while IP pool(s) vx use VXLAN") != std::string::npos);
    }
  }
  SECTION("no VXLAN pool and no device: quiet") {
    Node n;
    n.Link("eth1", 1500);
    CHECK(Report(n, {"eth1", std::vector{Pool("a", "Never", "Never")}}).problems.empty());
  }
}

TEST_CASE("WireGuard devices down: warning; up: quiet") {
  for (const char* dev : {"wireguard.cali", "wg-v6.cali"}) {
    Node n;
    n.Link("eth1", 1500);
    n.Link(dev, 1400, false, "wireguard");
    CHECK(Said(Report(n, {"eth1", std::vector<IpPoolView>{}}), dev).size() == 1);
    CHECK(Said(Report(n, {"eth1", std::nullopt}), dev).size() == 1);
    n.net.interfaces.back().up = true;
    CHECK(Report(n, {"eth1", std::vector<IpPoolView>{}}).problems.empty());
  }
}

TEST_CASE("a pool with the APIv1 spec.ipip field: warning; without: quiet") {
  Node n;
  n.Link("eth1", 1500);
  IpPoolView p = Pool("old", "Never");
  CHECK(Report(n, {"eth1", std::vector{p}}).problems.empty());
  p.legacy_ipip = true;
  InterfacesReport r = Report(n, {"eth1", std::vector{p}});
  REQUIRE(Said(r, "pool old").size() == 1);
  CHECK(Said(r, "pool old")[0].find("spec.ipip, which Calico v3 ignores") != std::string::npos);
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].check == InterfaceCheck::kPoolModes);
}

TEST_CASE("error and drop counters are information, named with their numbers") {
  Node n;
  n.Link("eth1", 1500);
  NetworkInterface& t = n.Link("tunl0", 1480);
  (void)t;
  auto pools = std::vector{Pool("a", "Always")};
  CHECK(Report(n, {"eth1", pools}).problems.empty());
  for (int which = 0; which < 4; ++which) {
    LinkStats s;
    (which == 0 ? s.rx_errors : which == 1 ? s.tx_errors : which == 2 ? s.rx_dropped : s.tx_dropped) = 7;
    n.net.interfaces.back().stats = s;
    InterfacesReport r = Report(n, {"eth1", pools});
    auto said = Said(r, "tunl0", ProblemSeverity::kInfo);
    REQUIRE(said.size() == 1);
    CHECK(said[0].find(" 7") != std::string::npos);
    CHECK_FALSE(r.HasWarnings());
  }
  CHECK(Mentions(Report(n, {"eth1", pools}), "tx_dropped 7 since it was created"));
}

TEST_CASE("a NetworkInfo failure is passed on") {
  Node n;
  n.net.failure = IoError("netlink: permission denied");
  auto r = ReportCalicoInterfaces(n.net, {"eth1", std::nullopt});
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("permission denied") != std::string::npos);
}

TEST_CASE("ParseIpPools reads an IPPoolList with Calico's defaults") {
  auto list = nlohmann::json::parse(R"({
    "apiVersion": "crd.projectcalico.org/v1", "kind": "IPPoolList",
    "items": [
      {"metadata": {"name": "default-ipv4-ippool"},
       "spec": {"cidr": "10.244.0.0/16", "ipipMode": "Always", "natOutgoing": true, "blockSize": 26}},
      {"metadata": {"name": "bare"}, "spec": {"cidr": "10.250.0.0/16"}},
      {"metadata": {"name": "empty-modes"}, "spec": {"cidr": "10.251.0.0/16", "ipipMode": "", "vxlanMode": ""}},
      {"metadata": {"name": "v6"}, "spec": {"cidr": "fd00:10:244::/64", "vxlanMode": "CrossSubnet", "disabled": true}},
      {"metadata": {"name": "old"}, "spec": {"cidr": "10.252.0.0/16", "ipip": {"enabled": true, "mode": "always"}}}
    ]})");
  auto pools = ParseIpPools(list);
  REQUIRE(pools);
  REQUIRE(pools->size() == 5);
  const auto& p = *pools;
  CHECK(p[0].name == "default-ipv4-ippool");
  CHECK(p[0].cidr == "10.244.0.0/16");
  CHECK(p[0].ipip_mode == "Always");
  CHECK(p[0].vxlan_mode == "Never");
  CHECK(p[0].UsesIpip());
  CHECK_FALSE(p[0].ipv6);
  CHECK(p[1].ipip_mode == "Never");
  CHECK(p[1].vxlan_mode == "Never");
  CHECK(p[2].ipip_mode == "Never");
  CHECK(p[2].vxlan_mode == "Never");
  CHECK(p[3].ipv6);
  CHECK(p[3].disabled);
  CHECK(p[3].vxlan_mode == "CrossSubnet");
  CHECK(p[4].legacy_ipip);
  CHECK(p[4].ipip_mode == "Never");  // spec.ipip is not honoured
  CHECK_FALSE(p[0].legacy_ipip);

  auto none = ParseIpPools(nlohmann::json::parse(R"({"kind":"IPPoolList","items":null})"));
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("ParseIpPools refuses what Calico would not accept, naming the pool") {
  struct Case {
    const char* json;
    const char* says;
  };
  Case cases[] = {
      {R"([])", "not a JSON object"},
      {R"({"items": {}})", "items is not an array"},
      {R"({"items": [1]})", "item 0 is not an object"},
      {R"({"items": [{"spec": {"cidr": "10.0.0.0/8"}}]})", "item 0 has no metadata.name"},
      {R"({"items": [{"metadata": {"name": "p"}}]})", "IP pool p: no spec"},
      {R"({"items": [{"metadata": {"name": "p"}, "spec": {}}]})", "IP pool p: no spec.cidr"},
      {R"({"items": [{"metadata": {"name": "p"}, "spec": {"cidr": "10.0.0/8x"}}]})", "is not a CIDR"},
      {R"({"items": [{"metadata": {"name": "p"}, "spec": {"cidr": "10.0.0.0/8", "ipipMode": "always"}}]})",
       "IP pool p: spec.ipipMode \"always\" is not Always, CrossSubnet or Never"},
      {R"({"items": [{"metadata": {"name": "p"}, "spec": {"cidr": "10.0.0.0/8", "vxlanMode": 1}}]})",
       "spec.vxlanMode is not a string"},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    auto r = ParseIpPools(nlohmann::json::parse(c.json));
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find(c.says) != std::string::npos);
  }
  nlohmann::json big = {{"items", nlohmann::json::array()}};
  for (int i = 0; i < 1001; ++i)
    big["items"].push_back({{"metadata", {{"name", "p" + std::to_string(i)}}}, {"spec", {{"cidr", "10.0.0.0/8"}}}});
  auto r = ParseIpPools(big);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == ErrorCode::kTooLarge);
  big["items"].erase(big["items"].begin());
  CHECK(ParseIpPools(big));
}
