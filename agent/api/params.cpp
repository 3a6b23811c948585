#include "nodeagent/params.h"

#include <stdexcept>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace nodeagent {

const char* ParamTypeName(ParamType type) {
  switch (type) {
    case ParamType::kString: return "string";
    case ParamType::kInt: return "integer";
    case ParamType::kBool: return "boolean";
    case ParamType::kFloat: return "float";
    case ParamType::kDuration: return "duration";
    case ParamType::kStringList: return "list of strings";
    case ParamType::kEnum: return "enum";
    case ParamType::kIntList: return "list of integers";
    case ParamType::kPortList: return "list of ports";
    case ParamType::kStringMap: return "map of strings";
  }
  return "unknown";
}

std::string FormatPortRange(PortRange range) {
  std::string out = std::to_string(range.first);
  if (range.last != range.first) out += "-" + std::to_string(range.last);
  return out;
}

Result<PortRange> ParsePortRange(std::string_view text) {
  auto syntax = [&] {
    return InvalidArgument("\"" + std::string(text.substr(0, 64)) +
                           "\" is not a port or port range: write a port (1 to 65535) like 6443 or a range like "
                           "\"2379-2380\"");
  };
  // One port: digits only; a value outside 1..65535 is reported as such.
  auto port = [&](std::string_view digits) -> Result<uint16_t> {
    uint64_t value = 0;
    if (digits.empty() || digits.size() > 12) return syntax();
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size()) return syntax();
    if (value < 1 || value > 65535) return InvalidArgument("must be between 1 and 65535, got " + std::to_string(value));
    return static_cast<uint16_t>(value);
  };
  size_t dash = text.find('-');
  auto first = port(text.substr(0, dash));
  if (!first) return first.error();
  if (dash == std::string_view::npos) return PortRange{*first, *first};
  auto last = port(text.substr(dash + 1));
  if (!last) return last.error();
  if (*last < *first)
    return InvalidArgument("\"" + std::string(text) + "\" is not a port range: its first port is above its last");
  return PortRange{*first, *last};
}

std::string FormatRangeBound(const ParamSpec& spec, double bound) {
  constexpr double kEdge = 9'223'372'036'854'775'807.0;  // 2^63: the cast below must stay defined
  auto whole = [&] {
    if (bound >= kEdge) return std::numeric_limits<int64_t>::max();
    if (bound <= -kEdge) return -std::numeric_limits<int64_t>::max();
    return static_cast<int64_t>(bound);
  };
  switch (spec.type) {
    case ParamType::kInt:
    case ParamType::kIntList: return std::to_string(whole());
    case ParamType::kDuration: return FormatDuration(Duration(whole()));
    default: {
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, bound);
      return ec == std::errc() ? std::string(buf, end) : std::string("?");
    }
  }
}

std::string RangeText(const ParamSpec& spec) {
  if (!spec.range.declared) return "";
  return "between " + FormatRangeBound(spec, spec.range.min) + " and " + FormatRangeBound(spec, spec.range.max);
}

Status CheckRange(const ParamSpec& spec, const ParamValue& value) {
  if (!spec.range.declared) return Status::Ok();
  auto check = [&](double x, const std::string& shown) -> Status {
    if (x >= spec.range.min && x <= spec.range.max) return Status::Ok();  // false for NaN
    return InvalidArgument("must be " + RangeText(spec) + ", got " + shown);
  };
  if (const int64_t* i = std::get_if<int64_t>(&value)) return check(static_cast<double>(*i), std::to_string(*i));
  if (const double* d = std::get_if<double>(&value)) return check(*d, FormatRangeBound(spec, *d));
  if (const Duration* ms = std::get_if<Duration>(&value)) return check(static_cast<double>(ms->count()), FormatDuration(*ms));
  if (const auto* items = std::get_if<std::vector<int64_t>>(&value)) {
    for (size_t n = 0; n < items->size(); ++n) {
      int64_t i = (*items)[n];
      if (Status st = check(static_cast<double>(i), std::to_string(i)); !st.ok())
        return InvalidArgument(st.error().message() + " (item " + std::to_string(n + 1) + ")");
    }
  }
  return Status::Ok();
}

Result<Duration> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument("invalid duration \"" + std::string(text) +
                           "\": expected a number with a unit (ms, s, m, h, d, w), e.g. 30s, 10d, 1h30m");
  };
  if (text.empty()) return bad();
  size_t i = 0;
  bool all_digits = true;
  for (char c : text) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(c));
  if (all_digits) {
    if (text.size() > 12) return bad();
    return Duration(std::stoll(std::string(text)) * 1000);
  }
  int64_t total_ms = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start || i - start > 12) return bad();
    int64_t n = std::stoll(std::string(text.substr(start, i - start)));
    size_t ustart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(ustart, i - ustart);
    int64_t mult;
    if (unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m") mult = 60'000;
    else if (unit == "h") mult = 3'600'000;
    else if (unit == "d") mult = 86'400'000;
    else if (unit == "w") mult = 7 * 86'400'000LL;
    else return bad();
    if (n > (std::numeric_limits<int64_t>::max() - total_ms) / mult)
      return InvalidArgument("duration \"" + std::string(text) + "\" is too large");
    total_ms += n * mult;
  }
  return Duration(total_ms);
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) { out = "-"; ms = -ms; }
  constexpr int64_t kWeek = 7 * 86'400'000LL;
  if (ms % kWeek == 0) return out + std::to_string(ms / kWeek) + "w";  // "2w", but "10d" not "1w3d"
  struct U { int64_t ms; const char* name; };
  static const U units[] = {{86'400'000, "d"}, {3'600'000, "h"},
                            {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const U& u : units) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.name;
      ms %= u.ms;
    }
  }
  return out;
}

bool Params::Has(std::string_view name) const { return values_.find(name) != values_.end(); }

const ParamValue& Params::Get(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    // An optional parameter without a default, read without Has(): a bug in
    // the plugin, reported as its failed run or config error, not a crash.
    throw std::logic_error("parameter '" + std::string(name) +
                           "' read but not set (optional without a default: check Has() first)");
  }
  return it->second;
}

template <typename T>
static const T& As(const ParamValue& v, std::string_view name) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw std::logic_error("parameter '" + std::string(name) + "' read with the wrong type");
}

const std::string& Params::GetString(std::string_view n) const { return As<std::string>(Get(n), n); }
int64_t Params::GetInt(std::string_view n) const { return As<int64_t>(Get(n), n); }
bool Params::GetBool(std::string_view n) const { return As<bool>(Get(n), n); }
double Params::GetFloat(std::string_view n) const { return As<double>(Get(n), n); }
Duration Params::GetDuration(std::string_view n) const { return As<Duration>(Get(n), n); }
const std::vector<std::string>& Params::GetList(std::string_view n) const {
  return As<std::vector<std::string>>(Get(n), n);
}
const std::vector<int64_t>& Params::GetIntList(std::string_view n) const { return As<std::vector<int64_t>>(Get(n), n); }
const std::vector<PortRange>& Params::GetPorts(std::string_view n) const {
  return As<std::vector<PortRange>>(Get(n), n);
}
const StringMap& Params::GetStringMap(std::string_view n) const { return As<StringMap>(Get(n), n); }

}  // namespace nodeagent
