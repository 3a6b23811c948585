#include "scheduler/maintenance_window.h"

#include "scheduler/cron_schedule.h"

#include <cctype>
#include <vector>

namespace nodeagent {

namespace {

constexpr int64_t kDay = 86'400;
constexpr const char* kDayNames[7][2] = {{"sun", "sunday"},   {"mon", "monday"}, {"tue", "tuesday"},
                                         {"wed", "wednesday"}, {"thu", "thursday"}, {"fri", "friday"},
                                         {"sat", "saturday"}};

std::optional<int> DayIndex(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int i = 0; i < 7; ++i) {
    if (lower == kDayNames[i][0] || lower == kDayNames[i][1]) return i;
  }
  return std::nullopt;
}

/// "HH:MM" as a minute of the day; 24:00 only when `allow_24`.
std::optional<int> MinuteOfDay(std::string_view s, bool allow_24) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (size_t i : {0, 1, 3, 4}) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
  }
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59) return std::nullopt;
  if (h == 24 && m == 0 && allow_24) return 1440;
  if (h > 23) return std::nullopt;
  return h * 60 + m;
}


int64_t FloorDay(int64_t s) { return s >= 0 ? s / kDay : (s - kDay + 1) / kDay; }

}  // namespace

Result<MaintenanceWindow> MaintenanceWindow::Parse(std::string_view text, const TimeZone& default_zone,
                                                   const ZoneLoader& load_zone) {
  auto bad = [&](const std::string& what) {
    return InvalidArgument("maintenance window \"" + std::string(text) + "\": " + what);
  };
  std::vector<std::string_view> words = SplitSpace(text);
  if (words.size() < 2 || words.size() > 3) {
    return bad("expected \"<days> <HH:MM>-<HH:MM> [zone]\", e.g. \"Mon-Fri 22:00-04:00 Europe/Berlin\"");
  }

  uint8_t days = 0;
  if (words[0] == "*") {
    days = 0x7f;
  } else {
    std::string_view list = words[0];
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      std::string_view item = list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      size_t dash = item.find('-');
      auto a = DayIndex(item.substr(0, dash));
      auto b = dash == std::string_view::npos ? a : DayIndex(item.substr(dash + 1));
      if (!a || !b) {
        return bad("days: '" + std::string(item) +
                   "' is not a day or day range (expected names like Mon or Monday, ranges like Mon-Fri, "
                   "lists like Sat,Sun, or *)");
      }
      for (int d = *a;; d = (d + 1) % 7) {
        days |= static_cast<uint8_t>(1u << d);
        if (d == *b) break;
      }
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }

  std::string_view range = words[1];
  size_t dash = range.find('-');
  std::optional<int> from, to;
  if (dash != std::string_view::npos) {
    from = MinuteOfDay(range.substr(0, dash), false);
    to = MinuteOfDay(range.substr(dash + 1), true);
  }
  if (!from || !to) {
    return bad("time: '" + std::string(range) +
               "' is not a time range (expected HH:MM-HH:MM with 00:00-23:59, end up to 24:00, e.g. 22:00-04:00)");
  }

  TimeZone zone = default_zone;
  if (words.size() == 3) {
    if (!load_zone) return bad("zone '" + std::string(words[2]) + "' given but no zone loader is available");
    auto loaded = load_zone(words[2]);
    if (!loaded) return loaded.error().Wrap("maintenance window \"" + std::string(text) + "\"");
    zone = *loaded;
  }
  return MaintenanceWindow(std::string(text), days, *from, *to, std::move(zone));
}

int64_t MaintenanceWindow::LocalDay(TimePoint t) const {
  return FloorDay(zone_.ToLocalSeconds(t).time_since_epoch().count());
}

std::optional<MaintenanceWindow::Opening> MaintenanceWindow::OpeningOfDay(int64_t day) const {
  int weekday = static_cast<int>(((day + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
  if (!((days_ >> weekday) & 1)) return std::nullopt;
  int64_t open_local = day * kDay + start_minute_ * 60;
  int64_t close_local = (end_minute_ <= start_minute_ ? day + 1 : day) * kDay + end_minute_ * 60;
  Opening o{zone_.FirstReached(LocalSeconds(std::chrono::seconds(open_local))),
            zone_.FirstReached(LocalSeconds(std::chrono::seconds(close_local)))};
  if (o.close <= o.open) return std::nullopt;  // squeezed out by a DST gap
  return o;
}

bool MaintenanceWindow::Contains(TimePoint t) const {
  int64_t today = LocalDay(t);
  for (int64_t d = today - 2; d <= today + 1; ++d) {
    auto o = OpeningOfDay(d);
    if (o && o->open <= t && t < o->close) return true;
  }
  return false;
}

TimePoint MaintenanceWindow::NextOpen(TimePoint t) const {
  if (Contains(t)) return t;
  int64_t today = LocalDay(t);
  for (int64_t d = today - 1; d <= today + 9; ++d) {
    auto o = OpeningOfDay(d);
    if (o && o->open > t) return o->open;
  }
  return TimePoint::max();  // unreachable: at least one day is set
}

TimePoint MaintenanceWindow::CloseOf(TimePoint t) const {
  TimePoint at = Contains(t) ? t : NextOpen(t);
  if (at == TimePoint::max()) return at;
  int64_t today = LocalDay(at);
  std::optional<TimePoint> close;
  for (int64_t d = today - 2; d <= today + 9; ++d) {
    auto o = OpeningOfDay(d);
    if (!o) continue;
    if (!close) {
      if (o->open <= at && at < o->close) close = o->close;
    } else if (o->open <= *close) {
      if (o->close > *close) close = o->close;
    } else {
      break;
    }
  }
  return close.value_or(at);
}

}  // namespace nodeagent
