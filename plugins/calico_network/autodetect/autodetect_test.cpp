// Calico's IP autodetection over interface tables: every method, Calico's own
// cases (node/pkg/lifecycle/startup/autodetection/*_test.go) in our words,
// and the InternalIP comparison with its suggestion.
#include "autodetect/autodetect.h"

#include <catch2/catch.hpp>
#include <map>

#include "host/fake_network_info.h"

using namespace nodeagent;
using namespace nodeagent::calico;

namespace {

IpPrefix P(const std::string& text) { return *IpPrefix::Parse(text); }
IpAddress A(const std::string& text) { return *IpAddress::Parse(text); }

struct Node {
  FakeNetworkInfo net;
  void Link(int index, const std::string& name, std::vector<std::string> addrs = {}) {
    NetworkInterface i;
    i.index = index;
    i.name = name;
    i.up = true;
    net.interfaces.push_back(i);
    for (const auto& a : addrs) {
      auto p = P(a);
      bool link = (p.address.family == AddressFamily::kIpv6 && a.rfind("fe80", 0) == 0);
      net.addresses.push_back({index, name, p, link ? "link" : (a.rfind("127.", 0) == 0 ? "host" : "global"), false});
    }
  }
  void Route(const std::string& dest, int dev, const std::string& devname, std::optional<std::string> gw = {},
             uint32_t table = 254, std::string type = "unicast") {
    nodeagent::Route r;
    r.destination = P(dest);
    r.family = r.destination.address.family;
    r.device_index = dev;
    r.device = devname;
    if (gw) r.gateway = A(*gw);
    r.table = table;
    r.type = type;
    net.routes.push_back(r);
  }
};

// A Vagrant-like node: NAT on eth0, cluster network on eth1, docker, a pod
// veth, tunl0 with Calico's tunnel address.
Node VagrantNode() {
  Node n;
  n.Link(1, "lo", {"127.0.0.1/8", "::1/128"});
  n.Link(2, "eth0", {"10.0.2.15/24", "fe80::a00:27ff:fe8d:c04d/64"});
  n.Link(3, "eth1", {"192.168.56.11/24", "fd00:56::11/64"});
  n.Link(4, "docker0", {"172.17.0.1/16"});
  n.Link(5, "cali1234abcd", {"fe80::ecee:eeff:feee:eeee/64"});
  n.Link(6, "tunl0", {"10.244.1.0/32"});
  n.Route("0.0.0.0/0", 2, "eth0", "10.0.2.2");
  n.Route("10.0.2.0/24", 2, "eth0");
  n.Route("192.168.56.0/24", 3, "eth1");
  n.Route("172.17.0.0/16", 4, "docker0");
  n.Route("fd00:56::/64", 3, "eth1");
  return n;
}

AutodetectionMethod M(const std::string& text) {
  auto m = ParseAutodetectionMethod(text);
  REQUIRE(m.ok());
  return *m;
}

Pick Run(Node& n, const std::string& method, AddressFamily f = AddressFamily::kIpv4,
         const AutodetectInputs& in = {}) {
  auto r = Autodetect(M(method), n.net, f, in);
  INFO(method << ": " << (r.ok() ? "" : r.error().message()));
  REQUIRE(r.ok());
  return *r;
}

std::string Fails(Node& n, const std::string& method, AddressFamily f = AddressFamily::kIpv4,
                  const AutodetectInputs& in = {}) {
  auto r = Autodetect(M(method), n.net, f, in);
  REQUIRE_FALSE(r.ok());
  return r.error().message();
}

class TableResolver : public NameResolver {
 public:
  std::map<std::string, std::vector<IpAddress>> names;
  Result<std::vector<IpAddress>> Resolve(const std::string& name, AddressFamily) override {
    auto it = names.find(name);
    if (it == names.end()) return NotFound("no such host " + name);
    return it->second;
  }
};

}  // namespace

