#include "scheduler/time_zone.h"

#include <catch2/catch.hpp>

#include "scheduler/test_support.h"

using namespace nodeagent;
using namespace std::chrono_literals;

TEST_CASE("TimeZone offsets follow transitions and the POSIX footer") {
  struct Case {
    const char* zone;
    TimePoint at;
    int offset_s;
    const char* abbreviation;
  };
  const Case cases[] = {
      {"Europe/Berlin", Utc(2026, 1, 15), 3600, "CET"},
      {"Europe/Berlin", Utc(2026, 7, 1), 7200, "CEST"},
      {"Europe/Berlin", Utc(2026, 3, 29, 0, 59, 59), 3600, "CET"},
      {"Europe/Berlin", Utc(2026, 3, 29, 1, 0, 0), 7200, "CEST"},
      {"Europe/Berlin", Utc(2026, 10, 25, 0, 59, 59), 7200, "CEST"},
      {"Europe/Berlin", Utc(2026, 10, 25, 1, 0, 0), 3600, "CET"},
      // Far beyond any listed transition: only the footer rule knows these.
      {"Europe/Berlin", Utc(2090, 3, 26, 0, 59), 3600, "CET"},
      {"Europe/Berlin", Utc(2090, 3, 26, 1, 0), 7200, "CEST"},
      {"Europe/Berlin", Utc(2090, 10, 29, 0, 59), 7200, "CEST"},
      {"Europe/Berlin", Utc(2090, 10, 29, 1, 0), 3600, "CET"},
      {"America/New_York", Utc(2026, 3, 8, 6, 59), -5 * 3600, "EST"},
      {"America/New_York", Utc(2026, 3, 8, 7, 0), -4 * 3600, "EDT"},
      {"America/New_York", Utc(2090, 7, 1), -4 * 3600, "EDT"},
      {"America/New_York", Utc(2090, 12, 1), -5 * 3600, "EST"},
      {"Australia/Sydney", Utc(2090, 1, 15), 11 * 3600, "AEDT"},  // southern summer
      {"Australia/Sydney", Utc(2090, 7, 1), 10 * 3600, "AEST"},
      {"Asia/Kolkata", Utc(2026, 6, 1), 5 * 3600 + 1800, "IST"},
      {"UTC", Utc(2026, 6, 1), 0, "UTC"},
  };
  for (const Case& c : cases) {
    INFO(c.zone << " at " << Iso(c.at));
    TimeZone tz = RealZone(c.zone);
    OffsetPeriod p = tz.PeriodAt(c.at);
    CHECK(p.offset.count() == c.offset_s);
    CHECK(p.abbreviation == c.abbreviation);
    CHECK(p.begin <= c.at);
    CHECK(c.at < p.end);
  }
}

TEST_CASE("TimeZone periods span exactly from one transition to the next") {
  TimeZone berlin = RealZone("Europe/Berlin");
  OffsetPeriod summer = berlin.PeriodAt(Utc(2026, 6, 1));
  CHECK(Iso(summer.begin) == "2026-03-29T01:00:00Z");
  CHECK(Iso(summer.end) == "2026-10-25T01:00:00Z");
  CHECK(summer.is_dst);
  OffsetPeriod footer = berlin.PeriodAt(Utc(2090, 6, 1));
  CHECK(Iso(footer.begin) == "2090-03-26T01:00:00Z");
  CHECK(Iso(footer.end) == "2090-10-29T01:00:00Z");
  OffsetPeriod utc = TimeZone::Utc().PeriodAt(Utc(2026, 6, 1));
  CHECK(utc.begin == TimePoint::min());
  CHECK(utc.end == TimePoint::max());
}

TEST_CASE("TimeZone converts instants to local civil time") {
  TimeZone berlin = RealZone("Europe/Berlin");
  CHECK(berlin.ToLocal(Utc(2026, 3, 29, 0, 59, 59)) == CivilTime{2026, 3, 29, 1, 59, 59, 0});
  CHECK(berlin.ToLocal(Utc(2026, 3, 29, 1, 0, 0)) == CivilTime{2026, 3, 29, 3, 0, 0, 0});
  CHECK(berlin.ToLocal(Utc(2026, 12, 31, 23, 30)) == CivilTime{2027, 1, 1, 0, 30, 0, 5});
  TimeZone ny = RealZone("America/New_York");
  CHECK(ny.ToLocal(Utc(2024, 2, 29, 3, 0)) == CivilTime{2024, 2, 28, 22, 0, 0, 3});
}

