#include "cluster/bgp_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace nodeagent::calico {
namespace {

using namespace std::chrono_literals;

// A listening socket on 127.0.0.1, ephemeral port; closed at the end.
struct Listener {
  int fd = -1;
  uint16_t port = 0;
  Listener() {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0);
    REQUIRE(listen(fd, 4096) == 0);
    socklen_t len = sizeof sin;
    getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
    port = ntohs(sin.sin_port);
  }
  ~Listener() { close(fd); }
};

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

TEST_CASE("SocketTcpProbe: open and refused on loopback, results in order") {
  Listener open;
  // A port that was free a moment ago: bind, read the port, close.
  uint16_t closed_port = 0;
  {
    Listener tmp;
    closed_port = tmp.port;
  }
  SocketTcpProbe probe;
  auto results = probe.Probe({Ip("127.0.0.1"), Ip("127.0.0.1")}, open.port, 2000ms);
  REQUIRE(results.size() == 2);
  CHECK(results[0].state == ProbeState::kOpen);
  CHECK(results[1].state == ProbeState::kOpen);
  CHECK(results[0].address.ToString() == "127.0.0.1");

  auto refused = probe.Probe({Ip("127.0.0.1"), Ip("::1")}, closed_port, 2000ms);
  REQUIRE(refused.size() == 2);
  CHECK(refused[0].state == ProbeState::kRefused);
  CHECK(refused[0].message == "connection refused");
  // ::1 may be refused or, without IPv6 on lo, an error; never open.
  CHECK(refused[1].state != ProbeState::kOpen);
}

TEST_CASE("SocketTcpProbe: more targets than in flight at once") {
  Listener open;
  std::vector<IpAddress> many(SocketTcpProbe::kMaxInFlight * 2 + 3, Ip("127.0.0.1"));
  auto results = SocketTcpProbe().Probe(many, open.port, 2000ms);
  REQUIRE(results.size() == many.size());
  for (const ProbeResult& r : results) CHECK(r.state == ProbeState::kOpen);
}

TEST_CASE("SocketTcpProbe: targets past the bound are not tried") {
  std::vector<IpAddress> many(SocketTcpProbe::kMaxTargets + 2, Ip("127.0.0.1"));
  Listener open;
  auto results = SocketTcpProbe().Probe(many, open.port, 2000ms);
  CHECK(results.back().state == ProbeState::kError);
  CHECK_THAT(results.back().message, Catch::Contains("not tried"));
}

TEST_CASE("FakeTcpProbe answers from its table and records calls") {
  FakeTcpProbe fake;
  fake.states["192.168.56.12"] = ProbeState::kRefused;
  auto r = fake.Probe({Ip("192.168.56.12"), Ip("192.168.56.13")}, 179, 1500ms);
  CHECK(r[0].state == ProbeState::kRefused);
  CHECK(r[1].state == ProbeState::kTimeout);
  REQUIRE(fake.calls.size() == 1);
  CHECK(fake.calls[0].port == 179);
  CHECK(ToJson(r)[0]["state"] == "refused");
}

}  // namespace
}  // namespace nodeagent::calico
