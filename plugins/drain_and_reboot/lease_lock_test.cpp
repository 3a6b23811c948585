#include "lease_lock.h"

#include <catch2/catch.hpp>

#include "fake_kube_client.h"
#include "host/fake_host.h"
#include "host/system_clock.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
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

/// node-1 takes the only slot with a day-long TTL: a live holder for the
/// whole of any test.
void LiveHolderForADay(FakeKubeClient& kube, Clock& clock) {
  LeaseLockOptions o = Opts("node-1");
  o.ttl = std::chrono::hours(24);
  LeaseLock holder(kube, clock, o);
  REQUIRE(*holder.TryAcquire());
}

/// The fake API server on a fake clock: a lease watch that sees nothing
/// lasts its whole duration (time jumps), so waits cost no real time.
struct FakeApiOnFakeClock {
  FakeKubeClient kube;
  FakeClock clock;
  FakeApiOnFakeClock() { kube.clock = &clock; }
};

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

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "Acquire waits, then times out naming the holders and leaves the queue", "[lease_lock]") {
  LeaseLock a(kube, clock, Opts("node-1"));
  REQUIRE(*a.TryAcquire());
  LeaseLock b(kube, clock, Opts("node-2"));
  int waits = 0;
  auto r = b.Acquire(5s, nullptr, [&](const std::vector<std::string>&) { ++waits; });
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == ErrorCode::kTimeout);
  CHECK(r.error().message().find("node-1") != std::string::npos);
  CHECK(waits >= 1);
  CHECK(kube.leases.size() == 1);  // node-2's ticket is gone again
}

namespace {

/// Another node's queue ticket, as its agent writes it (tests arrange a line).
void Enqueue(FakeKubeClient& kube, const std::string& node, const std::string& wanted_since = "") {
  nlohmann::json t = {{"apiVersion", "coordination.k8s.io/v1"},
                      {"kind", "Lease"},
                      {"metadata",
                       {{"name", "nodeagent-reboot-lock-queue-" + node},
                        {"namespace", "kube-system"},
                        {"labels", {{kLockLabel, "nodeagent-reboot-lock"}, {kLockRoleLabel, "queue"}}}}},
                      {"spec", {{"holderIdentity", node}, {"leaseDurationSeconds", 900}}}};
  if (!wanted_since.empty()) t["metadata"]["annotations"][kWantedSinceAnnotation] = wanted_since;
  REQUIRE(kube.CreateLease("kube-system", t).ok());
}

const nlohmann::json& Lease(FakeKubeClient& kube, const std::string& name) {
  return kube.leases.at("kube-system/" + name);
}

std::string Ann(const nlohmann::json& lease, const char* key) {
  return lease["metadata"].value("annotations", nlohmann::json::object()).value(key, "");
}

}  // namespace

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "fifo_queue: a node joining while another waits does not jump the line", "[lease_lock]") {
  LeaseLock a(kube, clock, Opts("node-1"));
  auto held = a.TryAcquire();
  REQUIRE(*held);
  Enqueue(kube, "node-2");  // waiting since before the slot frees
  std::optional<nlohmann::json> slot, ticket;
  std::optional<bool> passer_by_got;
  kube.on_lease_watch = [&](const std::string& lease) {
    if (lease != "nodeagent-reboot-lock-0" || slot) return;
    // As the releaser waits for node-2 to take the slot: what it wrote, and a
    // node passing by that tries its luck.
    slot = Lease(kube, "nodeagent-reboot-lock-0");
    ticket = Lease(kube, "nodeagent-reboot-lock-queue-node-2");
    LeaseLock passer_by(kube, clock, Opts("node-3"));
    auto r = passer_by.TryAcquire();
    passer_by_got = r && *r;
  };
  REQUIRE(a.Release((*held)->name).ok());
  REQUIRE(slot);
  CHECK((*slot)["spec"]["holderIdentity"] == "node-2");
  CHECK(Ann(*slot, kGrantedByAnnotation) == "node-1");
  CHECK((*slot)["spec"]["leaseDurationSeconds"] == 30);  // handoff_timeout until node-2 takes it
  CHECK(Ann(*ticket, kGrantedSlotAnnotation) == "nodeagent-reboot-lock-0");
  CHECK(Ann(*ticket, kGrantReadyAnnotation) == "true");
  CHECK(passer_by_got == false);
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "fifo_queue: the line counts from when a node started to want a slot, at most 10 min before its ticket",
                 "[lease_lock]") {
  // A node's plan can take long on a busy API server, and so can the write of
  // its ticket; the ticket says since when the node has wanted a slot. The
  // fake server creates objects one second apart (the slot is object 1).
  LeaseLock a(kube, clock, Opts("node-1"));
  auto held = a.TryAcquire();
  REQUIRE(*held);
  Enqueue(kube, "node-2");                                 // created 00:00:02, no claim: 2 s
  Enqueue(kube, "node-3", "2025-12-31T23:59:58.000000Z");  // created 00:00:03: -2 s
  Enqueue(kube, "node-4", "2025-12-31T23:40:00.000000Z");  // 00:00:04, kept to 10 min before: -596 s
  Enqueue(kube, "node-5", "2025-12-31T00:00:00.000000Z");  // 00:00:05, a day: kept to -595 s (else first)
  Enqueue(kube, "node-6", "not a time");                   // 00:00:06: 6 s
  Enqueue(kube, "node-7", "2026-01-01T01:00:00.000000Z");  // 00:00:07, in the future: kept to 7 s
  std::vector<std::string> served;
  bool taken = false;
  kube.on_lease_watch = [&](const std::string& lease) {
    // The releaser waits for the node it handed the slot to: that node takes it.
    if (lease != "nodeagent-reboot-lock-0" || taken) return;
    served.push_back(Lease(kube, lease)["spec"].value("holderIdentity", ""));
    LeaseLock taker(kube, clock, Opts(served.back()));
    auto r = taker.TryAcquire();
    taken = r && *r;
  };
  for (int i = 0; i < 6; ++i) {
    // Each holder gives the slot back at once (a stand-in for its cycle).
    const std::string from = i == 0 ? "node-1" : served.back();
    taken = false;
    LeaseLock releaser(kube, clock, Opts(from));
    REQUIRE(releaser.Release("nodeagent-reboot-lock-0").ok());
    REQUIRE(taken);
    kube.leases.erase("kube-system/nodeagent-reboot-lock-queue-" + served.back());  // out of the line
  }
  CHECK(served == std::vector<std::string>{"node-4", "node-5", "node-3", "node-2", "node-6", "node-7"});
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "fifo_queue: a joining node writes since when it has wanted a slot", "[lease_lock]") {
  LeaseLock a(kube, clock, Opts("node-1"));
  REQUIRE(*a.TryAcquire());
  LeaseLockOptions o = Opts("node-2");
  o.wanted_since = clock.Now() - 90s;
  LeaseLock b(kube, clock, o);
  std::string wanted;
  kube.on_lease_watch = [&](const std::string& lease) {
    if (lease == b.TicketName()) wanted = Ann(Lease(kube, lease), kWantedSinceAnnotation);
  };
  auto got = b.Acquire(1s, nullptr, nullptr);  // node-1 keeps the slot: times out
  CHECK_FALSE(got);
  CHECK(wanted == FormatMicroTime(*o.wanted_since));
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "fifo_queue: the node behind the one a slot is handed to is on deck", "[lease_lock]") {
  LeaseLock a(kube, clock, Opts("node-1"));
  auto held = a.TryAcquire();
  REQUIRE(*held);
  Enqueue(kube, "node-2");
  Enqueue(kube, "node-3");
  Enqueue(kube, "node-4");
  std::optional<nlohmann::json> second, third;
  kube.on_lease_watch = [&](const std::string& lease) {
    if (lease != "nodeagent-reboot-lock-0" || second) return;
    second = Lease(kube, "nodeagent-reboot-lock-queue-node-3");
    third = Lease(kube, "nodeagent-reboot-lock-queue-node-4");
  };
  REQUIRE(a.Release((*held)->name).ok());
  REQUIRE(second);
  CHECK(Ann(*second, kOnDeckAnnotation) == "true");
  CHECK(Ann(*third, kOnDeckAnnotation).empty());
}

