// Time zones without std::chrono::tzdb. g++ 12's libstdc++ lacks the C++20
// time-zone database, yet schedules ("30 2 * * *", "Mon-Fri 22:00-04:00
// Europe/Berlin") are written in local wall time. TimeZone reads the compiled
// TZif files of /usr/share/zoneinfo (RFC 8536, versions 1-3, including the
// POSIX TZ footer that governs times after the last listed transition) through
// the FileSystem seam, and converts between instants and local civil time,
// reporting spring-forward gaps and fall-back overlaps instead of hiding them.
// Leap-second records ("right/" zones) are ignored: instants are POSIX time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/host.h"
#include "nodeagent/result.h"

namespace nodeagent {

using TimePoint = std::chrono::system_clock::time_point;

/// A local wall-clock reading. `weekday` is 0 = Sunday .. 6 = Saturday and is
/// ignored when converting to an instant.
struct CivilTime {
  int year = 1970;
  int month = 1;   // 1-12
  int day = 1;     // 1-31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int weekday = 4;

  friend bool operator==(const CivilTime&, const CivilTime&) = default;
};

/// Wall-clock seconds since 1970-01-01 00:00 local: arithmetic on civil time.
using LocalSeconds = std::chrono::local_seconds;

LocalSeconds ToLocalSeconds(const CivilTime& c);
CivilTime ToCivil(LocalSeconds s);

/// A stretch of time with one UTC offset. `begin`/`end` are clamped to
/// TimePoint::min()/max() when open-ended.
struct OffsetPeriod {
  TimePoint begin;
  TimePoint end;
  std::chrono::seconds offset{0};  // local = UTC + offset
  bool is_dst = false;
  std::string abbreviation;
};

/// How a local wall time maps to instants.
struct LocalMapping {
  enum class Kind {
    kUnique,       // exactly one instant: first == second
    kNonexistent,  // skipped by a forward jump: first == second == the instant the gap ends
    kAmbiguous,    // shown twice on a backward jump: first < second
  };
  Kind kind = Kind::kUnique;
  TimePoint first;
  TimePoint second;
};

/// An immutable, cheaply copyable time zone.
class TimeZone {
 public:
  /// UTC, with name "UTC".
  static TimeZone Utc();

  /// Parses TZif bytes. InvalidArgument (naming `name`) when the data is
  /// truncated, inconsistent, or its footer is not a supported POSIX TZ rule.
  static Result<TimeZone> FromTzif(std::string_view bytes, std::string name);

  /// Parses a POSIX TZ rule alone ("CET-1CEST,M3.5.0,M10.5.0/3", "UTC0").
  static Result<TimeZone> FromPosixRule(std::string_view rule, std::string name);

  /// Loads /usr/share/zoneinfo/<name> through `files`. InvalidArgument for a
  /// name that is empty, absolute or contains "..", NotFound when the zone is
  /// not installed (install the tzdata package), or the parse error.
  static Result<TimeZone> Load(const FileSystem& files, std::string_view name);

  /// The host's zone from /etc/localtime (a TZif file or a symlink to one),
  /// named after /etc/timezone when present, else "localtime"; UTC when
  /// /etc/localtime is missing or unreadable. Never fails.
  static TimeZone LoadLocal(const FileSystem& files);

  const std::string& name() const;

  /// The period of constant offset containing `t`.
  OffsetPeriod PeriodAt(TimePoint t) const;
  std::chrono::seconds OffsetAt(TimePoint t) const { return PeriodAt(t).offset; }
  CivilTime ToLocal(TimePoint t) const;
  LocalSeconds ToLocalSeconds(TimePoint t) const;

  /// The instant(s) at which the wall clock reads `local`.
  LocalMapping FromLocal(LocalSeconds local) const;
  LocalMapping FromLocal(const CivilTime& local) const;
  /// The first instant at which the wall clock reads `local` or later: the
  /// earlier instant of an ambiguous time, the end of the gap for a
  /// nonexistent one. Monotonic in `local`.
  TimePoint FirstReached(LocalSeconds local) const;

  struct Data;  // parsed transitions and rule; defined in time_zone.cpp

 private:
  explicit TimeZone(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  std::shared_ptr<const Data> data_;
};

}  // namespace nodeagent
