#include "scheduler/cron_schedule.h"

#include <catch2/catch.hpp>

#include "scheduler/test_support.h"

using namespace nodeagent;
using namespace std::chrono_literals;

TEST_CASE("Schedule parses cron fields and names and macros and intervals") {
  struct Case {
    const char* text;
    Schedule::Kind kind;
    bool wildcard;
  };
  using K = Schedule::Kind;
  const Case cases[] = {
      {"* * * * *", K::kCron, true},
      {"30 2 * * *", K::kCron, false},
      {"  0  */4   1-15/2 jan-MAR,Dec  mon-fri ", K::kCron, true},
      {"0 4 1-15/2 jan-MAR,Dec  mon-fri", K::kCron, false},
      {"0,15,30,45 8-18 * * 1,3,5", K::kCron, false},
      {"*/10 3 * * 7", K::kCron, true},
      {"5 * 31 12 sun", K::kCron, true},
      {"0 0 1 1 0-7", K::kCron, false},
      {"@hourly", K::kCron, true},
      {"@DAILY", K::kCron, false},
      {"@midnight", K::kCron, false},
      {"@weekly", K::kCron, false},
      {"@monthly", K::kCron, false},
      {"@yearly", K::kCron, false},
      {"@annually", K::kCron, false},
      {"@reboot", K::kReboot, false},
      {"every 6h", K::kInterval, false},
      {"Every 1h30m", K::kInterval, false},
      {"every 1d", K::kInterval, false},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto s = Schedule::Parse(c.text);
    REQUIRE(s.ok());
    CHECK(s->kind() == c.kind);
    CHECK(s->is_wildcard() == c.wildcard);
    CHECK(s->runs_at_boot() == (c.kind == K::kReboot));
  }
  CHECK(Schedule::Parse("every 6h")->interval() == 6h);
  CHECK(Schedule::Parse("@daily")->text() == "@daily");
}

TEST_CASE("Schedule errors name the field and the token and the accepted range") {
  struct Case {
    const char* text;
    const char* fragment;
  };
  const Case cases[] = {
      {"", "empty schedule"},
      {"   ", "empty schedule"},
      {"* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
      {"* * * * * *", "got 6"},
      {"60 * * * *", "minute: '60' out of range 0-59"},
      {"* 24 * * *", "hour: '24' out of range 0-23"},
      {"* * 0 * *", "day-of-month: '0' out of range 1-31"},
      {"* * 32 * *", "day-of-month: '32' out of range 1-31"},
      {"* * * 13 *", "month: '13' out of range 1-12"},
      {"* * * * 8", "day-of-week: '8' out of range 0-7 (0 and 7 are Sunday)"},
      {"* * * * 99999999999", "day-of-week: '99999999999' out of range 0-7"},
      {"* * * FOO *", "month: 'FOO' is not a valid value (expected 1-12 or names JAN-DEC)"},
      {"* * * * MONDAY", "day-of-week: 'MONDAY' is not a valid value (expected 0-7 (0 and 7 are Sunday) or names SUN-SAT)"},
      {"a * * * *", "minute: 'a' is not a valid value (expected 0-59)"},
      {"* * * JAN-XYZ *", "month: 'XYZ' is not a valid value"},
      {"5-2 * * * *", "minute: '5-2' is a backwards range"},
      {"* * * * FRI-MON", "day-of-week: 'FRI-MON' is a backwards range"},
      {"-1 * * * *", "minute: '-1' is not a valid range"},
      {"1- * * * *", "minute: '1-' is not a valid range"},
      {"*/0 * * * *", "minute: '*/0' has an invalid step '0' (expected 1-59)"},
      {"* */24 * * *", "hour: '*/24' has an invalid step '24' (expected 1-23)"},
      {"*/x * * * *", "invalid step 'x'"},
      {"*/ * * * *", "invalid step ''"},
      {"5/10 * * * *", "minute: '5/10' has a step without a range"},
      {"*/5/2 * * * *", "more than one '/'"},
      {"1,,2 * * * *", "minute: '1,,2' has an empty list item"},
      {"1, * * * *", "empty list item"},
      {"@fortnightly", "unknown macro; expected @yearly"},
      {"every", "expected \"every <duration>\""},
      {"every 6h now", "expected \"every <duration>\""},
      {"every 10x", "invalid duration \"10x\""},
      {"every 30s", "every: '30s' is shorter than the minimum of 1m"},
      {"every 0m", "shorter than the minimum"},
  };
  for (const Case& c : cases) {
    INFO("spec: \"" << c.text << "\"");
    auto s = Schedule::Parse(c.text);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code() == ErrorCode::kInvalidArgument);
    INFO("message: " << s.error().message());
    CHECK(s.error().message().find(c.fragment) != std::string::npos);
  }
  // The whole spec is quoted for context.
  CHECK(Schedule::Parse("* * * * 8").error().message() ==
        "schedule \"* * * * 8\": day-of-week: '8' out of range 0-7 (0 and 7 are Sunday)");
}