TEST_CASE("fifo_queue: the node a slot is handed to takes it with the full TTL", "[lease_lock]") {
  FakeKubeClient kube;
  kube.watch_block = 200ms;
  SystemClock clock;
  LeaseLock a(kube, clock, Opts("node-1"));
  auto held = a.TryAcquire();
  REQUIRE(*held);
  LeaseLock b(kube, clock, Opts("node-2"));
  std::thread releaser([&] {
    // Once node-2 is in the queue, node-1 is done and gives the slot back.
    while (!kube.GetLease("kube-system", b.TicketName()).ok()) std::this_thread::sleep_for(5ms);
    (void)a.Release((*held)->name);
  });
  auto got = b.Acquire(1min, nullptr, nullptr);
  releaser.join();
  REQUIRE(got);
  CHECK(got->name == "nodeagent-reboot-lock-0");
  CHECK(got->granted_by == "node-1");
  const auto& slot = Lease(kube, "nodeagent-reboot-lock-0");
  CHECK(slot["spec"]["holderIdentity"] == "node-2");
  CHECK(slot["spec"]["leaseDurationSeconds"] == 60);
  CHECK(Ann(slot, kGrantedByAnnotation).empty());
  CHECK_FALSE(kube.leases.count("kube-system/" + b.TicketName()));  // out of the queue
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "fifo_queue: a grant not taken in time goes to the next node; the missed one keeps its place",
                 "[lease_lock]") {
  LeaseLock a(kube, clock, Opts("node-1"));
  auto held = a.TryAcquire();
  REQUIRE(*held);
  Enqueue(kube, "dead-node");
  Enqueue(kube, "node-3");
  LeaseLock c(kube, clock, Opts("node-3"));
  int watches_of_slot = 0;
  kube.on_lease_watch = [&](const std::string& lease) {
    if (lease != "nodeagent-reboot-lock-0") return;
    // The first grant (to dead-node) is never taken; node-3 takes the second.
    if (++watches_of_slot == 2) REQUIRE(*c.TryAcquire());
  };
  auto t0 = clock.Monotonic();
  REQUIRE(a.Release((*held)->name).ok());
  CHECK(clock.Monotonic() - t0 >= 30s);  // it waited the handoff timeout for dead-node
  CHECK(Lease(kube, "nodeagent-reboot-lock-0")["spec"]["holderIdentity"] == "node-3");
  const auto& dead = Lease(kube, "nodeagent-reboot-lock-queue-dead-node");
  CHECK(Ann(dead, kGrantMissedAnnotation) == "nodeagent-reboot-lock-0");
  CHECK(Ann(dead, kGrantedSlotAnnotation).empty());
  // dead-node's agent comes back: it is back in line, ahead of later arrivals.
  kube.on_lease_watch = nullptr;
  LeaseLock back(kube, clock, Opts("dead-node"));
  auto r = back.Acquire(1s, nullptr, nullptr);  // one look: renews its ticket, clearing the miss
  CHECK_FALSE(r);
  CHECK_FALSE(kube.leases.count("kube-system/nodeagent-reboot-lock-queue-dead-node"));  // a timeout leaves the queue
}

