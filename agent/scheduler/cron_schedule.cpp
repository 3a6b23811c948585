#include "scheduler/cron_schedule.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include "nodeagent/params.h"

namespace nodeagent {

namespace {

using std::chrono::seconds;

constexpr int64_t kDay = 86'400;
constexpr int kSearchDays = 8 * 366 + 1;  // Feb 29 may be 8 years away (2096 -> 2104)

/// One of the five cron fields: its name, bounds and optional names.
struct Field {
  const char* name;
  int min;
  int max;
  const char* range;  // for error messages: "0-7 (0 and 7 are Sunday)"
  const char* named;  // accepted names, "" when none: "JAN-DEC"
  const std::array<const char*, 12>* names;  // names[i] is value names_base + i
  int names_base;
};

constexpr std::array<const char*, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<const char*, 12> kDayNames = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT",
                                                   nullptr, nullptr, nullptr, nullptr, nullptr};

const Field kFields[5] = {
    {"minute", 0, 59, "0-59", "", nullptr, 0},
    {"hour", 0, 23, "0-23", "", nullptr, 0},
    {"day-of-month", 1, 31, "1-31", "", nullptr, 0},
    {"month", 1, 12, "1-12", "JAN-DEC", &kMonthNames, 1},
    {"day-of-week", 0, 7, "0-7 (0 and 7 are Sunday)", "SUN-SAT", &kDayNames, 0},
};

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}


Error FieldError(const Field& f, std::string_view token, const std::string& problem) {
  return InvalidArgument(std::string(f.name) + ": '" + std::string(token) + "' " + problem);
}

/// A number or (for month/day-of-week) a three-letter name.
Result<int> ParseValue(const Field& f, std::string_view token) {
  if (!token.empty() && std::all_of(token.begin(), token.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    int v = token.size() > 4 ? 100'000 : std::stoi(std::string(token));
    if (v < f.min || v > f.max) return FieldError(f, token, std::string("out of range ") + f.range);
    return v;
  }
  if (f.names != nullptr) {
    std::string up = Upper(token);
    for (size_t i = 0; i < f.names->size(); ++i) {
      if ((*f.names)[i] != nullptr && up == (*f.names)[i]) return static_cast<int>(i) + f.names_base;
    }
  }
  std::string expected = std::string(f.range) + (*f.named ? std::string(" or names ") + f.named : "");
  return FieldError(f, token, "is not a valid value (expected " + expected + ")");
}

/// Parses one field into a bit set (bit n = value n).
Result<uint64_t> ParseField(const Field& f, std::string_view text) {
  uint64_t bits = 0;
  for (std::string_view item : Split(text, ',')) {
    if (item.empty()) return FieldError(f, text, "has an empty list item");
    std::vector<std::string_view> parts = Split(item, '/');
    if (parts.size() > 2) return FieldError(f, item, "has more than one '/'");
    std::string_view base = parts[0];
    int lo, hi, step = 1;
    if (parts.size() == 2) {
      std::string_view s = parts[1];
      bool digits = !s.empty() && s.size() <= 4 &&
                    std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
      int max_step = f.max - f.min;
      if (!digits || std::stoi(std::string(s)) < 1 || std::stoi(std::string(s)) > max_step) {
        return FieldError(f, item, "has an invalid step '" + std::string(s) + "' (expected 1-" +
                                       std::to_string(max_step) + ")");
      }
      step = std::stoi(std::string(s));
    }
    if (base == "*") {
      lo = f.min, hi = f.max;
    } else {
      size_t dash = base.find('-');
      if (dash == 0 || (dash != std::string_view::npos && dash + 1 == base.size())) {
        return FieldError(f, item, "is not a valid range (expected a-b, e.g. 1-5)");
      }
      auto a = ParseValue(f, base.substr(0, dash));
      if (!a) return a.error();
      lo = hi = *a;
      if (dash != std::string_view::npos) {
        auto b = ParseValue(f, base.substr(dash + 1));
        if (!b) return b.error();
        hi = *b;
        if (lo > hi) {
          return FieldError(f, item, "is a backwards range (write the smaller value first, or use a list)");
        }
      } else if (parts.size() == 2) {
        return FieldError(f, item, "has a step without a range (write '*/n' or 'a-b/n')");
      }
    }
    for (int v = lo; v <= hi; v += step) bits |= uint64_t{1} << v;
  }
  return bits;
}

struct Macro {
  const char* name;
  const char* expansion;  // nullptr: @reboot
};
constexpr Macro kMacros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"}, {"@reboot", nullptr},
};

