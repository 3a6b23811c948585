// Typed parameters. A plugin declares each of its actions' parameters in a table
// of ParamSpec rows (like fluent-bit's config_map); that one table drives config
// validation (unknown keys and wrong types are errors), `agentctl describe`, the
// man page and the docs. Actions then read validated, typed values from Params.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "nodeagent/result.h"

namespace nodeagent {

enum class ParamType {
  kString,
  kInt,
  kBool,
  kFloat,
  kDuration,    // "30s", "10m", "6h", "10d", "2w", "500ms", or a bare number of seconds
  kStringList,  // ["a", "b"]; a single string is accepted as a one-item list
  kEnum,        // a string from `allowed`
};

const char* ParamTypeName(ParamType type);

using Duration = std::chrono::milliseconds;

/// The accepted values of a kInt, kFloat or kDuration parameter, both ends
/// included (kDuration in milliseconds; exact up to 2^53). Every parameter of
/// those types must declare one and no other type may: the loader refuses a
/// table that breaks this (HasValidRanges is the compile-time half of that
/// check), so no number reaches an action unchecked. A value outside it is a
/// config error naming file:line:col and the range.
struct ParamRange {
  bool declared = false;
  double min = 0;
  double max = 0;
};

constexpr ParamRange IntRange(int64_t min, int64_t max) {
  return {true, static_cast<double>(min), static_cast<double>(max)};
}
constexpr ParamRange FloatRange(double min, double max) { return {true, min, max}; }
constexpr ParamRange DurationRange(Duration min, Duration max) {
  return {true, static_cast<double>(min.count()), static_cast<double>(max.count())};
}

/// One row of a plugin's parameter table. Plain data, constexpr-friendly.
struct ParamSpec {
  std::string_view name;
  ParamType type;
  /// Default as a TOML value literal ("\"10d\"", "true", "[\"*.log\"]", "5"),
  /// empty when the parameter has no default (then it is optional unless
  /// `required`).
  std::string_view default_value;
  std::string_view doc;
  /// For kEnum: the accepted values.
  std::span<const std::string_view> allowed = {};
  bool required = false;
  /// A credential (a join token, a webhook URL with its token): never shown.
  /// Run history, `agentctl config show` and `-o json` print kRedacted
  /// instead; the value is kept only in a root-only file while its run can
  /// still be resumed, and passed to the action as usual.
  bool secret = false;
  /// For kInt, kFloat and kDuration (mandatory there, empty elsewhere): the
  /// accepted values, e.g. `.range = IntRange(1, 100'000)`.
  ParamRange range = {};
};

/// True when every numeric row (kInt, kFloat, kDuration) of `table` declares
/// a range with min <= max (whole numbers but for kFloat) and no other row
/// does. For static_assert on constexpr tables; the loader checks every table
/// again, defaults included.
constexpr bool HasValidRanges(std::span<const ParamSpec> table) {
  auto whole = [](double x) { return x >= -9.2e18 && x <= 9.2e18 && static_cast<double>(static_cast<int64_t>(x)) == x; };
  for (const ParamSpec& p : table) {
    bool numeric = p.type == ParamType::kInt || p.type == ParamType::kFloat || p.type == ParamType::kDuration;
    if (numeric != p.range.declared) return false;
    if (numeric && !(p.range.min <= p.range.max)) return false;
    if (numeric && p.type != ParamType::kFloat && !(whole(p.range.min) && whole(p.range.max))) return false;
  }
  return true;
}

/// What is shown in place of a secret parameter's value.
inline constexpr const char* kRedacted = "<redacted>";

using ParamValue = std::variant<bool, int64_t, double, std::string, std::vector<std::string>, Duration>;

/// Parses "10d", "1h30m", "500ms", "45" (seconds). Units: ms s m h d w.
Result<Duration> ParseDuration(std::string_view text);
/// "10d", "90m", "1h30m" back again (largest units first).
std::string FormatDuration(Duration d);

/// Validated parameter values of one run. Getters on a name that is not set
/// (an optional parameter without a default: ask Has() first) or with the
/// wrong type are programming errors: they throw std::logic_error, which the
/// core reports as the run's failure or a config error, never a crash.
class Params {
 public:
  Params() = default;

  bool Has(std::string_view name) const;
  const std::string& GetString(std::string_view name) const;  // kString and kEnum
  int64_t GetInt(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  double GetFloat(std::string_view name) const;
  Duration GetDuration(std::string_view name) const;
  const std::vector<std::string>& GetList(std::string_view name) const;

  void Set(std::string name, ParamValue value) { values_[std::move(name)] = std::move(value); }
  const std::map<std::string, ParamValue, std::less<>>& values() const { return values_; }

 private:
  const ParamValue& Get(std::string_view name) const;
  std::map<std::string, ParamValue, std::less<>> values_;
};

}  // namespace nodeagent
