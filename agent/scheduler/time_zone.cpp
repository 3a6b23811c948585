#include "scheduler/time_zone.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <optional>

namespace nodeagent {

namespace {

using std::chrono::days;
using std::chrono::seconds;

constexpr int64_t kMinS = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxS = std::numeric_limits<int64_t>::max();
constexpr int64_t kDay = 86'400;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

TimePoint ToTimePoint(int64_t s) {
  static const int64_t max_s =
      std::chrono::duration_cast<seconds>(TimePoint::max().time_since_epoch()).count() - 1;
  static const int64_t min_s =
      std::chrono::duration_cast<seconds>(TimePoint::min().time_since_epoch()).count() + 1;
  if (s >= max_s) return TimePoint::max();
  if (s <= min_s) return TimePoint::min();
  return TimePoint(seconds(s));
}

int64_t ToSeconds(TimePoint t) { return std::chrono::floor<seconds>(t).time_since_epoch().count(); }

int64_t DaysFromCivil(int y, int m, int d) {
  using namespace std::chrono;
  return sys_days(year_month_day(year(y), month(static_cast<unsigned>(m)), day(static_cast<unsigned>(d))))
      .time_since_epoch()
      .count();
}

int CivilYearOf(int64_t s) {
  using namespace std::chrono;
  return static_cast<int>(year_month_day(sys_days(days(FloorDiv(s, kDay)))).year());
}

struct ZoneType {
  int32_t offset = 0;  // seconds east of UTC
  bool is_dst = false;
  std::string abbreviation;
};

/// When a POSIX rule switches: which day of the year, and the local time.
struct DateRule {
  enum class Kind { kJulian1, kJulian0, kMonthWeek };  // "Jn", "n", "Mm.w.d"
  Kind kind = Kind::kMonthWeek;
  int month = 0, week = 0, weekday = 0, day = 0;
  int32_t time = 2 * 3600;

  int64_t DayIn(int year) const {
    switch (kind) {
      case Kind::kJulian1: {
        static constexpr std::array<int, 12> kLen = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int m = 0, d = day;
        while (d > kLen[m]) d -= kLen[m++];
        return DaysFromCivil(year, m + 1, d);
      }
      case Kind::kJulian0:
        return DaysFromCivil(year, 1, 1) + day;
      case Kind::kMonthWeek: {
        int64_t first = DaysFromCivil(year, month, 1);
        int first_wd = static_cast<int>(std::chrono::weekday(std::chrono::sys_days(days(first))).c_encoding());
        int64_t d = first + (weekday - first_wd + 7) % 7 + (week - 1) * 7;
        int64_t next_month = month == 12 ? DaysFromCivil(year + 1, 1, 1) : DaysFromCivil(year, month + 1, 1);
        while (d >= next_month) d -= 7;
        return d;
      }
    }
    return 0;
  }
};

struct PosixRule {
  ZoneType std_type;
  bool has_dst = false;
  ZoneType dst_type;
  DateRule start, end;
};

/// Parser of POSIX TZ strings ("CET-1CEST,M3.5.0,M10.5.0/3", "<+03>-3").
class PosixParser {
 public:
  explicit PosixParser(std::string_view s) : s_(s) {}

  Result<PosixRule> Parse() {
    PosixRule r;
    if (!Name(r.std_type.abbreviation)) return Bad("expected a zone abbreviation");
    auto off = Offset(24);
    if (!off) return Bad("expected a UTC offset after the abbreviation");
    r.std_type.offset = -*off;
    if (Done()) return r;
    if (!Name(r.dst_type.abbreviation)) return Bad("expected a daylight-saving abbreviation");
    r.has_dst = true;
    r.dst_type.is_dst = true;
    r.dst_type.offset = r.std_type.offset + 3600;
    if (!Done() && Peek() != ',') {
      auto doff = Offset(24);
      if (!doff) return Bad("bad daylight-saving offset");
      r.dst_type.offset = -*doff;
    }
    if (Done()) return Bad("missing the ',start,end' daylight-saving rule");
    if (!Eat(',') || !Date(r.start) || !Eat(',') || !Date(r.end)) return Bad("bad ',start[/time],end[/time]' rule");
    if (!Done()) return Bad("unexpected trailing text");
    return r;
  }