TEST_CASE("fifo_queue: a dead holder's slot goes to the head of the line, with one takeover", "[lease_lock]") {
  FakeKubeClient kube;
  FakeClock clock;
  std::vector<std::string> takeovers;
  LeaseLockHooks hooks;
  hooks.taken_over = [&](const std::string& slot, const std::string& previous, const std::string&,
                         const std::string& to) { takeovers.push_back(slot + " " + previous + " -> " + to); };
  LeaseLock dead(kube, clock, Opts("dead-node"));
  REQUIRE(*dead.TryAcquire());
  Enqueue(kube, "head");  // waiting longest, asleep on its watch (joined an hour before)
  kube.leases.at("kube-system/nodeagent-reboot-lock-queue-head")["metadata"]["creationTimestamp"] =
      "2025-12-31T23:00:00Z";
  LeaseLock late(kube, clock, Opts("late"), hooks);
  Enqueue(kube, "late");
  REQUIRE_FALSE(*late.TryAcquire());  // first sight of the holder's record
  clock.Advance(61s);
  auto r = late.TryAcquire();
  REQUIRE(r);
  CHECK_FALSE(*r);  // not its turn: the head gets it
  CHECK(Lease(kube, "nodeagent-reboot-lock-0")["spec"]["holderIdentity"] == "head");
  REQUIRE(takeovers.size() == 1);
  CHECK(takeovers[0] == "nodeagent-reboot-lock-0 dead-node -> head");
}

TEST_CASE_METHOD(FakeApiOnFakeClock, "fifo_queue: a waiting node costs about one request a minute", "[lease_lock]") {
  LiveHolderForADay(kube, clock);  // a live holder for the whole test
  const int writes0 = kube.lease_writes, lists0 = kube.lease_lists, watches0 = kube.lease_watches;
  LeaseLock b(kube, clock, Opts("node-2"));
  auto r = b.Acquire(60min, nullptr, nullptr);
  REQUIRE_FALSE(r);
  const int requests = (kube.lease_writes - writes0) + (kube.lease_lists - lists0) + (kube.lease_watches - watches0);
  INFO("lease requests of a node waiting 60 minutes: " << requests);
  CHECK(requests <= 60 + 3);  // the join, the leave, and at most one a minute between
  CHECK(requests >= 10);      // it does look now and then
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "fifo_queue: a free slot is handed to a sleeping node ahead, not waited on every second",
                 "[lease_lock]") {
  // Ordered by wanted-since, a node ahead in line may have joined after us. It
  // looked right after joining and sleeps on its watch now, so a waiter that
  // finds a slot free must hand it over rather than leave it to that node and
  // look again every second (at N = 1000 that polling, two LISTs a second per
  // waiter, took the API server down).
  LiveHolderForADay(kube, clock);
  LeaseLock b(kube, clock, Opts("node-3"));
  bool set_up = false;
  kube.on_lease_watch = [&](const std::string& lease) {
    if (set_up || lease != b.TicketName()) return;
    set_up = true;
    Enqueue(kube, "node-2", "2026-01-01T00:00:00.000000Z");  // joined after node-3 (00:00:02), wanted before: ahead
    clock.Advance(20s);                // node-2 has looked and sleeps now
    kube.leases.erase("kube-system/nodeagent-reboot-lock-0");  // node-1 gave it back without a handoff
  };
  const int lists0 = kube.lease_lists;
  auto r = b.Acquire(10min, nullptr, nullptr);
  REQUIRE(set_up);
  const int lists = kube.lease_lists - lists0;
  INFO("lease LISTs of node-3 over 10 minutes: " << lists);
  CHECK(lists <= 30);
  // node-2 was handed the slot first (it never took it: a stand-in that does not act).
  bool handed_to_node_2 = false;
  for (const auto& m : kube.mutations()) handed_to_node_2 = handed_to_node_2 || m == "kube:leases/kube-system/nodeagent-reboot-lock-queue-node-2";
  CHECK(handed_to_node_2);
}