TEST_CASE("parsing the method names the bad part", "[autodetect]") {
  CHECK(M("").kind == AutodetectKind::kFirstFound);
  CHECK(M("first-found").kind == AutodetectKind::kFirstFound);
  auto i = M("interface=eth1 , ens.*");
  CHECK(i.kind == AutodetectKind::kInterface);
  CHECK(i.interface_regexes == std::vector<std::string>{"eth1", "ens.*"});
  CHECK(M("skip-interface=eth0").interface_regexes == std::vector<std::string>{"eth0"});
  auto c = M("cidr=192.168.56.11/24,fd00::/8");
  REQUIRE(c.cidrs.size() == 2);
  CHECK(c.cidrs[0].ToString() == "192.168.56.0/24");
  CHECK(M("can-reach=8.8.8.8").destination == "8.8.8.8");
  // Calico only checks the prefix of this one.
  CHECK(M("kubernetes-internal-ipv4").kind == AutodetectKind::kKubernetesInternalIp);

  auto bad = ParseAutodetectionMethod("interface=eth0,eth[");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message(), Catch::Contains("\"eth[\""));
  auto badcidr = ParseAutodetectionMethod("cidr=10.0.0.0/8,10.1.2.3");
  REQUIRE_FALSE(badcidr.ok());
  CHECK_THAT(badcidr.error().message(), Catch::Contains("\"10.1.2.3\""));
  auto unknown = ParseAutodetectionMethod("first_found");
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.error().message(), Catch::Contains("\"first_found\""));
  CHECK_FALSE(ParseAutodetectionMethod("can-reach=").ok());
  CHECK_FALSE(ParseAutodetectionMethod("Interface=eth0").ok());
}

TEST_CASE("global unicast as Go's net.IP defines it", "[autodetect]") {
  for (auto s : {"10.0.2.15", "192.168.1.1", "172.17.0.1", "8.8.8.8", "fd00::1", "2001:db8::1"})
    CHECK(IsGlobalUnicast(A(s)));
  for (auto s : {"0.0.0.0", "127.0.0.1", "169.254.1.1", "224.0.0.1", "255.255.255.255", "::", "::1", "fe80::1",
                 "febf::1", "ff02::1"})
    CHECK_FALSE(IsGlobalUnicast(A(s)));
}

TEST_CASE("first-found walks from the highest ifindex down past the default exclusions", "[autodetect]") {
  auto n = VagrantNode();
  auto p = Run(n, "first-found");
  // tunl0, cali*, docker0 are excluded; eth1 has the higher index than eth0.
  CHECK(p.interface == "eth1");
  CHECK(p.address.ToString() == "192.168.56.11/24");
  CHECK_THAT(p.why, Catch::Contains("tunl0 (^tunl.*)"));
  CHECK(Run(n, "").address.ToString() == "192.168.56.11/24");

  SECTION("when eth1 came first, eth0 wins: the Vagrant trap") {
    Node m;
    m.Link(1, "lo", {"127.0.0.1/8"});
    m.Link(2, "eth1", {"192.168.56.11/24"});
    m.Link(3, "eth0", {"10.0.2.15/24"});
    CHECK(Run(m, "first-found").interface == "eth0");
  }
  SECTION("IPv6 skips link-local addresses and takes the ULA") {
    auto p6 = Run(n, "first-found", AddressFamily::kIpv6);
    CHECK(p6.interface == "eth1");
    CHECK(p6.address.ToString() == "fd00:56::11/64");
  }
  SECTION("an interface with only link-local addresses is passed over, order within one kept") {
    Node m;
    m.Link(1, "ens3", {"10.0.0.5/8"});
    m.Link(2, "ens4", {"169.254.3.3/16"});
    m.Link(3, "ens5", {"169.254.9.9/16", "192.168.9.9/24", "192.168.8.8/24"});
    CHECK(Run(m, "first-found").address.ToString() == "192.168.9.9/24");
  }
  SECTION("link state is not looked at") {
    n.net.interfaces[2].up = false;
    CHECK(Run(n, "first-found").interface == "eth1");
  }
  SECTION("nothing left") {
    Node m;
    m.Link(1, "lo", {"127.0.0.1/8"});
    m.Link(2, "docker0", {"172.17.0.1/16"});
    CHECK_THAT(Fails(m, "first-found"), Catch::Contains("no valid host interfaces found"));
    m.Link(3, "eth0", {"169.254.0.1/16"});
    CHECK_THAT(Fails(m, "first-found"), Catch::Contains("no valid IPv4 addresses found"));
  }
}