TimePoint FromLocal(LocalSeconds local, seconds offset) {
  return TimePoint(local.time_since_epoch() - offset);
}

LocalSeconds CeilMinute(LocalSeconds s) {
  int64_t v = s.time_since_epoch().count();
  int64_t r = ((v % 60) + 60) % 60;
  return LocalSeconds(seconds(r == 0 ? v : v + 60 - r));
}

LocalSeconds FloorMinute(LocalSeconds s) {
  int64_t v = s.time_since_epoch().count();
  return LocalSeconds(seconds(v - ((v % 60) + 60) % 60));
}

}  // namespace

std::vector<std::string_view> SplitSpace(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t start = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

Result<Schedule> Schedule::Parse(std::string_view input) {
  std::string_view text = Trim(input);
  auto wrap = [&](const Error& e) { return e.Wrap("schedule \"" + std::string(text) + "\""); };
  if (text.empty()) {
    return InvalidArgument("empty schedule: expected five cron fields (\"30 2 * * *\"), a macro (\"@daily\") or "
                           "an interval (\"every 6h\")");
  }
  Schedule s;
  s.text_ = std::string(text);

  if (text.front() == '@') {
    std::string lower(text);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const Macro& m : kMacros) {
      if (lower != m.name) continue;
      if (m.expansion == nullptr) {
        s.kind_ = Kind::kReboot;
        return s;
      }
      auto expanded = Parse(m.expansion);
      if (!expanded) return expanded.error();
      expanded->text_ = s.text_;
      return expanded;
    }
    return wrap(InvalidArgument(
        "unknown macro; expected @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @reboot"));
  }

  std::vector<std::string_view> words = SplitSpace(text);
  if (Upper(words[0]) == "EVERY") {
    if (words.size() != 2) return wrap(InvalidArgument("expected \"every <duration>\", e.g. \"every 6h\""));
    auto d = ParseDuration(words[1]);
    if (!d) return wrap(d.error().Wrap("every"));
    if (*d < std::chrono::minutes(1)) {
      return wrap(InvalidArgument("every: '" + std::string(words[1]) + "' is shorter than the minimum of 1m"));
    }
    s.kind_ = Kind::kInterval;
    s.interval_ = *d;
    return s;
  }

  if (words.size() != 5) {
    return wrap(InvalidArgument("expected 5 fields (minute hour day-of-month month day-of-week), got " +
                                std::to_string(words.size())));
  }
  uint64_t bits[5];
  for (int i = 0; i < 5; ++i) {
    auto b = ParseField(kFields[i], words[i]);
    if (!b) return wrap(b.error());
    bits[i] = *b;
  }
  s.minutes_ = bits[0];
  s.hours_ = static_cast<uint32_t>(bits[1]);
  s.days_ = static_cast<uint32_t>(bits[2]);
  s.months_ = static_cast<uint16_t>(bits[3]);
  s.weekdays_ = static_cast<uint8_t>((bits[4] | (bits[4] >> 7)) & 0x7f);  // 7 -> Sunday (0)
  s.dom_star_ = words[2].front() == '*';
  s.dow_star_ = words[4].front() == '*';
  s.wildcard_ = words[0].front() == '*' || words[1].front() == '*';
  return s;
}

bool Schedule::DayMatches(int day_of_month, int weekday) const {
  bool dom = (days_ >> day_of_month) & 1;
  bool dow = (weekdays_ >> weekday) & 1;
  if (dom_star_ || dow_star_) return dom && dow;
  return dom || dow;
}

