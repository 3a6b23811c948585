// NetlinkNetworkInfo against the real kernel. Each test moves the test
// process into a network namespace of its own (unshare(CLONE_NEWNET)), builds
// interfaces there with `ip` (veth pairs: this kernel has no dummy driver),
// addresses and routes, and compares what the reader returns with `ip -j`
// run in the same namespace. The namespace has no name and dies with its last
// process, so nothing is left behind even when a test crashes; the host's own
// network is never touched. Needs root (CI runs as root): without it the
// tests fail, they do not skip.
#include "host/netlink_network_info.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "host/process_command_runner.h"

using namespace nodeagent;
using nlohmann::json;

namespace {

/// The test process in a fresh network namespace while it lives; back in
/// the one it came from afterwards.
class OwnNetworkNamespace {
 public:
  OwnNetworkNamespace() {
    if (::geteuid() != 0)
      throw std::runtime_error("these tests need root (to create a network namespace); run them as root, as CI does");
    original_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (original_ < 0) throw std::runtime_error("cannot open this thread's network namespace");
    if (::unshare(CLONE_NEWNET) != 0) throw std::runtime_error("unshare(CLONE_NEWNET) failed");
  }
  ~OwnNetworkNamespace() {
    if (::setns(original_, CLONE_NEWNET) != 0) std::abort();  // never go on in the wrong namespace
    ::close(original_);
  }
  OwnNetworkNamespace(const OwnNetworkNamespace&) = delete;
  OwnNetworkNamespace& operator=(const OwnNetworkNamespace&) = delete;

