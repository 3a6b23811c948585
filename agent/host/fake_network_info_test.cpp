// FakeNetworkInfo's route lookup, table by table: the same choice the kernel
// makes for these routes (the netlink test checks the kernel's side).
#include "host/fake_network_info.h"

#include <catch2/catch.hpp>

using namespace nodeagent;

namespace {

Route MakeRoute(uint32_t table, const char* type, const char* dst, const char* gateway, int dev_index,
                const char* dev, uint32_t metric = 0, const char* source = nullptr) {
  Route r;
  r.destination = *IpPrefix::Parse(dst);
  r.family = r.destination.address.family;
  r.table = table;
  r.type = type;
  if (gateway) r.gateway = IpAddress::Parse(gateway);
  if (source) r.source = IpAddress::Parse(source);
  r.device_index = dev_index;
  r.device = dev;
  r.metric = metric;
  return r;
}

InterfaceAddress MakeAddress(int index, const char* dev, const char* prefix, const char* scope) {
  return InterfaceAddress{index, dev, *IpPrefix::Parse(prefix), scope, false};
}

}  // namespace

TEST_CASE("FakeNetworkInfo looks routes up like the kernel: local first, longest prefix, lowest metric") {
  FakeNetworkInfo net;
  net.addresses = {MakeAddress(2, "eth0", "fe80::1/64", "link"), MakeAddress(2, "eth0", "10.0.0.5/24", "global"),
                   MakeAddress(2, "eth0", "2001:db8::5/64", "global"), MakeAddress(3, "eth1", "10.1.0.5/16", "global")};
  net.routes = {
      MakeRoute(254, "unicast", "0.0.0.0/0", "10.0.0.1", 2, "eth0", 100),
      MakeRoute(254, "unicast", "0.0.0.0/0", "10.1.0.1", 3, "eth1", 50),
      MakeRoute(254, "unicast", "10.0.0.0/24", nullptr, 2, "eth0"),
      MakeRoute(254, "unicast", "10.1.0.0/16", nullptr, 3, "eth1"),
      MakeRoute(254, "unicast", "10.1.2.0/24", "10.1.0.9", 3, "eth1", 0, "10.1.0.77"),
      MakeRoute(100, "unicast", "10.9.0.0/16", nullptr, 2, "eth0"),  // another table: not looked at
      MakeRoute(254, "blackhole", "10.66.0.0/16", nullptr, 0, ""),
      MakeRoute(255, "local", "10.0.0.5/32", nullptr, 1, "lo"),
      MakeRoute(254, "unicast", "2001:db8::/64", nullptr, 2, "eth0"),
  };
  struct Case {
    const char* destination;
    const char* device;
    const char* gateway;  // "" when on-link
    const char* source;
    const char* type;
  };
  const Case cases[] = {
      {"8.8.8.8", "eth1", "10.1.0.1", "10.1.0.5", "unicast"},     // lower metric default wins
      {"10.0.0.9", "eth0", "", "10.0.0.5", "unicast"},            // on-link
      {"10.1.2.3", "eth1", "10.1.0.9", "10.1.0.77", "unicast"},   // longest prefix, its own source
      {"10.1.3.3", "eth1", "", "10.1.0.5", "unicast"},
      {"10.9.1.1", "eth1", "10.1.0.1", "10.1.0.5", "unicast"},    // table 100 ignored
      {"10.66.1.1", "eth1", "10.1.0.1", "10.1.0.5", "unicast"},   // blackhole skipped, as documented
      {"10.0.0.5", "lo", "", "10.0.0.5", "local"},                // the local table first
      {"2001:db8::9", "eth0", "", "2001:db8::5", "unicast"},      // global address before link-local
  };
  for (const auto& c : cases) {
    INFO(c.destination);
    auto r = net.LookupRoute(*IpAddress::Parse(c.destination));
    REQUIRE(r.ok());
    CHECK(r->device == c.device);
    CHECK((r->gateway ? r->gateway->ToString() : "") == c.gateway);
    CHECK((r->source ? r->source->ToString() : "") == c.source);
    CHECK(r->type == c.type);
  }
  auto none = net.LookupRoute(*IpAddress::Parse("2001:db9::1"));
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code() == ErrorCode::kNotFound);

  net.failure = Error(ErrorCode::kIo, "netlink socket: Permission denied");
  CHECK(net.Interfaces().error().code() == ErrorCode::kIo);
  CHECK(net.Routes().error().code() == ErrorCode::kIo);
  CHECK(net.LookupRoute(*IpAddress::Parse("8.8.8.8")).error().code() == ErrorCode::kIo);
}
