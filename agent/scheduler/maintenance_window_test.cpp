#include "scheduler/maintenance_window.h"

#include <catch2/catch.hpp>

#include "scheduler/test_support.h"

using namespace nodeagent;

namespace {

const MaintenanceWindow::ZoneLoader kLoader = [](std::string_view name) {
  ReadOnlyHostFiles files;
  return TimeZone::Load(files, name);
};

MaintenanceWindow MustParse(const char* text, const TimeZone& default_zone = TimeZone::Utc()) {
  auto w = MaintenanceWindow::Parse(text, default_zone, kLoader);
  if (!w) throw std::runtime_error(w.error().ToString());
  return *w;
}

}  // namespace

TEST_CASE("MaintenanceWindow parses days and times and zones") {
  for (const char* text : {"Mon-Fri 22:00-04:00 Europe/Berlin", "Sat,Sun 02:00-06:00", "* 01:00-03:00 UTC",
                           "fri-MON 00:00-24:00", "Saturday 10:00-10:00", "mon,wed-fri,Sunday 23:59-00:01"}) {
    INFO(text);
    auto w = MaintenanceWindow::Parse(text, TimeZone::Utc(), kLoader);
    REQUIRE(w.ok());
    CHECK(w->text() == text);
  }
  CHECK(MustParse("Mon 01:00-02:00 Europe/Berlin").zone().name() == "Europe/Berlin");
  CHECK(MustParse("Mon 01:00-02:00", RealZone("America/New_York")).zone().name() == "America/New_York");
}

TEST_CASE("MaintenanceWindow errors say what is wrong") {
  struct Case {
    const char* text;
    const char* fragment;
  };
  const Case cases[] = {
      {"", "expected \"<days> <HH:MM>-<HH:MM> [zone]\""},
      {"Mon", "expected \"<days> <HH:MM>-<HH:MM> [zone]\""},
      {"Mon 01:00-02:00 UTC extra", "expected \"<days>"},
      {"Funday 01:00-02:00", "days: 'Funday' is not a day or day range"},
      {"Mon-Funday 01:00-02:00", "days: 'Mon-Funday'"},
      {"Sat, 01:00-02:00", "days: ''"},
      {"Mon 1:00-2:00", "time: '1:00-2:00' is not a time range (expected HH:MM-HH:MM"},
      {"Mon 01:00-25:00", "time: '01:00-25:00'"},
      {"Mon 24:00-01:00", "time: '24:00-01:00'"},
      {"Mon 01:60-02:00", "time: '01:60-02:00'"},
      {"Mon 01:00", "time: '01:00'"},
      {"Mon 01:00-02:00 Mars/Olympus", "time zone \"Mars/Olympus\" not found"},
      {"Mon 01:00-02:00 ../etc/passwd", "must not contain \"..\""},
  };
  for (const Case& c : cases) {
    INFO("window: \"" << c.text << "\"");
    auto w = MaintenanceWindow::Parse(c.text, TimeZone::Utc(), kLoader);
    REQUIRE_FALSE(w.ok());
    INFO("message: " << w.error().message());
    CHECK(w.error().message().find(c.fragment) != std::string::npos);
    CHECK(w.error().message().find("maintenance window \"") != std::string::npos);
  }
  auto no_loader = MaintenanceWindow::Parse("Mon 01:00-02:00 UTC", TimeZone::Utc(), nullptr);
  REQUIRE_FALSE(no_loader.ok());
  CHECK(no_loader.error().message().find("no zone loader") != std::string::npos);
}