 private:
  Error Bad(const std::string& what) const {
    return InvalidArgument("POSIX TZ rule \"" + std::string(s_) + "\": " + what + " at offset " + std::to_string(i_));
  }
  bool Done() const { return i_ >= s_.size(); }
  char Peek() const { return Done() ? '\0' : s_[i_]; }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++i_;
    return true;
  }
  bool Name(std::string& out) {
    if (Eat('<')) {
      size_t close = s_.find('>', i_);
      if (close == std::string_view::npos || close - i_ < 3) return false;
      out = std::string(s_.substr(i_, close - i_));
      i_ = close + 1;
      return true;
    }
    size_t start = i_;
    while (!Done() && std::isalpha(static_cast<unsigned char>(Peek()))) ++i_;
    if (i_ - start < 3) return false;
    out = std::string(s_.substr(start, i_ - start));
    return true;
  }
  std::optional<int> Number(int max) {
    size_t start = i_;
    int n = 0;
    while (!Done() && std::isdigit(static_cast<unsigned char>(Peek())) && i_ - start < 4) n = n * 10 + (s_[i_++] - '0');
    if (i_ == start || n > max) return std::nullopt;
    return n;
  }
  /// [+-]hh[:mm[:ss]] in seconds, POSIX sign (west positive).
  std::optional<int32_t> Offset(int max_hours) {
    int sign = 1;
    if (Eat('-')) sign = -1;
    else Eat('+');
    auto h = Number(max_hours);
    if (!h) return std::nullopt;
    int32_t total = *h * 3600;
    if (Eat(':')) {
      auto m = Number(59);
      if (!m) return std::nullopt;
      total += *m * 60;
      if (Eat(':')) {
        auto sec = Number(59);
        if (!sec) return std::nullopt;
        total += *sec;
      }
    }
    return sign * total;
  }
  bool Date(DateRule& d) {
    if (Eat('M')) {
      d.kind = DateRule::Kind::kMonthWeek;
      auto m = Number(12);
      if (!m || *m < 1 || !Eat('.')) return false;
      auto w = Number(5);
      if (!w || *w < 1 || !Eat('.')) return false;
      auto wd = Number(6);
      if (!wd) return false;
      d.month = *m, d.week = *w, d.weekday = *wd;
    } else if (Eat('J')) {
      d.kind = DateRule::Kind::kJulian1;
      auto n = Number(365);
      if (!n || *n < 1) return false;
      d.day = *n;
    } else {
      d.kind = DateRule::Kind::kJulian0;
      auto n = Number(365);
      if (!n) return false;
      d.day = *n;
    }
    if (Eat('/')) {
      auto t = Offset(167);  // RFC 8536 extension: -167..167 hours
      if (!t) return false;
      d.time = *t;
    }
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

struct Span {
  int64_t begin;
  int64_t end;
  const ZoneType* type;
};

}  // namespace

struct TimeZone::Data {
  std::string name;
  std::vector<int64_t> times;     // transition instants, ascending
  std::vector<uint8_t> type_of;   // type index per transition
  std::vector<ZoneType> types;    // at least one
  std::optional<PosixRule> rule;  // for instants after the last transition

  Span RuleSpan(int64_t t, int64_t lower) const {
    const PosixRule& r = *rule;
    if (!r.has_dst) return {lower, kMaxS, &r.std_type};
    struct Event {
      int64_t at;
      const ZoneType* type;
    };
    std::vector<Event> events;
    int y = CivilYearOf(t);
    for (int yy = y - 1; yy <= y + 1; ++yy) {
      events.push_back({r.start.DayIn(yy) * kDay + r.start.time - r.std_type.offset, &r.dst_type});
      events.push_back({r.end.DayIn(yy) * kDay + r.end.time - r.dst_type.offset, &r.std_type});
    }
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.at < b.at; });
    auto next = std::upper_bound(events.begin(), events.end(), t,
                                 [](int64_t v, const Event& e) { return v < e.at; });
    const ZoneType* type = next == events.begin() ? &r.std_type : std::prev(next)->type;
    int64_t begin = next == events.begin() ? lower : std::max(lower, std::prev(next)->at);
    int64_t end = next == events.end() ? kMaxS : next->at;
    return {begin, end, type};
  }

