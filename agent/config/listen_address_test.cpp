#include <catch2/catch.hpp>

#include "config/listen_address.h"

using namespace nodeagent;

TEST_CASE("a listen address is a port (loopback) or an IP literal with a port", "[listen_address]") {
  struct Case {
    const char* text;
    const char* ip;
    int port;
    bool ipv6;
  };
  const Case cases[] = {
      {"9779", "127.0.0.1", 9779, false},   {"127.0.0.1:9779", "127.0.0.1", 9779, false},
      {"0.0.0.0:1", "0.0.0.0", 1, false},   {"[::1]:65535", "::1", 65535, true},
      {"[::]:9779", "::", 9779, true},      {"10.1.2.3:80", "10.1.2.3", 80, false},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto a = ParseListenAddress(c.text);
    REQUIRE(a);
    CHECK(a->ip == c.ip);
    CHECK(a->port == c.port);
    CHECK(a->ipv6 == c.ipv6);
  }
  CHECK(ParseListenAddress("9779")->ToString() == "127.0.0.1:9779");
  CHECK(ParseListenAddress("[::1]:9779")->ToString() == "[::1]:9779");
}

TEST_CASE("a listen address refuses names, missing ports and bad numbers", "[listen_address]") {
  struct Case {
    const char* text;
    const char* says;
  };
  const Case cases[] = {
      {"0", "between 1 and 65535"},          {"65536", "between 1 and 65535"},
      {"localhost:9779", "not an IPv4"},     {"127.0.0.1", "no port"},
      {"127.0.0.1:", "between 1 and 65535"}, {"::1:9779", "needs brackets"},
      {"[::1]", "no port"},                  {"[127.0.0.1]:80", "not an IPv6"},
      {"1.2.3.4:80x", "between 1 and 65535"}, {"", "between 1 and 65535"},
      {"1.2.3.4:099999", "between 1 and 65535"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto a = ParseListenAddress(c.text);
    REQUIRE_FALSE(a);
    CHECK(a.error().code() == ErrorCode::kInvalidArgument);
    CHECK_THAT(a.error().message(), Catch::Contains(c.says));
    CHECK_THAT(a.error().message(), Catch::Contains("[IPv6]:PORT"));
  }
}