 private:
  int original_ = -1;
};

/// Runs `ip ARGS` (in this process's namespace); its stdout, or the test fails.
std::string Ip(std::vector<std::string> args) {
  static ProcessCommandRunner runner;
  CommandSpec spec;
  spec.argv = {"ip"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = std::chrono::seconds(20);
  auto r = runner.Run(spec);
  std::string line;
  for (const auto& a : spec.argv) line += a + " ";
  INFO(line << (r ? r->stderr_data : r.error().ToString()));
  REQUIRE(r.ok());
  REQUIRE(r->succeeded());
  return r->stdout_data;
}

json IpJson(std::vector<std::string> args) {
  args.insert(args.begin(), "-j");
  return json::parse(Ip(std::move(args)));
}

/// A namespace with lo, two veth pairs (eth1-p1 up with IPv4 and IPv6
/// addresses, eth2-p2 down), and routes of several kinds and tables.
struct Lab {
  OwnNetworkNamespace ns;
  Lab() {
    Ip({"link", "set", "lo", "up"});
    Ip({"link", "add", "eth1", "type", "veth", "peer", "name", "p1"});
    Ip({"link", "add", "eth2", "type", "veth", "peer", "name", "p2"});
    // No automatic link-local addresses: nothing appears behind the test's back.
    for (const char* dev : {"eth1", "p1", "eth2", "p2"}) Ip({"link", "set", dev, "addrgenmode", "none"});
    Ip({"link", "set", "eth1", "mtu", "1450"});
    Ip({"link", "set", "eth1", "up"});
    Ip({"link", "set", "p1", "up"});
    Ip({"link", "set", "eth2", "up"});  // p2 stays down: eth2 is up without a carrier
    Ip({"addr", "add", "10.99.0.1/24", "dev", "eth1"});
    Ip({"addr", "add", "10.99.0.9/24", "dev", "eth1"});  // a secondary
    Ip({"addr", "add", "10.98.0.1/16", "dev", "eth2"});
    Ip({"addr", "add", "2001:db8:99::1/64", "dev", "eth1", "nodad"});
    Ip({"route", "add", "192.168.50.0/24", "via", "10.99.0.254", "dev", "eth1", "proto", "static", "metric", "50"});
    Ip({"route", "add", "default", "via", "10.99.0.254", "dev", "eth1"});
    Ip({"route", "add", "172.16.5.0/24", "dev", "eth1", "src", "10.99.0.9"});
    Ip({"route", "add", "blackhole", "203.0.113.0/24"});
    Ip({"route", "add", "198.51.100.0/24", "proto", "bird", "nexthop", "via", "10.99.0.253", "dev", "eth1", "weight",
        "2", "nexthop", "via", "10.99.0.252", "dev", "eth1"});
    Ip({"route", "add", "10.200.0.0/16", "via", "10.99.0.254", "dev", "eth1", "table", "100", "proto", "80"});
    Ip({"-6", "route", "add", "2001:db8:77::/48", "via", "2001:db8:99::fe", "dev", "eth1"});
    // Some traffic on eth1: a datagram to an unknown neighbour makes an ARP request.
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(s >= 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9);
    ::inet_pton(AF_INET, "10.99.0.7", &to.sin_addr);
    ::sendto(s, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    ::close(s);
  }
};

std::string Str(const json& j, const char* key, std::string missing = "") {
  return j.contains(key) ? j[key].get<std::string>() : missing;
}

bool HasFlag(const json& link, const char* flag) {
  const auto& flags = link["flags"];
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

/// ip's way of writing a route's destination.
std::string DestinationText(const IpPrefix& p) {
  if (p.length == 0) return "default";
  if (p.length == p.address.bits()) return p.address.ToString();
  return p.ToString();
}

uint32_t TableNumber(const std::string& name) {
  if (name.empty() || name == "main") return 254;
  if (name == "local") return 255;
  if (name == "default") return 253;
  return static_cast<uint32_t>(std::stoul(name));
}

std::string Key(const Route& r) {
  std::string key = std::to_string(r.table) + " " + r.type + " " + DestinationText(r.destination) + " gw=" +
                    (r.gateway ? r.gateway->ToString() : "") + " dev=" + r.device + " src=" +
                    (r.source ? r.source->ToString() : "") + " proto=" + r.protocol + " metric=" +
                    std::to_string(r.metric) + " scope=" + r.scope;
  for (const auto& h : r.nexthops)
    key += " nh(" + (h.gateway ? h.gateway->ToString() : "") + " " + h.device + " " + std::to_string(h.weight) + ")";
  return key;
}

std::string Key(const json& r) {
  std::string key = std::to_string(TableNumber(Str(r, "table"))) + " " + Str(r, "type", "unicast") + " " +
                    Str(r, "dst") + " gw=" + Str(r, "gateway") + " dev=" + Str(r, "dev") + " src=" +
                    Str(r, "prefsrc") + " proto=" + Str(r, "protocol", "boot") + " metric=" +
                    std::to_string(r.value("metric", 0)) + " scope=" + Str(r, "scope", "global");
  if (r.contains("nexthops"))
    for (const auto& h : r["nexthops"])
      key += " nh(" + Str(h, "gateway") + " " + Str(h, "dev") + " " + std::to_string(h.value("weight", 1)) + ")";
  return key;
}

}  // namespace

TEST_CASE("Interfaces match ip -j -d -s link in a namespace of the test's own") {
  Lab lab;
  const json before = IpJson({"-d", "-s", "link", "show"});
  NetlinkNetworkInfo reader;
  auto links = reader.Interfaces();
  REQUIRE(links.ok());
  const json after = IpJson({"-d", "-s", "link", "show"});

  REQUIRE(links->size() == before.size());
  REQUIRE(links->size() == 5);  // lo, eth1, p1, eth2, p2
  std::map<std::string, const NetworkInterface*> by_name;
  for (size_t i = 0; i < links->size(); ++i) {
    const NetworkInterface& mine = (*links)[i];
    const json& ip = before[i];
    const json& later = after[i];
    INFO(ip.dump());
    by_name[mine.name] = &mine;
    CHECK(mine.index == ip["ifindex"].get<int>());
    CHECK(mine.name == ip["ifname"].get<std::string>());
    CHECK(mine.mtu == ip["mtu"].get<uint32_t>());
    CHECK(mine.operstate == ip["operstate"].get<std::string>());
    CHECK(mine.up == HasFlag(ip, "UP"));
    CHECK(mine.lower_up == HasFlag(ip, "LOWER_UP"));
    CHECK(mine.loopback == HasFlag(ip, "LOOPBACK"));
    CHECK(mine.kind == (ip.contains("linkinfo") ? Str(ip["linkinfo"], "info_kind") : ""));
    if (Str(ip, "link_type") == "ether") CHECK(mine.mac == Str(ip, "address"));
    for (const auto& [dir, counters] : {std::pair{"rx", std::array{mine.stats.rx_bytes, mine.stats.rx_packets,
                                                                     mine.stats.rx_errors, mine.stats.rx_dropped}},
                                        std::pair{"tx", std::array{mine.stats.tx_bytes, mine.stats.tx_packets,
                                                                     mine.stats.tx_errors, mine.stats.tx_dropped}}}) {
      const char* names[] = {"bytes", "packets", "errors", "dropped"};
      for (int c = 0; c < 4; ++c) {
        INFO(dir << " " << names[c]);
        CHECK(ip["stats64"][dir][names[c]].get<uint64_t>() <= counters[c]);  // counters only grow
        CHECK(counters[c] <= later["stats64"][dir][names[c]].get<uint64_t>());
      }
    }
  }
  const auto& eth1 = *by_name.at("eth1");
  CHECK(eth1.kind == "veth");
  CHECK(eth1.mtu == 1450);
  CHECK(eth1.up);
  CHECK(eth1.running);
  CHECK(eth1.lower_up);
  CHECK(eth1.link_index == by_name.at("p1")->index);
  CHECK(eth1.stats.tx_packets >= 1);  // the ARP request
  const auto& eth2 = *by_name.at("eth2");
  CHECK(eth2.up);
  CHECK_FALSE(eth2.lower_up);  // its peer is down
  CHECK_FALSE(eth2.running);
  CHECK(eth2.operstate == "LOWERLAYERDOWN");
  CHECK_FALSE(by_name.at("p2")->up);
  CHECK(by_name.at("lo")->loopback);
  CHECK(by_name.at("lo")->mac.empty());
}

TEST_CASE("Addresses match ip -j addr in a namespace of the test's own") {
  Lab lab;
  NetlinkNetworkInfo reader;
  auto addresses = reader.Addresses();
  REQUIRE(addresses.ok());
  std::multiset<std::string> mine, theirs;
  for (const auto& a : *addresses)
    mine.insert(std::to_string(a.interface_index) + " " + a.interface + " " + a.prefix.ToString() + " " + a.scope +
                (a.secondary ? " secondary" : ""));
  for (const auto& link : IpJson({"addr", "show"}))
    for (const auto& a : link["addr_info"])
      theirs.insert(std::to_string(link["ifindex"].get<int>()) + " " + link["ifname"].get<std::string>() + " " +
                    Str(a, "local") + "/" + std::to_string(a["prefixlen"].get<int>()) + " " + Str(a, "scope") +
                    (a.value("secondary", false) ? " secondary" : ""));
  CHECK(mine == theirs);
  CHECK(mine.size() == 6);  // 127.0.0.1, ::1, three IPv4 and one IPv6 on the veths
  auto secondary = std::find_if(addresses->begin(), addresses->end(),
                                [](const InterfaceAddress& a) { return a.prefix.address.ToString() == "10.99.0.9"; });
  REQUIRE(secondary != addresses->end());
  CHECK(secondary->interface == "eth1");
  CHECK(secondary->secondary);
  CHECK(secondary->prefix.length == 24);
  CHECK(secondary->scope == "global");
}

TEST_CASE("Routes of every table match ip -j route show table all in a namespace of the test's own") {
  Lab lab;
  NetlinkNetworkInfo reader;
  auto routes = reader.Routes();
  REQUIRE(routes.ok());
  std::multiset<std::string> mine, theirs;
  for (const auto& r : *routes) mine.insert(Key(r));
  for (const char* family : {"-4", "-6"})
    for (const auto& r : IpJson({family, "route", "show", "table", "all"})) theirs.insert(Key(r));
  CHECK(mine == theirs);
  // The kinds the lab made, as a plugin would look for them.
  auto find = [&](const std::string& dst, uint32_t table = 254) -> const Route* {
    for (const auto& r : *routes)
      if (r.destination.ToString() == dst && r.table == table) return &r;
    return nullptr;
  };
  const Route* def = find("0.0.0.0/0");
  REQUIRE(def);
  CHECK(def->gateway->ToString() == "10.99.0.254");
  CHECK(def->device == "eth1");
  CHECK(def->protocol == "boot");
  const Route* stat = find("192.168.50.0/24");
  REQUIRE(stat);
  CHECK(stat->protocol == "static");
  CHECK(stat->metric == 50);
  const Route* src = find("172.16.5.0/24");
  REQUIRE(src);
  CHECK(src->source->ToString() == "10.99.0.9");
  CHECK(src->scope == "link");
  const Route* black = find("203.0.113.0/24");
  REQUIRE(black);
  CHECK(black->type == "blackhole");
  CHECK(black->device_index == 0);
  const Route* multi = find("198.51.100.0/24");
  REQUIRE(multi);
  REQUIRE(multi->nexthops.size() == 2);
  CHECK(multi->nexthops[0].gateway->ToString() == "10.99.0.253");
  CHECK(multi->nexthops[0].weight == 2);
  CHECK(multi->protocol == "bird");
  const Route* other = find("10.200.0.0/16", 100);
  REQUIRE(other);
  CHECK(other->protocol == "80");
  const Route* v6 = find("2001:db8:77::/48");
  REQUIRE(v6);
  CHECK(v6->family == AddressFamily::kIpv6);
  CHECK(v6->gateway->ToString() == "2001:db8:99::fe");
  const Route* local = find("10.99.0.1/32", 255);
  REQUIRE(local);
  CHECK(local->type == "local");
}

TEST_CASE("LookupRoute answers as ip -j route get in a namespace of the test's own") {
  Lab lab;
  NetlinkNetworkInfo reader;
  for (const std::string dst : {"10.99.0.7", "192.168.50.9", "8.8.8.8", "172.16.5.20", "10.99.0.1", "127.0.0.1",
                                "10.98.3.4", "2001:db8:99::7", "2001:db8:77::1", "2001:db8:99::1"}) {
    INFO(dst);
    auto mine = reader.LookupRoute(*IpAddress::Parse(dst));
    INFO((mine ? "" : mine.error().ToString()));
    REQUIRE(mine.ok());
    const json ip = IpJson({"route", "get", dst})[0];
    INFO(ip.dump());
    CHECK(mine->destination.ToString() == dst);
    CHECK(mine->device == Str(ip, "dev"));
    CHECK((mine->source ? mine->source->ToString() : "") == Str(ip, "prefsrc"));
    CHECK((mine->gateway ? mine->gateway->ToString() : "") == Str(ip, "gateway"));
    CHECK(mine->type == Str(ip, "type", "unicast"));
    CHECK(mine->table == TableNumber(Str(ip, "table")));
  }
  auto via = reader.LookupRoute(*IpAddress::Parse("192.168.50.9"));
  CHECK(via->gateway->ToString() == "10.99.0.254");
  CHECK(via->source->ToString() == "10.99.0.1");
  CHECK(via->device == "eth1");
  CHECK(via->table == 254);
  CHECK(reader.LookupRoute(*IpAddress::Parse("172.16.5.20"))->source->ToString() == "10.99.0.9");
  auto own = reader.LookupRoute(*IpAddress::Parse("10.99.0.1"));
  CHECK(own->type == "local");
  CHECK(own->device == "lo");

  // No IPv6 default route: unreachable, as `ip route get` says too.
  auto none = reader.LookupRoute(*IpAddress::Parse("2001:db8:1234::1"));
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code() == ErrorCode::kNotFound);
  CHECK(none.error().message().find("no route to 2001:db8:1234::1") != std::string::npos);
  CommandSpec get;
  get.argv = {"ip", "route", "get", "2001:db8:1234::1"};
  ProcessCommandRunner runner;
  auto r = runner.Run(get);
  REQUIRE(r.ok());
  CHECK_FALSE(r->succeeded());
}

TEST_CASE("every netlink answer is bounded: over a cap is TooLarge, never a partial table") {
  Lab lab;
  auto too_large = [](auto result, const std::string& words) {
    INFO(words);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code() == ErrorCode::kTooLarge);
    CHECK(result.error().message().find(words) != std::string::npos);
  };
  too_large(NetlinkNetworkInfo({.max_interfaces = 4}).Interfaces(), "more than 4");
  too_large(NetlinkNetworkInfo({.max_interfaces = 4}).Addresses(), "more than 4");
  too_large(NetlinkNetworkInfo({.max_addresses = 5}).Addresses(), "more than 5");
  too_large(NetlinkNetworkInfo({.max_routes = 10}).Routes(), "more than 10");
  too_large(NetlinkNetworkInfo({.max_message_bytes = 512}).Interfaces(), "512-byte buffer");
  too_large(NetlinkNetworkInfo({.max_dump_bytes = 2048}).Interfaces(), "over 2048 bytes");
  // At the caps exactly, all of it.
  CHECK(NetlinkNetworkInfo({.max_interfaces = 5}).Interfaces()->size() == 5);
  CHECK(NetlinkNetworkInfo({.max_addresses = 6}).Addresses()->size() == 6);
}