namespace {

/// A slot Lease of the default lock, labelled as the lock writes it, held by
/// `holder` ("" for none) with `spec` merged in.
nlohmann::json SlotLease(const std::string& slot, const std::string& holder, const nlohmann::json& spec = {}) {
  nlohmann::json l = {{"apiVersion", "coordination.k8s.io/v1"},
                      {"kind", "Lease"},
                      {"metadata",
                       {{"name", slot},
                        {"namespace", "kube-system"},
                        {"labels", {{kLockLabel, "nodeagent-reboot-lock"}, {kLockRoleLabel, "slot"}}}}},
                      {"spec", {{"holderIdentity", holder}}}};
  if (spec.is_object()) l["spec"].update(spec);
  return l;
}

/// A slot as Grant writes it: handed by `by` to `to`, not taken yet.
void GrantedSlot(FakeKubeClient& kube, const std::string& slot, const std::string& to, const std::string& by) {
  nlohmann::json l = SlotLease(slot, to, {{"leaseDurationSeconds", 30}});
  l["metadata"]["annotations"][kGrantedByAnnotation] = by;
  REQUIRE(kube.CreateLease("kube-system", l).ok());
}

void MarkGranted(FakeKubeClient& kube, const std::string& node, const std::string& slot) {
  auto t = kube.GetLease("kube-system", "nodeagent-reboot-lock-queue-" + node);
  REQUIRE(t.ok());
  (*t)["metadata"]["annotations"][kGrantedSlotAnnotation] = slot;
  REQUIRE(kube.UpdateLease("kube-system", *t).ok());
}

/// `lock` waits 8 s for a slot it does not get; from `lists_from` (the lease
/// LIST count, read once the test's "meanwhile" has happened) it may have
/// looked (two LISTs each) at most at first, twice quickly, and at the deadline.
void WaitsEightSecondsLookingFewTimes(FakeKubeClient& kube, LeaseLock& lock, const int& lists_from) {
  auto r = lock.Acquire(8s, nullptr, nullptr);
  CHECK_FALSE(r);
  const int lists = kube.lease_lists - lists_from;
  INFO("lease LISTs in the 8 s: " << lists);
  CHECK(lists <= 2 * (1 + 2 + 1));
}

}  // namespace

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "free_slot_sweep: a node far back in line hands a free slot to the sleeping head", "[lease_lock]") {
  // In a burst, a slot nobody gave back (never created, or lost in a race)
  // sat free for minutes: the nodes at the front slept until their recheck,
  // and the nodes that looked stood too far back to act on it.
  LiveHolderForADay(kube, clock);  // slot 0; slot 1 was never created
  Enqueue(kube, "node-2");
  Enqueue(kube, "node-3");
  Enqueue(kube, "node-4");
  clock.Advance(60s);  // they looked when they joined, and sleep now
  LeaseLock looker(kube, clock, Opts("node-9", 2));
  auto r = looker.TryAcquire();
  REQUIRE(r);
  CHECK_FALSE(*r);  // third in line behind the one free slot: not ours
  const auto& slot = Lease(kube, "nodeagent-reboot-lock-1");
  CHECK(slot["spec"]["holderIdentity"] == "node-2");
  CHECK(Ann(slot, kGrantedByAnnotation) == "node-9");
  const auto& head = Lease(kube, "nodeagent-reboot-lock-queue-node-2");
  CHECK(Ann(head, kGrantedSlotAnnotation) == "nodeagent-reboot-lock-1");
  CHECK(Ann(head, kGrantReadyAnnotation) == "true");
  CHECK(Ann(Lease(kube, "nodeagent-reboot-lock-queue-node-3"), kGrantedSlotAnnotation).empty());
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "free_slot_sweep: a node giving its slot back hands on the free and orphaned slots too",
                 "[lease_lock]") {
  LeaseLock a(kube, clock, Opts("node-1", 4));
  auto held = a.TryAcquire();
  REQUIRE(*held);
  REQUIRE((*held)->name == "nodeagent-reboot-lock-0");
  Enqueue(kube, "node-2");
  Enqueue(kube, "node-3");
  Enqueue(kube, "node-4");
  Enqueue(kube, "node-6");
  // Slot 1: handed to node-5, which took another slot and left the line.
  GrantedSlot(kube, "nodeagent-reboot-lock-1", "node-5", "node-7");
  // Slot 2: never created. Slot 3: being handed to node-6 right now.
  GrantedSlot(kube, "nodeagent-reboot-lock-3", "node-6", "node-8");
  MarkGranted(kube, "node-6", "nodeagent-reboot-lock-3");
  std::map<std::string, nlohmann::json> seen;
  kube.on_lease_watch = [&](const std::string& lease) {
    // As node-1 waits for the node it handed its own slot to.
    if (lease != "nodeagent-reboot-lock-0" || !seen.empty()) return;
    for (const auto& [key, l] : kube.LeasesNow()) seen[l["metadata"].value("name", "")] = l;
  };
  REQUIRE(a.Release("nodeagent-reboot-lock-0").ok());
  REQUIRE_FALSE(seen.empty());
  CHECK(seen["nodeagent-reboot-lock-0"]["spec"]["holderIdentity"] == "node-2");
  CHECK(seen["nodeagent-reboot-lock-1"]["spec"]["holderIdentity"] == "node-3");
  CHECK(Ann(seen["nodeagent-reboot-lock-1"], kGrantedByAnnotation) == "node-1");
  CHECK(seen["nodeagent-reboot-lock-2"]["spec"]["holderIdentity"] == "node-4");
  CHECK(Ann(seen["nodeagent-reboot-lock-queue-node-3"], kGrantReadyAnnotation) == "true");
  CHECK(Ann(seen["nodeagent-reboot-lock-queue-node-4"], kGrantReadyAnnotation) == "true");
  // A hand-over in progress is left alone.
  CHECK(seen["nodeagent-reboot-lock-3"]["spec"]["holderIdentity"] == "node-6");
  CHECK(Ann(seen["nodeagent-reboot-lock-3"], kGrantedByAnnotation) == "node-8");
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "free_slot_sweep: a spare slot is offered to one node, not walked down the line", "[lease_lock]") {
  // Measured at N = 1000: releasers whose view of the line was a second old
  // walked it handing spare slots to nodes that other releasers had served
  // meanwhile, 30 conflicting writes each.
  LeaseLock a(kube, clock, Opts("node-1", 3));
  auto held = a.TryAcquire();
  REQUIRE(*held);
  for (const char* n : {"node-2", "node-3", "node-4", "node-5", "node-6"}) Enqueue(kube, n);
  int updates = 0;
  kube.before_update_lease = [&] {
    // node-1 has handed its own slot to node-2 (mark, slot, ready); as it
    // puts node-3 on deck, node-3 to node-6 are served by someone else.
    if (++updates == 4)
      for (const char* n : {"node-3", "node-4", "node-5", "node-6"})
        kube.leases.erase(std::string("kube-system/nodeagent-reboot-lock-queue-") + n);
  };
  const size_t before = kube.mutations().size();
  REQUIRE(a.Release("nodeagent-reboot-lock-0").ok());
  const auto m = kube.mutations();
  int offers_beyond_the_first = 0;
  for (size_t i = before; i < m.size(); ++i)
    for (const char* n : {"node-4", "node-5", "node-6"})
      if (m[i] == std::string("kube:leases/kube-system/nodeagent-reboot-lock-queue-") + n) ++offers_beyond_the_first;
  CHECK(offers_beyond_the_first == 0);
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "free_slot_sweep: a waiter leaving a free slot to a node ahead that looks itself looks again at most "
                 "twice in a row",
                 "[lease_lock]") {
  // node-3 joins; as it reads the slots, node-2 joins, ahead of it by
  // wanted-since, and so is looking itself. The only slot is free, and
  // node-2, a stand-in, never takes it. Before, node-3 looked (two LISTs)
  // every second for as long as node-2 counted as looking.
  LeaseLock b(kube, clock, Opts("node-3"));
  bool set_up = false, in_hook = false;
  int lists_at_setup = 0;
  kube.before_get_lease = [&] {  // before each lease read, GET or LIST
    if (set_up || in_hook) return;
    in_hook = true;
    const bool joined = kube.GetLease("kube-system", b.TicketName()).ok();
    in_hook = false;
    if (!joined) return;
    set_up = true;
    lists_at_setup = kube.lease_lists;
    Enqueue(kube, "node-2", "2026-01-01T00:00:00.000000Z");
  };
  WaitsEightSecondsLookingFewTimes(kube, b, lists_at_setup);  // the slot stays node-2's
  CHECK(set_up);
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "free_slot_sweep: a waiter that keeps losing the race for a slot looks again at most twice in a row",
                 "[lease_lock]") {
  // At the start of a burst every slot is free and every node near the front
  // races for them on views seconds old. Before, a lost race was looked at
  // again at once five times, then every second, for as long as it was lost.
  REQUIRE(kube.CreateLease("kube-system", SlotLease("nodeagent-reboot-lock-0", "")).ok());
  kube.conflicts_to_inject = 1000;  // every update loses (the ticket is only created)
  LeaseLock b(kube, clock, Opts("node-2"));
  const int lists0 = kube.lease_lists;
  WaitsEightSecondsLookingFewTimes(kube, b, lists0);
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "free_slot_sweep: a grant that arrives as the waiter renews its ticket is taken at once",
                 "[lease_lock]") {
  // Seen at N = 1000: a releaser handed a slot to a node between that node's
  // look at the slots and its ticket's renewal. The renewal (409, GET, write)
  // read the grant-ready mark back, the watch then waited for a change that
  // had already come, the grant lapsed, and the node stayed out of the line
  // (its ticket marked) for six minutes.
  LiveHolderForADay(kube, clock);
  LeaseLockOptions o = Opts("node-2");
  o.ticket_ttl = 30s;  // renewed at the look after 10 s
  o.recheck = 20s;
  LeaseLock b(kube, clock, o);
  bool granted = false, in_hook = false;
  std::optional<std::chrono::steady_clock::time_point> granted_at;
  kube.before_update_lease = [&] {
    // node-2's first write after joining is its ticket's renewal: just
    // before it, node-1 hands the slot over (mark, slot, ready).
    if (granted || in_hook || !kube.GetLease("kube-system", b.TicketName()).ok()) return;
    in_hook = granted = true;
    auto slot = kube.GetLease("kube-system", "nodeagent-reboot-lock-0");
    REQUIRE(slot.ok());
    (*slot)["spec"]["holderIdentity"] = "node-2";
    (*slot)["spec"]["leaseDurationSeconds"] = 30;
    (*slot)["metadata"]["annotations"][kGrantedByAnnotation] = "node-1";
    REQUIRE(kube.UpdateLease("kube-system", *slot).ok());
    auto t = kube.GetLease("kube-system", b.TicketName());
    (*t)["metadata"]["annotations"][kGrantedSlotAnnotation] = "nodeagent-reboot-lock-0";
    (*t)["metadata"]["annotations"][kGrantReadyAnnotation] = "true";
    REQUIRE(kube.UpdateLease("kube-system", *t).ok());
    granted_at = clock.Monotonic();
    in_hook = false;
  };
  auto r = b.Acquire(10min, nullptr, nullptr);
  REQUIRE(granted);
  REQUIRE(r);
  CHECK(r->name == "nodeagent-reboot-lock-0");
  CHECK(r->granted_by == "node-1");
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock.Monotonic() - *granted_at);
  INFO("taken " << took.count() << " ms after the grant (its handoff_timeout is 30 s)");
  CHECK(took < 5s);
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "free_slot_sweep: a grant mark whose slot never comes is dropped after the handoff timeout",
                 "[lease_lock]") {
  // Releasers skip a ticket being served, so a mark whose slot went
  // elsewhere keeps the node out of the line until the node drops it: after
  // handoff_timeout, not at a recheck minutes later.
  LiveHolderForADay(kube, clock);
  LeaseLock b(kube, clock, Opts("node-2"));
  bool marked = false, in_hook = false;
  std::optional<std::chrono::steady_clock::time_point> marked_at, dropped_at;
  auto look = [&] {
    if (in_hook) return;
    in_hook = true;
    auto t = kube.GetLease("kube-system", b.TicketName());
    if (t.ok() && !marked) {
      // A granter marked node-2 and then lost the slot to another writer.
      marked = true;
      (*t)["metadata"]["annotations"][kGrantedSlotAnnotation] = "nodeagent-reboot-lock-0";
      (*t)["metadata"]["annotations"][kGrantReadyAnnotation] = "true";
      REQUIRE(kube.UpdateLease("kube-system", *t).ok());
      marked_at = clock.Monotonic();
    } else if (t.ok() && marked && !dropped_at && Ann(*t, kGrantedSlotAnnotation).empty()) {
      dropped_at = clock.Monotonic();
    }
    in_hook = false;
  };
  kube.before_get_lease = look;                              // each read of the lock's leases
  kube.on_lease_watch = [&](const std::string&) { look(); };  // and each wait after a look
  auto r = b.Acquire(10min, nullptr, nullptr);  // node-1 keeps the slot
  CHECK_FALSE(r);
  REQUIRE(marked);
  REQUIRE(dropped_at);
  const auto took = std::chrono::duration_cast<std::chrono::seconds>(*dropped_at - *marked_at);
  INFO("the mark was dropped " << took.count() << " s after it was made (handoff_timeout 30 s, recheck 4 min)");
  CHECK(took <= 40s);
}