TEST_CASE("TimeZone maps local times to instants and reports gaps and overlaps") {
  struct Case {
    const char* zone;
    CivilTime local;
    LocalMapping::Kind kind;
    const char* first;
    const char* second;
  };
  using K = LocalMapping::Kind;
  const Case cases[] = {
      {"Europe/Berlin", {2026, 6, 1, 12, 0, 0}, K::kUnique, "2026-06-01T10:00:00Z", "2026-06-01T10:00:00Z"},
      {"Europe/Berlin", {2026, 3, 29, 2, 30, 0}, K::kNonexistent, "2026-03-29T01:00:00Z", "2026-03-29T01:00:00Z"},
      {"Europe/Berlin", {2026, 3, 29, 3, 0, 0}, K::kUnique, "2026-03-29T01:00:00Z", "2026-03-29T01:00:00Z"},
      {"Europe/Berlin", {2026, 10, 25, 2, 30, 0}, K::kAmbiguous, "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"},
      {"Europe/Berlin", {2026, 10, 25, 3, 0, 0}, K::kUnique, "2026-10-25T02:00:00Z", "2026-10-25T02:00:00Z"},
      {"Europe/Berlin", {2090, 10, 29, 2, 0, 0}, K::kAmbiguous, "2090-10-29T00:00:00Z", "2090-10-29T01:00:00Z"},
      {"America/New_York", {2026, 3, 8, 2, 30, 0}, K::kNonexistent, "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z"},
      {"America/New_York", {2026, 11, 1, 1, 30, 0}, K::kAmbiguous, "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"},
  };
  for (const Case& c : cases) {
    INFO(c.zone << " " << c.local.year << "-" << c.local.month << "-" << c.local.day << " " << c.local.hour << ":"
                << c.local.minute);
    LocalMapping m = RealZone(c.zone).FromLocal(c.local);
    CHECK(m.kind == c.kind);
    CHECK(Iso(m.first) == c.first);
    CHECK(Iso(m.second) == c.second);
  }
}

TEST_CASE("TimeZone from a POSIX rule agrees with the TZif file") {
  auto rule = TimeZone::FromPosixRule("CET-1CEST,M3.5.0,M10.5.0/3", "rule");
  REQUIRE(rule.ok());
  TimeZone berlin = RealZone("Europe/Berlin");
  for (int year : {2000, 2026, 2037, 2038, 2060, 2100}) {
    for (int month = 1; month <= 12; ++month) {
      for (int day : {1, 25, 26, 27, 28, 29, 30, 31}) {
        if (day > 28 && month == 2) continue;
        if (day == 31 && (month == 4 || month == 6 || month == 9 || month == 11)) continue;
        for (int hour : {0, 1, 2, 3}) {
          TimePoint t = Utc(year, month, day, hour, 30);
          INFO(Iso(t));
          CHECK(rule->OffsetAt(t) == berlin.OffsetAt(t));
        }
      }
    }
  }
  for (const char* text : {"UTC0", "<+03>-3", "EST5EDT,M3.2.0,M11.1.0", "AEST-10AEDT,M10.1.0,M4.1.0/3",
                           "IST-2IDT,M3.4.4/26,M10.5.0", "XXX3YYY,J60/2,300/1:30"}) {
    INFO(text);
    CHECK(TimeZone::FromPosixRule(text, "x").ok());
  }
  for (const char* text : {"", "E5", "EST", "EST5EDT", "EST5EDT,M3.2.0", "EST5EDT,M13.2.0,M11.1.0",
                           "EST5EDT,M3.6.0,M11.1.0", "EST5EDT,M3.2.7,M11.1.0", "EST5EDT,J0,J365", "EST99"}) {
    INFO(text);
    auto z = TimeZone::FromPosixRule(text, "x");
    REQUIRE_FALSE(z.ok());
    CHECK(z.error().message().find("POSIX TZ rule") != std::string::npos);
  }
}