TEST_CASE("MaintenanceWindow Contains and NextOpen and CloseOf") {
  struct Case {
    const char* window;
    const char* default_zone;
    TimePoint at;
    bool inside;
    const char* next_open;
    const char* close;
  };
  // 2026-01-05 is a Monday; Berlin is UTC+1 in January, New York UTC-5.
  const Case cases[] = {
      // Across midnight, in another zone than the default.
      {"Mon-Fri 22:00-04:00 Europe/Berlin", "UTC", Utc(2026, 1, 5, 20, 59), false, "2026-01-05T21:00:00Z",
       "2026-01-06T03:00:00Z"},
      {"Mon-Fri 22:00-04:00 Europe/Berlin", "UTC", Utc(2026, 1, 5, 21, 0), true, "2026-01-05T21:00:00Z",
       "2026-01-06T03:00:00Z"},
      {"Mon-Fri 22:00-04:00 Europe/Berlin", "UTC", Utc(2026, 1, 6, 2, 30), true, "2026-01-06T02:30:00Z",
       "2026-01-06T03:00:00Z"},
      {"Mon-Fri 22:00-04:00 Europe/Berlin", "UTC", Utc(2026, 1, 6, 3, 0), false, "2026-01-06T21:00:00Z",
       "2026-01-07T03:00:00Z"},
      // Saturday 03:00 belongs to Friday's window; Monday 03:00 to Sunday's (not set).
      {"Mon-Fri 22:00-04:00 Europe/Berlin", "UTC", Utc(2026, 1, 10, 2, 0), true, "2026-01-10T02:00:00Z",
       "2026-01-10T03:00:00Z"},
      {"Mon-Fri 22:00-04:00 Europe/Berlin", "UTC", Utc(2026, 1, 11, 22, 0), false, "2026-01-12T21:00:00Z",
       "2026-01-13T03:00:00Z"},
      {"Mon-Fri 22:00-04:00 Europe/Berlin", "UTC", Utc(2026, 1, 5, 2, 0), false, "2026-01-05T21:00:00Z",
       "2026-01-06T03:00:00Z"},
      // The default zone applies when none is named.
      {"Sat,Sun 02:00-06:00", "America/New_York", Utc(2026, 1, 10, 6, 59), false, "2026-01-10T07:00:00Z",
       "2026-01-10T11:00:00Z"},
      {"Sat,Sun 02:00-06:00", "America/New_York", Utc(2026, 1, 11, 10, 59), true, "2026-01-11T10:59:00Z",
       "2026-01-11T11:00:00Z"},
      {"Sat,Sun 02:00-06:00", "America/New_York", Utc(2026, 1, 11, 11, 0), false, "2026-01-17T07:00:00Z",
       "2026-01-17T11:00:00Z"},
      {"* 01:00-03:00 UTC", "Europe/Berlin", Utc(2026, 1, 5, 1, 30), true, "2026-01-05T01:30:00Z",
       "2026-01-05T03:00:00Z"},
      // Wrapping day range, 24-hour openings merged back to back.
      {"Fri-Sun 00:00-24:00 UTC", "UTC", Utc(2026, 1, 9, 10), true, "2026-01-09T10:00:00Z", "2026-01-12T00:00:00Z"},
      {"Fri-Sun 00:00-24:00 UTC", "UTC", Utc(2026, 1, 8, 10), false, "2026-01-09T00:00:00Z", "2026-01-12T00:00:00Z"},
      {"Sat 10:00-10:00 UTC", "UTC", Utc(2026, 1, 11, 9, 59), true, "2026-01-11T09:59:00Z", "2026-01-11T10:00:00Z"},
      // DST: a window inside the spring-forward gap does not open that day...
      {"* 02:00-03:00 Europe/Berlin", "UTC", Utc(2026, 3, 28, 12), false, "2026-03-30T00:00:00Z",
       "2026-03-30T01:00:00Z"},
      // ...one ending in it ends when the gap does...
      {"* 01:00-02:30 Europe/Berlin", "UTC", Utc(2026, 3, 29, 0, 59), true, "2026-03-29T00:59:00Z",
       "2026-03-29T01:00:00Z"},
      // ...and on fall-back its times are first occurrences.
      {"* 01:30-02:30 Europe/Berlin", "UTC", Utc(2026, 10, 25, 0, 15), true, "2026-10-25T00:15:00Z",
       "2026-10-25T00:30:00Z"},
      {"* 01:30-02:30 Europe/Berlin", "UTC", Utc(2026, 10, 25, 1, 15), false, "2026-10-26T00:30:00Z",
       "2026-10-26T01:30:00Z"},
  };
  for (const Case& c : cases) {
    INFO(c.window << " (default " << c.default_zone << ") at " << Iso(c.at));
    MaintenanceWindow w = MustParse(c.window, RealZone(c.default_zone));
    CHECK(w.Contains(c.at) == c.inside);
    CHECK(Iso(w.NextOpen(c.at)) == c.next_open);
    CHECK(Iso(w.CloseOf(c.at)) == c.close);
  }
}

TEST_CASE("An always-open window is always inside") {
  MaintenanceWindow w = MustParse("* 00:00-00:00 UTC");
  for (TimePoint t = Utc(2026, 1, 1); t < Utc(2026, 1, 15); t += std::chrono::hours(5)) {
    INFO(Iso(t));
    CHECK(w.Contains(t));
    CHECK(w.NextOpen(t) == t);
    CHECK(w.CloseOf(t) > t + std::chrono::hours(24 * 7));
  }
}
