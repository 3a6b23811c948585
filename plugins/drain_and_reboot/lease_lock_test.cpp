#include "lease_lock.h"

#include <catch2/catch.hpp>

#include "fake_kube_client.h"
#include "host/fake_host.h"
#include "pod_filter.h"

using namespace nodeagent;
using namespace nodeagent::drain;
using namespace std::chrono_literals;

namespace {

LeaseLockOptions Opts(const std::string& holder, int concurrency = 1) {
  LeaseLockOptions o;
  o.holder = holder;
  o.concurrency = concurrency;
  o.ttl = 60s;
  return o;
}

}  // namespace

TEST_CASE("concurrency N means N slots, never more holders", "[lease_lock]") {
  FakeKubeClient kube;
  FakeClock clock;
  for (int n : {1, 2, 3}) {
    kube.leases.clear();
    int got = 0;
    for (int i = 0; i < 5; ++i) {
      LeaseLock lock(kube, clock, Opts("node-" + std::to_string(i), n));
      std::vector<std::string> holders;
      auto r = lock.TryAcquire(&holders);
      REQUIRE(r);
      if (*r) ++got;
      else CHECK(holders.size() == static_cast<size_t>(n));
    }
    CHECK(got == n);
  }
}

TEST_CASE("holding a slot again renews it instead of taking a second", "[lease_lock]") {
  FakeKubeClient kube;
  FakeClock clock;
  LeaseLock lock(kube, clock, Opts("node-1", 2));
  auto a = lock.TryAcquire();
  REQUIRE(a);
  REQUIRE(*a);
  clock.Advance(10s);
  auto b = lock.TryAcquire();
  REQUIRE(b);
  REQUIRE(*b);
  CHECK((*b)->name == (*a)->name);
  CHECK(kube.leases.size() == 1);
  CHECK(kube.leases.begin()->second["spec"]["renewTime"] == FormatMicroTime(clock.Now()));
}

TEST_CASE("an expired lease is taken over and names the previous holder", "[lease_lock]") {
  FakeKubeClient kube;
  FakeClock clock;
  LeaseLock dead(kube, clock, Opts("dead-node"));
  REQUIRE(*dead.TryAcquire());
  LeaseLock alive(kube, clock, Opts("node-2"));
  clock.Advance(59s);
  auto r = alive.TryAcquire();
  REQUIRE(r);
  CHECK_FALSE(*r);  // still within the TTL
  clock.Advance(2s);
  r = alive.TryAcquire();
  REQUIRE(r);
  REQUIRE(*r);
  CHECK((*r)->previous_holder == "dead-node");
  auto& spec = kube.leases.begin()->second["spec"];
  CHECK(spec["holderIdentity"] == "node-2");
  CHECK(spec["leaseTransitions"] == 1);
}

TEST_CASE("a 409 on takeover re-reads and decides again", "[lease_lock]") {
  FakeKubeClient kube;
  FakeClock clock;
  LeaseLock dead(kube, clock, Opts("dead-node"));
  REQUIRE(*dead.TryAcquire());
  clock.Advance(120s);
  kube.conflicts_to_inject = 2;
  LeaseLock alive(kube, clock, Opts("node-2"));
  auto r = alive.TryAcquire();
  REQUIRE(r);
  REQUIRE(*r);
  CHECK(kube.leases.begin()->second["spec"]["holderIdentity"] == "node-2");
}

TEST_CASE("release deletes only our own lease", "[lease_lock]") {
  FakeKubeClient kube;
  FakeClock clock;
  LeaseLock a(kube, clock, Opts("node-1"));
  auto held = a.TryAcquire();
  REQUIRE(*held);
  LeaseLock b(kube, clock, Opts("node-2"));
  CHECK(b.Release((*held)->name).ok());
  CHECK(kube.leases.size() == 1);
  CHECK(a.Release((*held)->name).ok());
  CHECK(kube.leases.empty());
  CHECK(a.Release((*held)->name).ok());  // already gone is fine
}

TEST_CASE("Acquire waits, then times out naming the holders", "[lease_lock]") {
  FakeKubeClient kube;
  FakeClock clock;
  LeaseLock a(kube, clock, Opts("node-1"));
  REQUIRE(*a.TryAcquire());
  LeaseLock b(kube, clock, Opts("node-2"));
  int waits = 0;
  auto r = b.Acquire(5s, 1s, nullptr, [&](const std::vector<std::string>&) { ++waits; });
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == ErrorCode::kTimeout);
  CHECK(r.error().message().find("node-1") != std::string::npos);
  CHECK(waits >= 5);
}