// Calico's interfaces_linux_test.go GetInterfaces table, in our words: names
// that the default list skips and keeps (the regexes are anchored at the
// start only).
TEST_CASE("default exclusion list as in Calico's interface table test", "[autodetect]") {
  auto picks = [](const std::string& name) {
    Node m;
    m.Link(1, name, {"10.1.1.1/24"});
    return Autodetect(M("first-found"), m.net, AddressFamily::kIpv4, {}).ok();
  };
  CHECK(picks("ibmvetha"));  // "^veth.*" does not match inside a name
  CHECK(picks("eth0"));
  CHECK(picks("ens192"));
  for (auto name : {"veth123126312783", "vxlan.calico", "vxlan-v6.calico", "wireguard.cali", "wg-v6.cali",
                    "nodelocaldns", "podman", "podman0", "br-1234deadbeaf", "docker0", "cbr0", "dummy0", "virbr0",
                    "lxcbr0", "lo", "cali1234abcd", "tunl0", "flannel.1", "kube-ipvs0", "cni0",
                    "lonely0" /* "^lo" has no end anchor */})
    CHECK_FALSE(picks(name));
  CHECK(DefaultExcludedInterfaces().size() == 19);

  Node both;  // lo then ibmvetha: the one found is ibmvetha
  both.Link(0, "lo", {"127.0.0.1/8"});
  both.Link(1, "ibmvetha", {"10.1.1.1/24"});
  CHECK(Run(both, "first-found").interface == "ibmvetha");
}

// getAllInterfaceAddrs groups addresses by ifindex: 192.168.1.10/24 and
// fe80::1/64 on one interface, 10.0.0.5/8 on another.
TEST_CASE("addresses are grouped per interface and per family", "[autodetect]") {
  Node m;
  m.Link(1, "a", {"192.168.1.10/24", "fe80::1/64"});
  m.Link(2, "b", {"10.0.0.5/8"});
  CHECK(Run(m, "first-found").address.ToString() == "10.0.0.5/8");
  CHECK(Run(m, "interface=a").address.ToString() == "192.168.1.10/24");
  CHECK_THAT(Fails(m, "first-found", AddressFamily::kIpv6), Catch::Contains("no valid IPv6 addresses"));
}

TEST_CASE("interface= matches unanchored regexes and skips no default names", "[autodetect]") {
  auto n = VagrantNode();
  CHECK(Run(n, "interface=eth0").address.ToString() == "10.0.2.15/24");
  CHECK(Run(n, "interface=eth.*").interface == "eth1");
  CHECK(Run(n, "interface=eth0,eth1").interface == "eth1");  // order of the walk, not of the list
  CHECK(Run(n, "interface=docker.*").address.ToString() == "172.17.0.1/16");  // no default exclusions
  CHECK(Run(n, "interface=tunl0").address.ToString() == "10.244.1.0/32");
  // unanchored: "th0" finds eth0
  CHECK(Run(n, "interface=th0").interface == "eth0");
  SECTION("a veth named after eth1 wins over eth1 unless anchored") {
    n.Link(7, "veth1abc", {"10.9.9.9/24"});
    CHECK(Run(n, "interface=eth1").interface == "veth1abc");
    CHECK(Run(n, "interface=^eth1$").interface == "eth1");
  }
  CHECK_THAT(Fails(n, "interface=ens.*"), Catch::Contains("no valid host interfaces found"));
  CHECK_THAT(Fails(n, "interface=lo"), Catch::Contains("no valid IPv4 addresses"));
}

TEST_CASE("skip-interface= adds to the default exclusions", "[autodetect]") {
  auto n = VagrantNode();
  auto p = Run(n, "skip-interface=eth1");
  CHECK(p.interface == "eth0");
  CHECK(p.address.ToString() == "10.0.2.15/24");
  CHECK_THAT(Fails(n, "skip-interface=eth.*"), Catch::Contains("no valid host interfaces found"));
  CHECK(Run(n, "skip-interface=nothing").interface == "eth1");
}