  Span SpanAt(int64_t t) const {
    if (times.empty()) return rule ? RuleSpan(t, kMinS) : Span{kMinS, kMaxS, &types[0]};
    size_t idx = std::upper_bound(times.begin(), times.end(), t) - times.begin();
    if (idx == 0) return {kMinS, times[0], &types[0]};
    if (idx < times.size()) return {times[idx - 1], times[idx], &types[type_of[idx - 1]]};
    if (rule) return RuleSpan(t, times.back());
    return {times.back(), kMaxS, &types[type_of.back()]};
  }
};

namespace {

/// Big-endian reader over TZif bytes; every read checks bounds.
class ByteReader {
 public:
  explicit ByteReader(std::string_view b) : b_(b) {}
  bool Has(size_t n) const { return b_.size() - pos_ >= n; }
  size_t pos() const { return pos_; }
  void Skip(size_t n) { pos_ += n; }
  int64_t Int(int width) {
    uint64_t v = 0;
    for (int i = 0; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(b_[pos_++]);
    if (width == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
    return static_cast<int64_t>(v);
  }
  uint8_t Byte() { return static_cast<unsigned char>(b_[pos_++]); }
  std::string_view Rest() const { return b_.substr(pos_); }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

struct TzifCounts {
  char version = 0;
  int64_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
  size_t BlockSize(int time_width) const {
    return timecnt * time_width + timecnt + typecnt * 6 + charcnt + leapcnt * (time_width + 4) + isstdcnt + isutcnt;
  }
};

std::optional<TzifCounts> ReadHeader(ByteReader& r) {
  if (!r.Has(44) || r.Rest().substr(0, 4) != "TZif") return std::nullopt;
  r.Skip(4);
  TzifCounts c;
  c.version = static_cast<char>(r.Byte());
  r.Skip(15);
  c.isutcnt = r.Int(4), c.isstdcnt = r.Int(4), c.leapcnt = r.Int(4);
  c.timecnt = r.Int(4), c.typecnt = r.Int(4), c.charcnt = r.Int(4);
  for (int64_t n : {c.isutcnt, c.isstdcnt, c.leapcnt, c.timecnt, c.typecnt, c.charcnt}) {
    if (n < 0 || n > 100'000) return std::nullopt;
  }
  return c;
}

}  // namespace

Result<TimeZone> TimeZone::FromTzif(std::string_view bytes, std::string name) {
  auto bad = [&](const std::string& what) {
    return InvalidArgument("time zone \"" + name + "\": not a valid TZif file: " + what);
  };
  ByteReader r(bytes);
  auto counts = ReadHeader(r);
  if (!counts) return bad("missing or truncated 'TZif' header");
  int width = 4;
  if (counts->version >= '2') {
    if (!r.Has(counts->BlockSize(4))) return bad("truncated version 1 data block");
    r.Skip(counts->BlockSize(4));
    counts = ReadHeader(r);
    if (!counts) return bad("missing or truncated second (64-bit) header");
    width = 8;
  }
  const TzifCounts& c = *counts;
  if (c.typecnt == 0) return bad("no local time types");
  if ((c.isstdcnt != 0 && c.isstdcnt != c.typecnt) || (c.isutcnt != 0 && c.isutcnt != c.typecnt)) {
    return bad("indicator counts do not match the type count");
  }
  if (!r.Has(c.BlockSize(width))) return bad("truncated data block");

  auto data = std::make_shared<Data>();
  data->name = name;
  for (int64_t i = 0; i < c.timecnt; ++i) {
    int64_t t = r.Int(width);
    if (!data->times.empty() && t <= data->times.back()) return bad("transition times are not ascending");
    data->times.push_back(t);
  }
  for (int64_t i = 0; i < c.timecnt; ++i) {
    uint8_t idx = r.Byte();
    if (idx >= c.typecnt) return bad("transition type index out of range");
    data->type_of.push_back(idx);
  }
  std::vector<uint8_t> abbr_index;
  for (int64_t i = 0; i < c.typecnt; ++i) {
    ZoneType type;
    int64_t off = r.Int(4);
    if (off < -89'999 || off > 93'599) return bad("UTC offset out of range");
    type.offset = static_cast<int32_t>(off);
    uint8_t dst = r.Byte();
    if (dst > 1) return bad("isdst flag is not 0 or 1");
    type.is_dst = dst == 1;
    abbr_index.push_back(r.Byte());
    data->types.push_back(type);
  }
  std::string_view chars = r.Rest().substr(0, c.charcnt);
  for (size_t i = 0; i < data->types.size(); ++i) {
    if (abbr_index[i] >= chars.size()) return bad("abbreviation index out of range");
    std::string_view a = chars.substr(abbr_index[i]);
    data->types[i].abbreviation = std::string(a.substr(0, a.find('\0')));
  }
  r.Skip(c.BlockSize(width) - (c.timecnt * width + c.timecnt + c.typecnt * 6));

  if (width == 8) {
    std::string_view rest = r.Rest();
    if (rest.empty() || rest[0] != '\n') return bad("missing footer");
    size_t nl = rest.find('\n', 1);
    if (nl == std::string_view::npos) return bad("unterminated footer");
    std::string_view footer = rest.substr(1, nl - 1);
    if (!footer.empty()) {
      auto rule = PosixParser(footer).Parse();
      if (!rule) return rule.error().Wrap("time zone \"" + name + "\" footer");
      data->rule = std::move(*rule);
    }
  }
  return TimeZone(std::move(data));
}

Result<TimeZone> TimeZone::FromPosixRule(std::string_view rule, std::string name) {
  auto parsed = PosixParser(rule).Parse();
  if (!parsed) return parsed.error();
  auto data = std::make_shared<Data>();
  data->name = std::move(name);
  data->types.push_back(parsed->std_type);
  data->rule = std::move(*parsed);
  return TimeZone(std::move(data));
}

TimeZone TimeZone::Utc() {
  static const std::shared_ptr<const Data> utc = [] {
    auto d = std::make_shared<Data>();
    d->name = "UTC";
    d->types.push_back(ZoneType{0, false, "UTC"});
    return d;
  }();
  return TimeZone(utc);
}

Result<TimeZone> TimeZone::Load(const FileSystem& files, std::string_view name) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("time zone \"" + std::string(name) + "\": " + why +
                           "; expected an IANA name like \"Europe/Berlin\" or \"UTC\"");
  };
  if (name.empty()) return bad("empty name");
  // UTC needs no tzdata (minimal images and temp roots have none).
  if (name == "UTC" || name == "Etc/UTC" || name == "Zulu" || name == "Etc/Zulu") return Utc();
  if (name.front() == '/') return bad("must not be an absolute path");
  for (char ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && std::string_view("/_-+.").find(ch) == std::string_view::npos) {
      return bad("contains the character '" + std::string(1, ch) + "'");
    }
  }
  if (name == ".." || name.starts_with("../") || name.ends_with("/..") ||
      name.find("/../") != std::string_view::npos) {
    return bad("must not contain \"..\"");
  }
  std::string path = "/usr/share/zoneinfo/" + std::string(name);
  auto bytes = files.ReadFile(path);
  if (!bytes) {
    if (bytes.error().code() == ErrorCode::kNotFound) {
      return NotFound("time zone \"" + std::string(name) + "\" not found: " + path +
                      " does not exist (check the name, or install the tzdata package)");
    }
    return bytes.error().Wrap("loading time zone \"" + std::string(name) + "\"");
  }
  return FromTzif(*bytes, std::string(name));
}

TimeZone TimeZone::LoadLocal(const FileSystem& files) {
  auto bytes = files.ReadFile("/etc/localtime");
  if (!bytes) return Utc();
  std::string name = "localtime";
  if (auto tz = files.ReadFile("/etc/timezone")) {
    std::string n = *tz;
    while (!n.empty() && std::isspace(static_cast<unsigned char>(n.back()))) n.pop_back();
    if (!n.empty() && n.find('\n') == std::string::npos) name = n;
  }
  auto zone = FromTzif(*bytes, name);
  return zone ? *zone : Utc();
}

const std::string& TimeZone::name() const { return data_->name; }

OffsetPeriod TimeZone::PeriodAt(TimePoint t) const {
  Span s = data_->SpanAt(ToSeconds(t));
  return OffsetPeriod{ToTimePoint(s.begin), ToTimePoint(s.end), seconds(s.type->offset), s.type->is_dst,
                      s.type->abbreviation};
}

LocalSeconds TimeZone::ToLocalSeconds(TimePoint t) const {
  int64_t s = ToSeconds(t);
  return LocalSeconds(seconds(s + data_->SpanAt(s).type->offset));
}

CivilTime TimeZone::ToLocal(TimePoint t) const { return ToCivil(ToLocalSeconds(t)); }

LocalMapping TimeZone::FromLocal(const CivilTime& local) const { return FromLocal(nodeagent::ToLocalSeconds(local)); }

LocalMapping TimeZone::FromLocal(LocalSeconds local) const {
  const int64_t l = local.time_since_epoch().count();
  // Offsets lie within +-26 h, so every solution is in a period that meets
  // [l - 27h, l + 27h]; walk those periods in order.
  std::vector<int64_t> solutions;
  std::optional<int64_t> gap_end;
  Span prev{0, 0, nullptr};
  int64_t t = l - 27 * 3600;
  for (int i = 0; i < 64; ++i) {
    Span s = data_->SpanAt(t);
    int64_t cand = l - s.type->offset;
    if (cand >= s.begin && cand < s.end) solutions.push_back(cand);
    if (prev.type != nullptr && !gap_end && s.begin + prev.type->offset <= l && l < s.begin + s.type->offset) {
      gap_end = s.begin;
    }
    if (s.end == kMaxS || s.end > l + 27 * 3600) break;
    prev = s;
    t = s.end;
  }
  LocalMapping m;
  if (solutions.empty()) {
    m.kind = LocalMapping::Kind::kNonexistent;
    m.first = m.second = ToTimePoint(gap_end.value_or(l - data_->SpanAt(l).type->offset));
  } else {
    std::sort(solutions.begin(), solutions.end());
    m.kind = solutions.size() == 1 ? LocalMapping::Kind::kUnique : LocalMapping::Kind::kAmbiguous;
    m.first = ToTimePoint(solutions.front());
    m.second = ToTimePoint(solutions.back());
  }
  return m;
}

TimePoint TimeZone::FirstReached(LocalSeconds local) const { return FromLocal(local).first; }

LocalSeconds ToLocalSeconds(const CivilTime& c) {
  return LocalSeconds(seconds(DaysFromCivil(c.year, c.month, c.day) * kDay + c.hour * 3600 + c.minute * 60 + c.second));
}

CivilTime ToCivil(LocalSeconds s) {
  using namespace std::chrono;
  int64_t total = s.time_since_epoch().count();
  int64_t d = FloorDiv(total, kDay);
  int64_t rem = total - d * kDay;
  year_month_day ymd{sys_days(days(d))};
  CivilTime c;
  c.year = static_cast<int>(ymd.year());
  c.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  c.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  c.hour = static_cast<int>(rem / 3600);
  c.minute = static_cast<int>(rem % 3600 / 60);
  c.second = static_cast<int>(rem % 60);
  c.weekday = static_cast<int>(weekday(sys_days(days(d))).c_encoding());
  return c;
}

}  // namespace nodeagent