TEST_CASE("Schedule::NextAfter in UTC: ordinary cases and month ends and leap years and DOM/DOW and steps") {
  struct Case {
    const char* spec;
    TimePoint after;
    const char* expected;
  };
  const Case cases[] = {
      {"*/15 * * * *", Utc(2026, 1, 1, 0, 0, 0), "2026-01-01T00:15:00Z"},  // strictly after
      {"*/15 * * * *", Utc(2026, 1, 1, 0, 7, 30), "2026-01-01T00:15:00Z"},
      {"* * * * *", Utc(2026, 1, 1, 0, 0, 59), "2026-01-01T00:01:00Z"},
      {"0 0 * * *", Utc(2026, 1, 31, 12, 0), "2026-02-01T00:00:00Z"},
      {"59 23 31 12 *", Utc(2026, 6, 1), "2026-12-31T23:59:00Z"},
      {"0 0 31 * *", Utc(2026, 1, 31), "2026-03-31T00:00:00Z"},  // February has no 31st
      {"0 0 31 * *", Utc(2026, 3, 31), "2026-05-31T00:00:00Z"},
      {"0 0 30 * *", Utc(2026, 1, 30), "2026-03-30T00:00:00Z"},
      {"0 0 29 2 *", Utc(2026, 1, 1), "2028-02-29T00:00:00Z"},  // leap years only
      {"0 0 29 2 *", Utc(2028, 2, 29), "2032-02-29T00:00:00Z"},
      {"0 0 29 2 *", Utc(2096, 3, 1), "2104-02-29T00:00:00Z"},  // 2100 is not a leap year
      {"0 0 L 2 *", Utc(2026, 1, 1), "error"},
      {"0 12 * * MON", Utc(2026, 1, 1), "2026-01-05T12:00:00Z"},  // 2026-01-01 is a Thursday
      {"0 0 * * 7", Utc(2026, 1, 1), "2026-01-04T00:00:00Z"},
      {"0 0 * * 0", Utc(2026, 1, 1), "2026-01-04T00:00:00Z"},
      {"0 0 * * 5-7", Utc(2026, 1, 1), "2026-01-02T00:00:00Z"},
      {"0 0 13 * 5", Utc(2026, 1, 1), "2026-01-02T00:00:00Z"},  // 13th OR Friday
      {"0 0 13 * 5", Utc(2026, 1, 9), "2026-01-13T00:00:00Z"},
      {"0 0 13 * fri", Utc(2026, 1, 13), "2026-01-16T00:00:00Z"},
      {"0 0 */2 * 1", Utc(2026, 1, 1), "2026-01-05T00:00:00Z"},  // '*' DOM: odd days AND Monday
      {"0 0 */2 * 1", Utc(2026, 1, 5), "2026-01-19T00:00:00Z"},
      {"0 0 1 * *", Utc(2026, 1, 1), "2026-02-01T00:00:00Z"},
      {"30 4 1,15 * *", Utc(2026, 1, 15, 4, 30), "2026-02-01T04:30:00Z"},
      {"0 9-17/4 * * *", Utc(2026, 1, 1, 13, 0), "2026-01-01T17:00:00Z"},
      {"0 9-17/4 * * *", Utc(2026, 1, 1, 17, 0), "2026-01-02T09:00:00Z"},
      {"10-20/5 * * * *", Utc(2026, 1, 1, 0, 20), "2026-01-01T01:10:00Z"},
      {"0 0 * FEB *", Utc(2026, 2, 28, 1), "2027-02-01T00:00:00Z"},
      {"@yearly", Utc(2026, 6, 1), "2027-01-01T00:00:00Z"},
      {"@monthly", Utc(2026, 12, 15), "2027-01-01T00:00:00Z"},
      {"@weekly", Utc(2026, 1, 1), "2026-01-04T00:00:00Z"},
      {"@daily", Utc(2026, 1, 1), "2026-01-02T00:00:00Z"},
      {"@hourly", Utc(2026, 1, 1, 10, 59, 59), "2026-01-01T11:00:00Z"},
      {"0 0 30 2 *", Utc(2026, 1, 1), "never"},
      {"0 0 31 4,6,9,11 *", Utc(2026, 1, 1), "never"},
      {"@reboot", Utc(2026, 1, 1), "never"},
      {"every 6h", Utc(2026, 1, 1, 1, 0), "2026-01-01T06:00:00Z"},  // no history: epoch grid
      {"every 6h", Utc(2026, 1, 1, 6, 0), "2026-01-01T12:00:00Z"},
  };
  for (const Case& c : cases) {
    INFO(c.spec << " after " << Iso(c.after));
    auto s = Schedule::Parse(c.spec);
    if (std::string(c.expected) == "error") {
      CHECK_FALSE(s.ok());
      continue;
    }
    REQUIRE(s.ok());
    CHECK(Iso(s->NextAfter(c.after, TimeZone::Utc())) == c.expected);
  }
}

