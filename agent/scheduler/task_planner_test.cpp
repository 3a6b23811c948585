#include "scheduler/task_planner.h"

#include <catch2/catch.hpp>

#include <set>

#include "scheduler/jitter.h"
#include "scheduler/test_support.h"

using namespace nodeagent;
using namespace std::chrono_literals;

namespace {

TaskSchedule Task(std::string name, const char* spec, std::chrono::milliseconds jitter = 0ms,
                  const char* window = nullptr, bool catch_up = false) {
  auto s = Schedule::Parse(spec);
  if (!s) throw std::runtime_error(s.error().ToString());
  TaskSchedule t{std::move(name), *s, jitter, std::nullopt, catch_up};
  if (window) {
    auto w = MaintenanceWindow::Parse(window, TimeZone::Utc(), nullptr);
    if (!w) throw std::runtime_error(w.error().ToString());
    t.window = *w;
  }
  return t;
}

PlanInput Input(TimePoint now, TimePoint started_at) {
  PlanInput in;
  in.now = now;
  in.started_at = started_at;
  in.boot_id = "boot-2";
  return in;
}

const TaskPlan& Find(const SchedulePlan& plan, const std::string& name) {
  for (const TaskPlan& t : plan.tasks) {
    if (t.name == name) return t;
  }
  throw std::runtime_error("no task " + name);
}

}  // namespace

TEST_CASE("Jitter is deterministic and stays below its maximum") {
  const TimePoint due = Utc(2026, 1, 1, 3);
  CHECK(Jitter("logs", "node-a", due, 0ms) == 0ms);
  CHECK(Jitter("logs", "node-a", due, -5ms) == 0ms);
  CHECK(Jitter("logs", "node-a", due, 10min) == Jitter("logs", "node-a", due, 10min));
  std::set<int64_t> seen;
  for (int n = 0; n < 500; ++n) {
    auto j = Jitter("logs", "node-" + std::to_string(n), due, 10min);
    CHECK(j >= 0ms);
    CHECK(j < 10min);
    seen.insert(j.count());
  }
  CHECK(seen.size() > 490);  // nodes spread out
  // A different due time or task gives a different offset for the same node.
  CHECK(Jitter("logs", "node-a", due, 1h) != Jitter("logs", "node-a", due + 24h, 1h));
  CHECK(Jitter("logs", "node-a", due, 1h) != Jitter("images", "node-a", due, 1h));
  // Spread is roughly uniform: each tenth of the range gets some nodes.
  int buckets[10] = {};
  for (int n = 0; n < 1000; ++n) ++buckets[Jitter("t", "n" + std::to_string(n), due, 1000ms).count() / 100];
  for (int b : buckets) CHECK(b > 50);
}

TEST_CASE("TaskPlanner: scheduled runs and history anchors and the wake-up time") {
  TaskPlanner planner({Task("daily", "0 3 * * *"), Task("hourly", "@hourly"), Task("never", "0 0 30 2 *")},
                      TimeZone::Utc(), "node-a");
  const TimePoint started = Utc(2026, 1, 1, 10);
  PlanInput in = Input(Utc(2026, 1, 1, 10, 30), started);
  in.history["daily"].last_run = Utc(2026, 1, 1, 3);
  SchedulePlan plan = planner.Compute(in);
  REQUIRE(plan.tasks.size() == 3);
  CHECK(Iso(Find(plan, "daily").next_due) == "2026-01-02T03:00:00Z");
  CHECK(Iso(Find(plan, "hourly").next_due) == "2026-01-01T11:00:00Z");  // never ran: anchored at the start
  CHECK(Iso(Find(plan, "never").next_due) == "never");
  CHECK(Iso(plan.wake_at) == "2026-01-01T11:00:00Z");
  CHECK(plan.DueNow().empty());

  // Woken at the due time: due now, and still due a little later (no drift).
  for (TimePoint now : {Utc(2026, 1, 1, 11), Utc(2026, 1, 1, 11, 0, 5)}) {
    in.now = now;
    plan = planner.Compute(in);
    CHECK(plan.DueNow() == std::vector<std::string>{"hourly"});
    CHECK(Find(plan, "hourly").reason == DueReason::kScheduled);
    CHECK(plan.wake_at == now);
  }
  in.now = Utc(2026, 1, 1, 10, 59, 59);
  CHECK(planner.Compute(in).DueNow().empty());

  // After the run is recorded, the next hour.
  in.now = Utc(2026, 1, 1, 11, 0, 7);
  in.history["hourly"].last_run = in.now;
  plan = planner.Compute(in);
  CHECK(plan.DueNow().empty());
  CHECK(Iso(plan.wake_at) == "2026-01-01T12:00:00Z");
}

