// When disruptive work may happen. Operators confine tasks to windows such as
// "Mon-Fri 22:00-04:00 Europe/Berlin"; MaintenanceWindow parses that form and
// answers whether an instant is inside, when the window next opens and when
// an opening closes. Like Schedule it reads no clock.
//
// Syntax: "<days> <HH:MM>-<HH:MM> [zone]".
//  * days: "*", or a comma list of day names (Mon or Monday, any case) and
//    ranges ("Mon-Fri"; a range may wrap: "Fri-Mon" is Fri,Sat,Sun,Mon).
//  * times: 00:00-23:59; the end may be 24:00. A window whose end <= start
//    crosses midnight and belongs to the day it starts on ("Fri 22:00-04:00"
//    is Friday 22:00 to Saturday 04:00); end == start means 24 hours.
//  * zone: an IANA name, loaded through the caller's loader; without it the
//    caller's default zone applies.
// Times are wall times of the zone. Each boundary is the first instant the
// clock reads it: a boundary in a spring-forward gap moves to the end of the
// gap, one in a fall-back overlap is its first occurrence.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "nodeagent/result.h"
#include "scheduler/time_zone.h"

namespace nodeagent {

class MaintenanceWindow {
 public:
  /// Loads a zone by name, e.g. [&](auto n) { return TimeZone::Load(files, n); }.
  using ZoneLoader = std::function<Result<TimeZone>(std::string_view name)>;

  /// Parses `text`. InvalidArgument naming the bad part and the expected form;
  /// the loader's error (wrapped) when the zone cannot be loaded. `load_zone`
  /// may be empty when no zone is named in `text`.
  static Result<MaintenanceWindow> Parse(std::string_view text, const TimeZone& default_zone,
                                         const ZoneLoader& load_zone);

  bool Contains(TimePoint t) const;
  /// `t` when inside; otherwise the next opening after `t`.
  TimePoint NextOpen(TimePoint t) const;
  /// The instant the opening containing `t` closes (back-to-back openings,
  /// e.g. "* 00:00-24:00", are merged, looking at most 9 days ahead). When `t`
  /// is outside, the close of the next opening.
  TimePoint CloseOf(TimePoint t) const;

  const TimeZone& zone() const { return zone_; }
  const std::string& text() const { return text_; }

 private:
  struct Opening {
    TimePoint open;
    TimePoint close;
  };
  MaintenanceWindow(std::string text, uint8_t days, int start, int end, TimeZone zone)
      : text_(std::move(text)), days_(days), start_minute_(start), end_minute_(end), zone_(std::move(zone)) {}
  /// The opening that starts on local day `day` (days since 1970-01-01), if any.
  std::optional<Opening> OpeningOfDay(int64_t day) const;
  int64_t LocalDay(TimePoint t) const;

  std::string text_;
  uint8_t days_;       // bit 0 = Sunday
  int start_minute_;   // minute of the day, 0-1439
  int end_minute_;     // 0-1440
  TimeZone zone_;
};

}  // namespace nodeagent
