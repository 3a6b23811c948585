#include "nodeagent/network.h"

#include <catch2/catch.hpp>

using namespace nodeagent;

TEST_CASE("IpAddress and IpPrefix parse, print and contain") {
  CHECK(IpAddress::Parse("10.0.0.1")->ToString() == "10.0.0.1");
  CHECK(IpAddress::Parse("10.0.0.1")->family == AddressFamily::kIpv4);
  CHECK(IpAddress::Parse("2001:DB8:0::1")->ToString() == "2001:db8::1");
  CHECK(IpAddress::Parse("2001:db8::1")->bits() == 128);
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "10.0.0.1/8", "fe80::1%eth0", "eth0", " 10.0.0.1"}) {
    INFO(bad);
    CHECK_FALSE(IpAddress::Parse(bad));
  }
  auto p = IpPrefix::Parse("10.96.0.0/12");
  REQUIRE(p);
  CHECK(p->ToString() == "10.96.0.0/12");
  CHECK(p->Contains(*IpAddress::Parse("10.111.255.255")));
  CHECK_FALSE(p->Contains(*IpAddress::Parse("10.112.0.0")));
  CHECK_FALSE(p->Contains(*IpAddress::Parse("::ffff:10.96.0.1")));  // another family
  CHECK(IpPrefix::Parse("0.0.0.0/0")->Contains(*IpAddress::Parse("192.0.2.1")));
  CHECK(IpPrefix::Parse("192.0.2.7")->length == 32);
  CHECK(IpPrefix::Parse("192.0.2.7")->Contains(*IpAddress::Parse("192.0.2.7")));
  CHECK_FALSE(IpPrefix::Parse("192.0.2.7")->Contains(*IpAddress::Parse("192.0.2.6")));
  CHECK(IpPrefix::Parse("fd00:1::/33")->Contains(*IpAddress::Parse("fd00:1:7fff::1")));
  CHECK_FALSE(IpPrefix::Parse("fd00:1::/33")->Contains(*IpAddress::Parse("fd00:1:8000::1")));
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/8x", "fd00::/129", "/8"}) {
    INFO(bad);
    CHECK_FALSE(IpPrefix::Parse(bad));
  }
}