TEST_CASE("TaskPlanner: a run missed while down is caught up once or skipped") {
  const TimePoint last = Utc(2026, 1, 1, 3);
  const TimePoint started = Utc(2026, 1, 3, 10);  // down over two 03:00 runs
  TaskPlanner planner({Task("catch", "0 3 * * *", 0ms, nullptr, true), Task("skip", "0 3 * * *")}, TimeZone::Utc(),
                      "node-a");
  PlanInput in = Input(started, started);
  in.history["catch"].last_run = last;
  in.history["skip"].last_run = last;
  SchedulePlan plan = planner.Compute(in);
  CHECK(plan.DueNow() == std::vector<std::string>{"catch"});
  CHECK(Find(plan, "catch").reason == DueReason::kCatchUp);
  CHECK(Iso(Find(plan, "skip").next_due) == "2026-01-04T03:00:00Z");

  // Once: after the catch-up run, back on schedule.
  in.now = started + 1min;
  in.history["catch"].last_run = started + 30s;
  plan = planner.Compute(in);
  CHECK(plan.DueNow().empty());
  CHECK(Iso(Find(plan, "catch").next_due) == "2026-01-04T03:00:00Z");

  // Interval tasks likewise skip to their grid when not catching up.
  TaskPlanner every({Task("six", "every 6h")}, TimeZone::Utc(), "node-a");
  PlanInput in2 = Input(Utc(2026, 1, 2), Utc(2026, 1, 2));
  in2.history["six"].last_run = Utc(2026, 1, 1, 1, 23);
  CHECK(Iso(Find(every.Compute(in2), "six").next_due) == "2026-01-02T01:23:00Z");
  in2.started_at = Utc(2026, 1, 1);
  in2.now = Utc(2026, 1, 1, 5);
  CHECK(Iso(Find(every.Compute(in2), "six").next_due) == "2026-01-01T07:23:00Z");
}