std::optional<LocalSeconds> Schedule::NextLocalMatch(LocalSeconds from) const {
  using namespace std::chrono;
  int64_t s = CeilMinute(from).time_since_epoch().count();
  int64_t day = s >= 0 ? s / kDay : (s - kDay + 1) / kDay;
  int64_t sec = s - day * kDay;
  int h0 = static_cast<int>(sec / 3600), m0 = static_cast<int>(sec % 3600 / 60);
  const int64_t last_day = day + kSearchDays;
  while (day <= last_day) {
    year_month_day ymd{sys_days(days(day))};
    unsigned month = static_cast<unsigned>(ymd.month());
    if (!((months_ >> month) & 1)) {
      // Skip the rest of this month.
      year_month_day next = ymd.year() / ymd.month() / 1d + months(1);
      day = sys_days(next).time_since_epoch().count();
      h0 = m0 = 0;
      continue;
    }
    int wd = static_cast<int>(weekday(sys_days(days(day))).c_encoding());
    if (DayMatches(static_cast<int>(static_cast<unsigned>(ymd.day())), wd)) {
      for (int h = h0; h < 24; ++h) {
        if (!((hours_ >> h) & 1)) continue;
        for (int m = (h == h0 ? m0 : 0); m < 60; ++m) {
          if ((minutes_ >> m) & 1) return LocalSeconds(seconds(day * kDay + h * 3600 + m * 60));
        }
      }
    }
    ++day;
    h0 = m0 = 0;
  }
  return std::nullopt;
}

std::optional<TimePoint> Schedule::NextAfter(TimePoint after, const TimeZone& tz,
                                             std::optional<TimePoint> last_run) const {
  switch (kind_) {
    case Kind::kReboot:
      return std::nullopt;
    case Kind::kInterval: {
      const auto step = std::chrono::duration_cast<TimePoint::duration>(interval_);
      const TimePoint anchor = last_run.value_or(TimePoint{});
      if (after < anchor) return anchor + step;
      auto k = (after - anchor) / step + 1;
      return anchor + k * step;
    }
    case Kind::kCron:
      break;
  }
  // Candidates are whole local minutes strictly after `after`.
  const LocalSeconds first_candidate = FloorMinute(tz.ToLocalSeconds(after)) + std::chrono::minutes(1);

  if (!wildcard_) {
    // Fixed-time job: each matching wall time runs at the first instant the
    // clock reads it (FirstReached is monotonic, so the first one after
    // `after` is the answer). At most the minutes of one overlap are skipped.
    LocalSeconds from = first_candidate;
    for (int i = 0; i < 10'000; ++i) {
      auto wall = NextLocalMatch(from);
      if (!wall) return std::nullopt;
      TimePoint at = tz.FirstReached(*wall);
      if (at == TimePoint::max()) return std::nullopt;  // beyond what TimePoint holds (year 2262)
      if (at > after) return at;
      from = *wall + std::chrono::minutes(1);
    }
    return std::nullopt;
  }

  // Wildcard job: walk the periods of constant offset; in each, local time is
  // a plain shift of real time, so the first matching minute inside the period
  // is the answer.
  const TimePoint horizon = after < TimePoint::max() - std::chrono::days(kSearchDays)
                                ? after + std::chrono::days(kSearchDays)
                                : TimePoint::max();
  TimePoint t = after;
  for (int i = 0; i < 1'000 && t < horizon; ++i) {
    OffsetPeriod p = tz.PeriodAt(t);
    LocalSeconds from = i == 0 ? first_candidate
                               : CeilMinute(LocalSeconds(std::chrono::floor<seconds>(p.begin).time_since_epoch() + p.offset));
    auto wall = NextLocalMatch(from);
    if (!wall) return std::nullopt;
    if (wall->time_since_epoch() - p.offset >=
        std::chrono::floor<seconds>(TimePoint::max()).time_since_epoch()) {
      return std::nullopt;  // beyond what TimePoint holds (year 2262)
    }
    TimePoint at = FromLocal(*wall, p.offset);
    if (p.end == TimePoint::max() || at < p.end) return at;
    t = p.end;
  }
  return std::nullopt;
}

}  // namespace nodeagent
