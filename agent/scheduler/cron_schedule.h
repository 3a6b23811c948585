// When a task is due. Operators write schedules the way they know from cron
// ("30 2 * * *", "@daily") or as plain intervals ("every 6h"); Schedule parses
// all three forms into one value and answers "when is the next run after t?"
// in the wall time of a given zone. It reads no clock: every time is an
// argument, so the daemon's planner and the tests drive it alike.
//
// Cron syntax: five fields, minute (0-59) hour (0-23) day-of-month (1-31)
// month (1-12 or JAN-DEC) day-of-week (0-7 or SUN-SAT, 0 and 7 are Sunday).
// Each field is a comma list of `*`, `n`, `a-b`, `*/s` or `a-b/s`; names are
// case-insensitive. As in Vixie cron, when both day-of-month and day-of-week
// are restricted (neither begins with `*`) a day matches if EITHER matches;
// otherwise both must. Macros: @yearly/@annually, @monthly, @weekly,
// @daily/@midnight, @hourly, and @reboot (no next time; runs_at_boot()).
// Intervals: "every <duration>" with nodeagent::ParseDuration units, >= 1m.
//
// Daylight-saving semantics (as in Vixie cron/cronie):
//  * A "wildcard" job has a minute or hour field beginning with `*` ("0 * * * *",
//    "*/15 * * * *", @hourly). It runs at every real minute whose local time
//    matches: wall times skipped by spring-forward never run, and wall times
//    repeated by fall-back run in both occurrences.
//  * Every other job is "fixed-time" ("30 2 * * *", @daily). A wall time that
//    does not exist (spring-forward gap) runs at the first instant after the
//    gap; several skipped times collapse into that one run. A wall time that
//    occurs twice (fall-back overlap) runs once, at its first occurrence.
//  * Intervals ignore the zone: they count real elapsed time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/result.h"
#include "scheduler/time_zone.h"

namespace nodeagent {

class Schedule {
 public:
  enum class Kind { kCron, kInterval, kReboot };

  /// A cron schedule that matches nothing (NextAfter is always nullopt); real
  /// schedules come from Parse.
  Schedule() = default;

  /// Parses a schedule string. InvalidArgument naming the field, the bad token
  /// and the accepted range, e.g. "day-of-week: '8' out of range 0-7 (0 and 7
  /// are Sunday)".
  static Result<Schedule> Parse(std::string_view text);

  /// The next run strictly after `after`, on a whole minute for cron schedules,
  /// evaluated in the wall time of `tz`. nullopt for @reboot, and for cron
  /// specs that match nothing in the eight years after `after` ("0 0 30 2 *";
  /// eight, because Feb 29 skips 2100).
  /// Intervals: last_run + k * interval for the smallest k >= 1 that lands
  /// after `after`; without a last run, the next multiple of the interval since
  /// the Unix epoch (so an untouched task has a stable, restart-proof due time).
  std::optional<TimePoint> NextAfter(TimePoint after, const TimeZone& tz,
                                     std::optional<TimePoint> last_run = std::nullopt) const;

  Kind kind() const { return kind_; }
  bool runs_at_boot() const { return kind_ == Kind::kReboot; }
  /// Whether DST gaps/overlaps follow the wildcard rules (see above).
  bool is_wildcard() const { return wildcard_; }
  std::chrono::milliseconds interval() const { return interval_; }
  /// The text it was parsed from.
  const std::string& text() const { return text_; }

 private:
  /// The first matching local minute >= `from`, or nullopt within 8 years.
  std::optional<LocalSeconds> NextLocalMatch(LocalSeconds from) const;
  bool DayMatches(int day_of_month, int weekday) const;

  Kind kind_ = Kind::kCron;
  std::string text_;
  uint64_t minutes_ = 0;  // bit n: minute n
  uint32_t hours_ = 0;
  uint32_t days_ = 0;     // bit 1..31
  uint16_t months_ = 0;   // bit 1..12
  uint8_t weekdays_ = 0;  // bit 0..6, Sunday = 0
  bool dom_star_ = false;
  bool dow_star_ = false;
  bool wildcard_ = false;
  std::chrono::milliseconds interval_{0};
};

/// Splits on runs of white space (schedule and window strings).
std::vector<std::string_view> SplitSpace(std::string_view s);

}  // namespace nodeagent