TEST_CASE("fifo_queue: many nodes, few slots: never more holders than slots, served in arrival order",
          "[lease_lock]") {
  FakeKubeClient kube;
  kube.watch_block = 200ms;
  SystemClock clock;
  constexpr int kSlots = 2, kNodes = 8;
  std::mutex mu;
  std::condition_variable cv;
  int holding = 0, max_holding = 0, arrived = 0;
  std::vector<std::string> served, failures;  // Catch2 asserts on this thread only
  std::vector<std::thread> threads;
  for (int i = 0; i < kNodes; ++i) {
    threads.emplace_back([&, i] {
      LeaseLockOptions o = Opts("node-" + std::to_string(i), kSlots);
      o.handoff_timeout = 10s;
      LeaseLock lock(kube, clock, o);
      {
        // Arrive one after the other, so that the arrival order is known.
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return arrived == i; });
      }
      auto got = [&] {
        if (i < kSlots) return lock.Acquire(1min, nullptr, nullptr);
        // Signal arrival once the ticket exists (in the queue).
        std::thread signal([&] {
          for (;;) {
            {
              std::lock_guard<std::mutex> l(mu);
              bool in = false;
              {
                auto r = kube.GetLease("kube-system", lock.TicketName());
                in = r.ok();
              }
              if (in || std::find(served.begin(), served.end(), "node-" + std::to_string(i)) != served.end()) {
                ++arrived;
                cv.notify_all();
                return;
              }
            }
            std::this_thread::sleep_for(5ms);
          }
        });
        auto r = lock.Acquire(1min, nullptr, nullptr);
        signal.join();
        return r;
      }();
      if (!got) {
        std::lock_guard<std::mutex> l(mu);
        failures.push_back("node-" + std::to_string(i) + ": " + got.error().message());
        ++arrived;
        cv.notify_all();
        return;
      }
      {
        std::lock_guard<std::mutex> l(mu);
        if (i < kSlots) {
          ++arrived;
          cv.notify_all();
        }
        served.push_back("node-" + std::to_string(i));
        max_holding = std::max(max_holding, ++holding);
      }
      std::this_thread::sleep_for(20ms);  // the drain and reboot
      {
        std::lock_guard<std::mutex> l(mu);
        --holding;
      }
      if (Status st = lock.Release(got->name); !st.ok()) {
        std::lock_guard<std::mutex> l(mu);
        failures.push_back("node-" + std::to_string(i) + " release: " + st.error().message());
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == std::vector<std::string>{});
  CHECK(max_holding <= kSlots);
  REQUIRE(served.size() == kNodes);
  // The first kSlots took free slots; the rest were served in arrival order,
  // up to slots handed over at the same moment (two releasers granting to
  // the two oldest tickets may see them take their slots in either order).
  for (int i = 0; i < kNodes; ++i) {
    for (int j = i + 1; j < kNodes; ++j) {
      auto pi = std::find(served.begin(), served.end(), "node-" + std::to_string(i));
      auto pj = std::find(served.begin(), served.end(), "node-" + std::to_string(j));
      INFO("node-" << j << " was served before node-" << i << ", which arrived earlier");
      if (pj < pi) CHECK(j - i < kSlots);
    }
  }
  CHECK(kube.leases.empty());  // every slot given back, every ticket gone
}

TEST_CASE("renew_on_own_write: a renewal writes on top of our last write without reading the lease first",
          "[lease_lock]") {
  FakeKubeClient kube;
  FakeClock clock;
  LeaseLock a(kube, clock, Opts("node-1"));
  auto held = a.TryAcquire();
  REQUIRE(*held);
  int reads = 0;
  kube.before_get_lease = [&] { ++reads; };
  REQUIRE(a.Renew(**held).ok());
  REQUIRE(a.Renew(**held).ok());
  CHECK(reads == 0);
  // Someone else writes it (an annotation by an operator): the next renewal
  // fails its precondition, reads the lease, and renews what it read.
  nlohmann::json edited = Lease(kube, "nodeagent-reboot-lock-0");
  edited["metadata"]["annotations"]["example.com/note"] = "kept";
  REQUIRE(kube.UpdateLease("kube-system", edited).ok());
  const int writes = kube.lease_writes;
  REQUIRE(a.Renew(**held).ok());
  CHECK(reads == 1);
  CHECK(kube.lease_writes == writes + 2);  // the refused write and the one on top of what it read
  CHECK(Ann(Lease(kube, "nodeagent-reboot-lock-0"), "example.com/note") == "kept");
  // Taken by another node meanwhile: no longer ours.
  nlohmann::json stolen = Lease(kube, "nodeagent-reboot-lock-0");
  stolen["spec"]["holderIdentity"] = "node-9";
  REQUIRE(kube.UpdateLease("kube-system", stolen).ok());
  Status st = a.Renew(**held);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code() == ErrorCode::kConflict);
  CHECK(Lease(kube, "nodeagent-reboot-lock-0")["spec"]["holderIdentity"] == "node-9");
}

