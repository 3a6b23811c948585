#include "nodeagent/params.h"

#include <stdexcept>

#include <cctype>
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
  }
  return "unknown";
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

}  // namespace nodeagent