TEST_CASE("TaskPlanner: jitter delays within bounds and is stable across calls") {
  std::vector<TaskSchedule> tasks;
  for (int i = 0; i < 50; ++i) tasks.push_back(Task("t" + std::to_string(i), "0 3 * * *", 15min));
  TaskPlanner planner(tasks, TimeZone::Utc(), "node-a");
  const TimePoint started = Utc(2026, 1, 1, 10);
  SchedulePlan a = planner.Compute(Input(started, started));
  SchedulePlan b = planner.Compute(Input(started + 5h, started));
  std::set<int64_t> offsets;
  for (size_t i = 0; i < a.tasks.size(); ++i) {
    INFO(a.tasks[i].name);
    REQUIRE(a.tasks[i].next_due);
    REQUIRE(a.tasks[i].scheduled);
    CHECK(Iso(a.tasks[i].scheduled) == "2026-01-02T03:00:00Z");
    auto delay = *a.tasks[i].next_due - *a.tasks[i].scheduled;
    CHECK(delay >= 0ms);
    CHECK(delay < 15min);
    CHECK(a.tasks[i].next_due == b.tasks[i].next_due);
    offsets.insert(std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
  }
  CHECK(offsets.size() > 45);
  TimePoint earliest = TimePoint::max();
  for (const TaskPlan& t : a.tasks) earliest = std::min(earliest, *t.next_due);
  CHECK(a.wake_at == earliest);
}

TEST_CASE("TaskPlanner: due times outside the window move to its next opening as one run") {
  const TimePoint started = Utc(2026, 1, 1);
  TaskPlanner planner({Task("noon", "0 12 * * *", 0ms, "* 22:00-04:00"),
                       Task("noon-jitter", "0 12 * * *", 30min, "* 22:00-04:00"),
                       Task("hourly-sat", "0 * * * *", 0ms, "Sat 02:00-03:00")},
                      TimeZone::Utc(), "node-a");
  PlanInput in = Input(started + 1h, started);
  SchedulePlan plan = planner.Compute(in);
  CHECK(Iso(Find(plan, "noon").scheduled) == "2026-01-01T12:00:00Z");
  CHECK(Iso(Find(plan, "noon").next_due) == "2026-01-01T22:00:00Z");
  auto jittered = *Find(plan, "noon-jitter").next_due;
  CHECK(jittered >= Utc(2026, 1, 1, 22));
  CHECK(jittered < Utc(2026, 1, 1, 22, 30));
  // 2026-01-01 is a Thursday: many hourly times pass before Saturday 02:00,
  // yet that is one run, and the next is the following Saturday.
  CHECK(Iso(Find(plan, "hourly-sat").next_due) == "2026-01-03T02:00:00Z");
  in.now = Utc(2026, 1, 3, 2, 0, 30);
  plan = planner.Compute(in);
  // The noon tasks, never run, are still owed their one run in this opening.
  CHECK(plan.DueNow() == std::vector<std::string>{"noon", "noon-jitter", "hourly-sat"});
  in.history["hourly-sat"].last_run = in.now;
  plan = planner.Compute(in);
  CHECK_FALSE(Find(plan, "hourly-sat").due_now);
  CHECK(Iso(Find(plan, "hourly-sat").next_due) == "2026-01-10T02:00:00Z");

  // Due while the window was open, but the daemon only looks after it closed:
  // wait for the next opening instead of running outside it.
  TaskPlanner late({Task("late", "0 23 * * *", 0ms, "* 22:00-00:00")}, TimeZone::Utc(), "node-a");
  PlanInput in2 = Input(Utc(2026, 1, 3, 1), Utc(2026, 1, 1));
  in2.history["late"].last_run = Utc(2026, 1, 1, 23);
  plan = late.Compute(in2);
  CHECK(plan.DueNow().empty());
  CHECK(Iso(Find(plan, "late").next_due) == "2026-01-03T22:00:00Z");

  // A catch-up outside the window waits for the window too.
  TaskPlanner catchup({Task("c", "0 23 * * *", 0ms, "* 22:00-00:00", true)}, TimeZone::Utc(), "node-a");
  PlanInput in3 = Input(Utc(2026, 1, 5, 9), Utc(2026, 1, 5, 9));
  in3.history["c"].last_run = Utc(2026, 1, 1, 23);
  plan = catchup.Compute(in3);
  CHECK(Find(plan, "c").reason == DueReason::kCatchUp);
  CHECK_FALSE(Find(plan, "c").due_now);
  CHECK(Iso(Find(plan, "c").next_due) == "2026-01-05T22:00:00Z");
}

TEST_CASE("TaskPlanner: @reboot tasks run once per boot at the first start") {
  TaskPlanner planner({Task("boot", "@reboot")}, TimeZone::Utc(), "node-a");
  const TimePoint now = Utc(2026, 1, 1, 10);
  struct Case {
    bool first_start;
    std::optional<std::string> last_boot;  // nullopt: never ran
    bool due;
  };
  const Case cases[] = {
      {true, std::nullopt, true},
      {true, "boot-1", true},     // ran in an earlier boot
      {true, "boot-2", false},    // already ran in this boot
      {false, "boot-1", false},   // the daemon restarted within the boot
      {false, std::nullopt, false},
  };
  for (const Case& c : cases) {
    INFO("first_start=" << c.first_start << " last_boot=" << c.last_boot.value_or("none"));
    PlanInput in = Input(now, now);
    in.first_start_this_boot = c.first_start;
    if (c.last_boot) in.history["boot"] = TaskHistory{now - 1h, *c.last_boot};
    SchedulePlan plan = planner.Compute(in);
    CHECK(Find(plan, "boot").due_now == c.due);
    CHECK(Find(plan, "boot").reason == DueReason::kBoot);
    CHECK(plan.wake_at == (c.due ? std::optional<TimePoint>(now) : std::nullopt));
  }
}

TEST_CASE("TaskPlanner evaluates schedules in its zone across DST") {
  TaskPlanner planner({Task("nightly", "30 2 * * *")}, RealZone("Europe/Berlin"), "node-a");
  PlanInput in = Input(Utc(2026, 3, 28, 12), Utc(2026, 3, 28, 12));
  CHECK(Iso(planner.Compute(in).wake_at) == "2026-03-29T01:00:00Z");  // 02:30 does not exist: 03:00 CEST
  in.history["nightly"].last_run = Utc(2026, 3, 29, 1);
  in.now = Utc(2026, 3, 29, 1, 1);
  CHECK(Iso(planner.Compute(in).wake_at) == "2026-03-30T00:30:00Z");
}
