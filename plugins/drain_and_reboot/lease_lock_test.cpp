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
  auto r = alive.TryAcquire();  // first sight of the record: its TTL starts now, by our clock
  REQUIRE(r);
  CHECK_FALSE(*r);
  clock.Advance(59s);
  r = alive.TryAcquire();
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
  LeaseLock alive(kube, clock, Opts("node-2"));
  REQUIRE_FALSE(*alive.TryAcquire());
  clock.Advance(120s);
  kube.conflicts_to_inject = 2;  // bumps only the resourceVersion: the holder's record is unchanged
  auto r = alive.TryAcquire();
  REQUIRE(r);
  REQUIRE(*r);
  CHECK(kube.leases.begin()->second["spec"]["holderIdentity"] == "node-2");
}

// Defect 8 of issue 10: expiry compared our clock with the holder's renewTime.
// Each side has its own FakeClock; ours is set far off the holder's.
TEST_CASE("lease_expiry_by_our_clock: a clock far ahead does not steal a live lease", "[lease_lock]") {
  FakeKubeClient kube;
  FakeClock holder_clock;
  FakeClock our_clock(holder_clock.Now() + 3h);
  LeaseLock holder(kube, holder_clock, Opts("node-1"));
  auto held = holder.TryAcquire();
  REQUIRE(*held);
  LeaseLock us(kube, our_clock, Opts("node-2"));
  for (int i = 0; i < 6; ++i) {  // the holder renews every 20 s of a 60 s TTL
    auto r = us.TryAcquire();
    REQUIRE(r);
    CHECK_FALSE(*r);
    holder_clock.Advance(20s);
    our_clock.Advance(20s);
    REQUIRE(holder.Renew(**held).ok());
  }
  CHECK(kube.leases.begin()->second["spec"]["holderIdentity"] == "node-1");
  // The holder dies: a full TTL of our own time after we saw its last renewal, we take over.
  REQUIRE_FALSE(*us.TryAcquire());
  our_clock.Advance(59s);
  REQUIRE_FALSE(*us.TryAcquire());
  our_clock.Advance(2s);
  auto r = us.TryAcquire();
  REQUIRE(r);
  REQUIRE(*r);
  CHECK((*r)->previous_holder == "node-1");
}

TEST_CASE("lease_expiry_by_our_clock: a clock far behind still takes over a dead holder", "[lease_lock]") {
  FakeKubeClient kube;
  FakeClock holder_clock;
  FakeClock our_clock(holder_clock.Now() - 3h);
  LeaseLock dead(kube, holder_clock, Opts("dead-node"));
  REQUIRE(*dead.TryAcquire());
  LeaseLock us(kube, our_clock, Opts("node-2"));
  REQUIRE_FALSE(*us.TryAcquire());
  our_clock.Advance(61s);
  auto r = us.TryAcquire();
  REQUIRE(r);
  REQUIRE(*r);
  CHECK((*r)->previous_holder == "dead-node");
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