TEST_CASE("Interval schedules count from the last run") {
  auto s = Schedule::Parse("every 6h");
  REQUIRE(s.ok());
  const TimePoint last = Utc(2026, 1, 1, 1, 23);
  CHECK(Iso(s->NextAfter(Utc(2026, 1, 1, 2), TimeZone::Utc(), last)) == "2026-01-01T07:23:00Z");
  CHECK(Iso(s->NextAfter(last, TimeZone::Utc(), last)) == "2026-01-01T07:23:00Z");
  CHECK(Iso(s->NextAfter(Utc(2026, 1, 1, 7, 23), TimeZone::Utc(), last)) == "2026-01-01T13:23:00Z");
  // Several intervals missed: the next one on the same grid, not a burst.
  CHECK(Iso(s->NextAfter(Utc(2026, 1, 2), TimeZone::Utc(), last)) == "2026-01-02T01:23:00Z");
  // Intervals ignore DST.
  TimeZone berlin = RealZone("Europe/Berlin");
  CHECK(Iso(s->NextAfter(Utc(2026, 3, 29), berlin, Utc(2026, 3, 28, 22))) == "2026-03-29T04:00:00Z");
}

TEST_CASE("Schedule::NextAfter across DST changes") {
  struct Case {
    const char* zone;
    const char* spec;
    TimePoint after;
    std::vector<const char*> runs;  // the next runs, chained
  };
  const Case cases[] = {
      // Europe/Berlin spring forward: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z).
      {"Europe/Berlin", "30 2 * * *", Utc(2026, 3, 28),
       {"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z" /* 03:00 CEST, end of gap */, "2026-03-30T00:30:00Z"}},
      {"Europe/Berlin", "0 * * * *", Utc(2026, 3, 28, 23, 30),
       {"2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"}},
      {"Europe/Berlin", "*/15 * * * *", Utc(2026, 3, 29, 0, 40),
       {"2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"}},
      {"Europe/Berlin", "0,30 2 * * *", Utc(2026, 3, 28, 12),  // both skipped times collapse
       {"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T00:30:00Z"}},
      {"Europe/Berlin", "*/30 2 * * *", Utc(2026, 3, 28, 12),  // wildcard: skipped times do not run
       {"2026-03-30T00:00:00Z", "2026-03-30T00:30:00Z"}},
      // Europe/Berlin fall back: 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z).
      {"Europe/Berlin", "30 2 * * *", Utc(2026, 10, 24, 12),
       {"2026-10-25T00:30:00Z" /* first 02:30 only */, "2026-10-26T01:30:00Z"}},
      {"Europe/Berlin", "30 2 * * *", Utc(2026, 10, 25, 1, 10),  // already in the second 02:xx
       {"2026-10-26T01:30:00Z"}},
      {"Europe/Berlin", "0 * * * *", Utc(2026, 10, 24, 23, 30),
       {"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z" /* 02:00 again */, "2026-10-25T02:00:00Z"}},
      {"Europe/Berlin", "*/15 * * * *", Utc(2026, 10, 25, 0, 40),
       {"2026-10-25T00:45:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:15:00Z"}},
      // America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z);
      // 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z).
      {"America/New_York", "30 2 * * *", Utc(2026, 3, 7),
       {"2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
      {"America/New_York", "30 2 * * *", Utc(2026, 10, 31, 12),  // 02:30 is not repeated in New York
       {"2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z"}},
      {"America/New_York", "30 1 * * *", Utc(2026, 10, 31, 12),
       {"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
      {"America/New_York", "0 * * * *", Utc(2026, 3, 8, 6, 30),
       {"2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}},
      {"America/New_York", "0 * * * *", Utc(2026, 11, 1, 4, 30),
       {"2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"}},
      {"America/New_York", "*/15 * * * *", Utc(2026, 3, 8, 6, 50),
       {"2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z"}},
      {"America/New_York", "*/15 * * * *", Utc(2026, 11, 1, 5, 50),
       {"2026-11-01T06:00:00Z", "2026-11-01T06:15:00Z"}},
      // Far future: only the TZif footer rule describes 2090.
      {"Europe/Berlin", "30 2 * * *", Utc(2090, 3, 25, 12), {"2090-03-26T01:00:00Z", "2090-03-27T00:30:00Z"}},
  };
  for (const Case& c : cases) {
    TimeZone tz = RealZone(c.zone);
    auto s = Schedule::Parse(c.spec);
    REQUIRE(s.ok());
    TimePoint after = c.after;
    for (const char* expected : c.runs) {
      INFO(c.zone << " \"" << c.spec << "\" after " << Iso(after));
      auto next = s->NextAfter(after, tz);
      REQUIRE(Iso(next) == expected);
      after = *next;
    }
  }
}

TEST_CASE("A daily job in Berlin runs once a day at 02:30 (03:00 on spring-forward days) for five years") {
  TimeZone berlin = RealZone("Europe/Berlin");
  auto s = Schedule::Parse("30 2 * * *");
  REQUIRE(s.ok());
  TimePoint t = Utc(2026, 1, 1);
  int runs = 0;
  for (;;) {
    auto next = s->NextAfter(t, berlin);
    REQUIRE(next.has_value());
    if (*next >= Utc(2031, 1, 1)) break;
    INFO(Iso(next));
    CivilTime local = berlin.ToLocal(*next);
    bool gap_day = berlin.FromLocal(CivilTime{local.year, local.month, local.day, 2, 30, 0}).kind ==
                   LocalMapping::Kind::kNonexistent;
    CHECK(local.hour == (gap_day ? 3 : 2));
    CHECK(local.minute == (gap_day ? 0 : 30));
    CHECK(*next - t <= std::chrono::hours(25));
    t = *next;
    ++runs;
  }
  CHECK(runs == 365 * 5 + 1);  // 2028 is a leap year
}