TEST_CASE("TimeZone rejects truncated and corrupt TZif data without crashing") {
  ReadOnlyHostFiles files;
  auto bytes = files.ReadFile("/usr/share/zoneinfo/Europe/Berlin");
  REQUIRE(bytes.ok());  // tzdata must be installed for these tests
  REQUIRE(TimeZone::FromTzif(*bytes, "Europe/Berlin").ok());
  for (size_t len = 0; len < bytes->size(); len += 7) {
    INFO("prefix of " << len << " bytes");
    auto z = TimeZone::FromTzif(std::string_view(*bytes).substr(0, len), "cut");
    REQUIRE_FALSE(z.ok());
    CHECK(z.error().message().find("time zone \"cut\"") != std::string::npos);
  }
  std::string bad_magic = *bytes;
  bad_magic[0] = 'X';
  CHECK_FALSE(TimeZone::FromTzif(bad_magic, "x").ok());
  std::string bad_footer = *bytes;
  bad_footer.replace(bad_footer.rfind("CET-1"), 5, "CET?1");
  auto z = TimeZone::FromTzif(bad_footer, "x");
  REQUIRE_FALSE(z.ok());
  CHECK(z.error().message().find("footer") != std::string::npos);
}

TEST_CASE("TimeZone reads version 1 files") {
  ReadOnlyHostFiles files;
  auto bytes = files.ReadFile("/usr/share/zoneinfo/Europe/Berlin");
  REQUIRE(bytes.ok());
  // Keep only the 32-bit block and mark it version 1.
  auto count = [&](int i) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes->data()) + 20 + 4 * i;
    return (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
  };
  size_t isut = count(0), isstd = count(1), leap = count(2), time = count(3), type = count(4), chars = count(5);
  std::string v1 = bytes->substr(0, 44 + time * 5 + type * 6 + chars + leap * 8 + isstd + isut);
  v1[4] = '\0';
  auto z = TimeZone::FromTzif(v1, "v1");
  REQUIRE(z.ok());
  CHECK(z->OffsetAt(Utc(2026, 7, 1)).count() == 7200);
  CHECK(z->OffsetAt(Utc(2026, 1, 1)).count() == 3600);
}

TEST_CASE("TimeZone::Load validates names and explains missing zones") {
  ReadOnlyHostFiles files;
  for (const char* name : {"", "/etc/passwd", "../etc/passwd", "Europe/../../etc/shadow", "..", "Europe/Ber lin"}) {
    INFO(name);
    auto z = TimeZone::Load(files, name);
    REQUIRE_FALSE(z.ok());
    CHECK(z.error().code() == ErrorCode::kInvalidArgument);
    CHECK(z.error().message().find("expected an IANA name") != std::string::npos);
  }
  auto missing = TimeZone::Load(files, "Nowhere/Atlantis");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == ErrorCode::kNotFound);
  CHECK(missing.error().message().find("/usr/share/zoneinfo/Nowhere/Atlantis") != std::string::npos);
  CHECK(missing.error().message().find("tzdata") != std::string::npos);
  auto berlin = TimeZone::Load(files, "Europe/Berlin");
  REQUIRE(berlin.ok());
  CHECK(berlin->name() == "Europe/Berlin");
}

TEST_CASE("TimeZone::LoadLocal reads /etc/localtime and falls back to UTC") {
  ReadOnlyHostFiles host;
  auto berlin_bytes = host.ReadFile("/usr/share/zoneinfo/Europe/Berlin");
  REQUIRE(berlin_bytes.ok());

  FakeFiles none;
  CHECK(TimeZone::LoadLocal(none).name() == "UTC");

  FakeFiles garbage;
  garbage.files["/etc/localtime"] = "not a tzif file";
  TimeZone g = TimeZone::LoadLocal(garbage);
  CHECK(g.name() == "UTC");
  CHECK(g.OffsetAt(Utc(2026, 7, 1)).count() == 0);

  FakeFiles files;
  files.files["/etc/localtime"] = *berlin_bytes;
  files.files["/etc/timezone"] = "Europe/Berlin\n";
  TimeZone local = TimeZone::LoadLocal(files);
  CHECK(local.name() == "Europe/Berlin");
  CHECK(local.OffsetAt(Utc(2026, 7, 1)).count() == 7200);

  files.files.erase("/etc/timezone");
  CHECK(TimeZone::LoadLocal(files).name() == "localtime");
}