TEST_CASE("cidr= picks the first global address inside the CIDRs on any interface", "[autodetect]") {
  auto n = VagrantNode();
  CHECK(Run(n, "cidr=10.0.2.0/24").interface == "eth0");
  CHECK(Run(n, "cidr=10.0.0.0/8").interface == "tunl0");  // no exclusions: tunl0's 10.244.1.0 is inside
  CHECK(Run(n, "cidr=172.16.0.0/12,10.0.2.0/24").interface == "docker0");
  CHECK(Run(n, "cidr=fd00::/8", AddressFamily::kIpv6).address.ToString() == "fd00:56::11/64");
  CHECK_THAT(Fails(n, "cidr=192.0.2.0/24"), Catch::Contains("no valid IPv4 addresses"));
  // Calico's filtered_test: the network of the address found with no filter finds the same one again.
  auto found = Run(n, "first-found");
  auto again = Run(n, "cidr=" + found.address.ToString());
  CHECK(again.interface == found.interface);
  CHECK(again.address == found.address);
}

TEST_CASE("can-reach= takes the kernel's source address toward the destination", "[autodetect]") {
  auto n = VagrantNode();
  auto out = Run(n, "can-reach=8.8.8.8");
  CHECK(out.interface == "eth0");
  CHECK(out.address.ToString() == "10.0.2.15/24");
  CHECK(Run(n, "can-reach=192.168.56.12").address.ToString() == "192.168.56.11/24");
  CHECK(Run(n, "can-reach=fd00:56::12", AddressFamily::kIpv6).interface == "eth1");
  SECTION("a name goes through the resolver") {
    TableResolver dns;
    dns.names["master.example"] = {A("192.168.56.10")};
    AutodetectInputs in;
    in.resolver = &dns;
    CHECK(Run(n, "can-reach=master.example", AddressFamily::kIpv4, in).interface == "eth1");
    CHECK_THAT(Fails(n, "can-reach=nowhere.example", AddressFamily::kIpv4, in), Catch::Contains("no such host"));
    CHECK_THAT(Fails(n, "can-reach=master.example"), Catch::Contains("no resolver"));
  }
  SECTION("no route, wrong family, source on no interface") {
    n.net.routes.erase(n.net.routes.begin());  // the default route
    CHECK_THAT(Fails(n, "can-reach=8.8.8.8"), Catch::Contains("8.8.8.8"));
    CHECK_THAT(Fails(n, "can-reach=fd00::1"), Catch::Contains("not an IPv4 address"));
    nodeagent::Route r;
    r.destination = P("192.0.2.0/24");
    r.device_index = 2;
    r.device = "eth0";
    r.type = "unicast";
    r.source = A("10.99.0.1");
    n.net.routes.push_back(r);
    CHECK_THAT(Fails(n, "can-reach=192.0.2.1"), Catch::Contains("does not match any addresses"));
  }
}

TEST_CASE("kubernetes-internal-ip takes the Node's first InternalIP of the family with its prefix", "[autodetect]") {
  auto n = VagrantNode();
  AutodetectInputs in;
  in.node_known = true;
  in.node_addresses = {{"Hostname", "node1"}, {"ExternalIP", "10.0.2.15"}, {"InternalIP", "fd00:56::11"},
                       {"InternalIP", "192.168.56.11"}};
  auto p = Run(n, "kubernetes-internal-ip", AddressFamily::kIpv4, in);
  CHECK(p.interface == "eth1");
  CHECK(p.address.ToString() == "192.168.56.11/24");
  CHECK(Run(n, "kubernetes-internal-ip", AddressFamily::kIpv6, in).address.ToString() == "fd00:56::11/64");
  in.node_addresses = {{"InternalIP", "192.168.99.1"}};
  CHECK_THAT(Fails(n, "kubernetes-internal-ip", AddressFamily::kIpv4, in), Catch::Contains("on no interface"));
  in.node_addresses = {{"Hostname", "node1"}};
  CHECK_THAT(Fails(n, "kubernetes-internal-ip", AddressFamily::kIpv4, in), Catch::Contains("no IPv4 InternalIP"));
  CHECK_THAT(Fails(n, "kubernetes-internal-ip"), Catch::Contains("not running on a Kubernetes cluster"));
}

TEST_CASE("a failing network read is an error, not a pick", "[autodetect]") {
  auto n = VagrantNode();
  n.net.failure = Error(ErrorCode::kIo, "netlink: permission denied");
  CHECK_THAT(Fails(n, "first-found"), Catch::Contains("permission denied"));
}

