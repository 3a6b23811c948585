#include "kube/token_bucket.h"

#include <catch2/catch.hpp>

#include "host/fake_host.h"

using namespace nodeagent;
using namespace nodeagent::kube;
using namespace std::chrono_literals;

TEST_CASE("token bucket: burst at once, then qps") {
  FakeClock clock;
  TokenBucket b(10, 3, clock);  // 10/s: one token per 100 ms
  CHECK(b.Reserve() == 0ms);
  CHECK(b.Reserve() == 0ms);
  CHECK(b.Reserve() == 0ms);
  CHECK(b.Reserve() == 100ms);
  CHECK(b.Reserve() == 200ms);  // queued behind the previous reservation
  clock.Advance(200ms);         // pays the debt of both
  CHECK(b.Reserve() == 100ms);
  clock.Advance(400ms);         // that one, and 3 more
  CHECK(b.Reserve() == 0ms);
  clock.Advance(10s);           // refills only up to burst
  CHECK(b.Reserve() == 0ms);
  CHECK(b.Reserve() == 0ms);
  CHECK(b.Reserve() == 0ms);
  CHECK(b.Reserve() == 100ms);
}

TEST_CASE("token bucket: Acquire sleeps on the clock") {
  FakeClock clock;
  TokenBucket b(50, 100, clock);
  auto start = clock.Monotonic();
  for (int i = 0; i < 150; ++i) REQUIRE(b.Acquire());
  // 100 at once, 50 more at 50/s.
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock.Monotonic() - start);
  CHECK(waited >= 990ms);
  CHECK(waited <= 1010ms);
}

TEST_CASE("token bucket: disabled and degenerate settings") {
  FakeClock clock;
  TokenBucket off(0, 0, clock);
  for (int i = 0; i < 1000; ++i) REQUIRE(off.Reserve() == 0ms);
  TokenBucket one(2, 0, clock);  // burst < 1 means 1
  CHECK(one.Reserve() == 0ms);
  CHECK(one.Reserve() == 500ms);
}