namespace {

/// Marks `node`'s ticket on deck, as a releaser does.
void PutOnDeck(FakeKubeClient& kube, const std::string& node) {
  nlohmann::json t = Lease(kube, "nodeagent-reboot-lock-queue-" + node);
  t["metadata"]["annotations"][kOnDeckAnnotation] = "true";
  REQUIRE(kube.UpdateLease("kube-system", t).ok());
}

}  // namespace

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "on_deck: the node next in line keeps waiting on a new watch, without a read, and looks by lock_ttl/2",
                 "[lease_lock]") {
  LiveHolderForADay(kube, clock);  // a live holder: nothing the node on deck saw can expire
  LeaseLock b(kube, clock, Opts("node-2"));
  struct Start {
    int lists;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<Start> watches;
  kube.on_lease_watch = [&](const std::string& lease) {
    if (lease != b.TicketName()) return;
    watches.push_back({kube.lease_lists, clock.Monotonic()});
    if (watches.size() == 1) PutOnDeck(kube, "node-2");
  };
  auto r = b.Acquire(5min, nullptr, nullptr);
  REQUIRE_FALSE(r);
  REQUIRE(watches.size() >= 3);
  CHECK(watches[1].lists == watches[0].lists);  // on deck: a new watch, no LIST
  CHECK(watches[2].lists == watches[1].lists + 1);  // then a look at the slots...
  CHECK(watches[2].at - watches[1].at <= 37500ms + 1s);  // ...by lock_ttl/2 (60 s TTL, jittered 25%)
  CHECK(watches[2].at - watches[1].at >= 22500ms);
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "on_deck: the node next in line looks at once when a slot it saw may have expired, and takes it over",
                 "[lease_lock]") {
  LeaseLock dead(kube, clock, Opts("dead-node"));  // 60 s TTL, never renewed
  REQUIRE(*dead.TryAcquire());
  LeaseLock b(kube, clock, Opts("node-2"));
  int watches = 0;
  kube.on_lease_watch = [&](const std::string& lease) {
    if (lease != b.TicketName() || ++watches > 1) return;
    clock.Advance(61s);  // the holder's record has not changed since node-2 first saw it
    PutOnDeck(kube, "node-2");
  };
  auto r = b.Acquire(5min, nullptr, nullptr);
  REQUIRE(r);
  CHECK(watches == 1);
  CHECK(r->previous_holder == "dead-node");
  CHECK(Lease(kube, "nodeagent-reboot-lock-0")["spec"]["holderIdentity"] == "node-2");
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "watch_resume: the next watch of a waiting node starts where the last one got to, not at its old ticket",
                 "[lease_lock]") {
  // A ticket nobody writes keeps its resourceVersion for minutes; the server
  // keeps only a window of history, so a watch from it would be answered
  // 410 Gone and cost a relist. The bookmarks say how far the watch got.
  LiveHolderForADay(kube, clock);
  LeaseLockOptions o = Opts("node-2");
  o.ticket_ttl = 2h;  // no renewal of the ticket in the test's 6 minutes
  LeaseLock b(kube, clock, o);
  kube.on_lease_watch = [&](const std::string& lease) {
    if (lease == b.TicketName()) kube.lease_watch_bookmark = "999999";
  };
  auto r = b.Acquire(6min, nullptr, nullptr);
  REQUIRE_FALSE(r);
  REQUIRE(kube.lease_watch_from.size() >= 2);
  CHECK(kube.lease_watch_from[0] != "999999");  // the first: from the ticket it just wrote
  CHECK(kube.lease_watch_from[1] == "999999");
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "ticket_renewal: a waiting node renews its ticket on top of what it last wrote or watched, without a read",
                 "[lease_lock]") {
  LiveHolderForADay(kube, clock);
  LeaseLockOptions o = Opts("node-2");
  o.ticket_ttl = 3min;  // due at every look (a third of it: 1 min)
  LeaseLock b(kube, clock, o);
  int reads = 0;  // GETs and LISTs
  kube.before_get_lease = [&] { ++reads; };
  const int writes0 = kube.lease_writes, lists0 = kube.lease_lists;
  auto r = b.Acquire(20min, nullptr, nullptr);
  REQUIRE_FALSE(r);
  INFO("ticket writes: " << kube.lease_writes - writes0);
  CHECK(kube.lease_writes - writes0 >= 3);  // its create and renewals at its looks
  CHECK(reads - (kube.lease_lists - lists0) == 0);  // no GET
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "one_snapshot: a node holding a slot that has not yet left the line is not ahead of anyone",
                 "[lease_lock]") {
  // A node takes its slot, then deletes its ticket. In between, a look saw
  // it in line ahead and handed it the free slot, which it never took; the
  // slot sat idle for the handoff timeout. Measured in the N = 1000 burst,
  // where the slots and the line were read by two LISTs a second apart.
  LeaseLock a(kube, clock, Opts("node-1", 2));
  REQUIRE(*a.TryAcquire());  // slot 0
  Enqueue(kube, "node-1");   // its ticket, not yet deleted
  clock.Advance(60s);
  LeaseLock looker(kube, clock, Opts("node-9", 2));
  auto r = looker.TryAcquire();
  REQUIRE(r);
  REQUIRE(*r);
  CHECK((*r)->name == "nodeagent-reboot-lock-1");
  CHECK(Ann(Lease(kube, "nodeagent-reboot-lock-queue-node-1"), kGrantedSlotAnnotation).empty());
}

TEST_CASE_METHOD(FakeApiOnFakeClock, "one_snapshot: a node giving its slot back reads the slots and the line in one LIST",
                 "[lease_lock]") {
  LeaseLock a(kube, clock, Opts("node-1", 2));
  REQUIRE(*a.TryAcquire());
  Enqueue(kube, "node-2");
  const int lists0 = kube.lease_lists;
  int lists_before_handing_over = -1;
  std::string handed_to;
  kube.on_lease_watch = [&](const std::string&) {  // as node-1 waits for node-2 to take it
    if (lists_before_handing_over >= 0) return;
    lists_before_handing_over = kube.lease_lists - lists0;
    handed_to = kube.GetLease("kube-system", "nodeagent-reboot-lock-0")->value("/spec/holderIdentity"_json_pointer, "");
  };
  REQUIRE(a.Release("nodeagent-reboot-lock-0").ok());
  CHECK(lists_before_handing_over == 1);
  CHECK(handed_to == "node-2");
}

TEST_CASE_METHOD(FakeApiOnFakeClock,
                 "one_snapshot: a free slot is decided on the slots and the line read together", "[lease_lock]") {
  // The looker sees slot 1 free; before it reads the line, node-2 (first in
  // line) takes slot 1 and deletes its ticket. Read a second apart, the line
  // without node-2 and the slots with slot 1 free made the looker count the
  // slot as its own and lose a create to node-2.
  LiveHolderForADay(kube, clock);  // node-1, slot 0
  Enqueue(kube, "node-2");
  clock.Advance(60s);
  LeaseLock looker(kube, clock, Opts("node-9", 2));
  const int lists0 = kube.lease_lists;
  bool taken = false;
  kube.before_get_lease = [&] {
    if (taken || kube.lease_lists - lists0 != 1) return;  // before the second LIST only
    taken = true;
    REQUIRE(kube.CreateLease("kube-system", SlotLease("nodeagent-reboot-lock-1", "node-2",
                                                       {{"leaseDurationSeconds", 60},
                                                        {"renewTime", FormatMicroTime(clock.Now())}}))
                .ok());
    kube.leases.erase("kube-system/nodeagent-reboot-lock-queue-node-2");
  };
  const int writes0 = kube.lease_writes;
  auto r = looker.TryAcquire();
  REQUIRE(r);
  CHECK_FALSE(*r);
  CHECK(kube.lease_lists - lists0 == 2);
  CHECK(kube.lease_writes - writes0 == 1);  // node-2's take only: no lost create by the looker
}