TEST_CASE("comparing the pick with the InternalIP suggests a method that works", "[autodetect]") {
  Node n;  // eth1 created before eth0: first-found takes the NAT address
  n.Link(1, "lo", {"127.0.0.1/8"});
  n.Link(2, "eth1", {"192.168.56.11/24"});
  n.Link(3, "eth0", {"10.0.2.15/24"});
  AutodetectInputs in;
  in.node_known = true;
  in.node_addresses = {{"InternalIP", "192.168.56.11"}};
  auto method = M("first-found");
  auto pick = Run(n, "first-found");
  auto c = CompareWithInternalIp(method, pick, n.net, AddressFamily::kIpv4, in);
  REQUIRE(c.ok());
  CHECK_FALSE(c->matches);
  CHECK(c->internal_ip_interface == "eth1");
  CHECK(c->suggestion ==
        "first-found picks 10.0.2.15 on eth0; InternalIP is 192.168.56.11 on eth1; "
        "set IP_AUTODETECTION_METHOD=interface=eth1 or kubernetes-internal-ip");

  SECTION("an unanchored name that would pick another interface is anchored") {
    n.Link(4, "veth1xyz", {"10.7.7.7/24"});
    auto c2 = CompareWithInternalIp(method, pick, n.net, AddressFamily::kIpv4, in);
    REQUIRE(c2.ok());
    CHECK_THAT(c2->suggestion, Catch::Contains("IP_AUTODETECTION_METHOD=interface=^eth1$ or kubernetes-internal-ip"));
  }
  SECTION("a second address first on the interface makes it a cidr") {
    n.net.addresses.insert(n.net.addresses.begin() + 1, {2, "eth1", P("192.168.57.11/24"), "global", false});
    auto c3 = CompareWithInternalIp(method, pick, n.net, AddressFamily::kIpv4, in);
    REQUIRE(c3.ok());
    CHECK_THAT(c3->suggestion, Catch::Contains("=cidr=192.168.56.11/32 or kubernetes-internal-ip"));
  }
  SECTION("a match has no suggestion") {
    auto good = Run(n, "interface=eth1");
    auto c4 = CompareWithInternalIp(M("interface=eth1"), good, n.net, AddressFamily::kIpv4, in);
    REQUIRE(c4.ok());
    CHECK(c4->matches);
    CHECK(c4->suggestion.empty());
  }
  SECTION("an InternalIP on no interface says so") {
    in.node_addresses = {{"InternalIP", "192.168.99.9"}};
    auto c5 = CompareWithInternalIp(method, pick, n.net, AddressFamily::kIpv4, in);
    REQUIRE(c5.ok());
    CHECK_THAT(c5->suggestion, Catch::Contains("on no interface of this node"));
  }
  SECTION("IPv6 names IP6_AUTODETECTION_METHOD") {
    n.net.addresses.push_back({2, "eth1", P("fd00:56::11/64"), "global", false});
    n.net.addresses.push_back({3, "eth0", P("fd00:2::15/64"), "global", false});
    in.node_addresses = {{"InternalIP", "fd00:56::11"}};
    auto p6 = Run(n, "first-found", AddressFamily::kIpv6);
    auto c6 = CompareWithInternalIp(method, p6, n.net, AddressFamily::kIpv6, in);
    REQUIRE(c6.ok());
    CHECK_THAT(c6->suggestion, Catch::Contains("set IP6_AUTODETECTION_METHOD=interface=eth1"));
  }
}

TEST_CASE("when calico-node autodetects at all", "[autodetect]") {
  auto v4 = AddressFamily::kIpv4;
  auto v6 = AddressFamily::kIpv6;
  CHECK(CalicoAutodetects(v4, "autodetect", "10.0.2.15/24").autodetects);
  CHECK(CalicoAutodetects(v4, "", "").autodetects);
  auto keep = CalicoAutodetects(v4, "", "10.0.2.15/24");
  CHECK_FALSE(keep.autodetects);
  CHECK_THAT(keep.why, Catch::Contains("keeps its IPv4 address 10.0.2.15/24"));
  CHECK_FALSE(CalicoAutodetects(v4, "none", "").autodetects);
  CHECK_FALSE(CalicoAutodetects(v4, "192.168.56.11", "").autodetects);
  CHECK_FALSE(CalicoAutodetects(v6, "", "").autodetects);
  CHECK(CalicoAutodetects(v6, "autodetect", "").autodetects);
}
