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
  kIntList,     // [1, 2, 3]; each item within the row's range; a single integer is a one-item list
  kPortList,    // [6443, "2379-2380", 10250]: ports 1..65535 and ranges; a single port or range is a one-item list
  kStringMap,   // { "net.ipv4.ip_forward" = "1" } (inline table or [tasks.X.name] table) of strings
};

const char* ParamTypeName(ParamType type);

using Duration = std::chrono::milliseconds;

/// The accepted values of a kInt, kFloat or kDuration parameter, and of each
/// item of a kIntList, both ends included (kDuration in milliseconds; exact up
/// to 2^53). Every parameter of those types must declare one and no other type
/// may (a port is always 1..65535): the loader refuses a table that breaks
/// this (HasValidRanges is the compile-time half of that check), so no number
/// reaches an action unchecked. A value outside it is a config error naming
/// file:line:col and the range.
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
  /// For kInt, kFloat, kDuration and kIntList (mandatory there, empty
  /// elsewhere): the accepted values, e.g. `.range = IntRange(1, 100'000)`.
  ParamRange range = {};
};

/// True for the types whose rows must declare a range: kInt, kFloat,
/// kDuration and kIntList (each item).
constexpr bool TakesRange(ParamType type) {
  return type == ParamType::kInt || type == ParamType::kFloat || type == ParamType::kDuration ||
         type == ParamType::kIntList;
}

/// True when every numeric row (TakesRange) of `table` declares a range with
/// min <= max (whole numbers but for kFloat) and no other row does. For
/// static_assert on constexpr tables; the loader checks every table again,
/// defaults included.
constexpr bool HasValidRanges(std::span<const ParamSpec> table) {
  auto whole = [](double x) { return x >= -9.2e18 && x <= 9.2e18 && static_cast<double>(static_cast<int64_t>(x)) == x; };
  for (const ParamSpec& p : table) {
    bool numeric = TakesRange(p.type);
    if (numeric != p.range.declared) return false;
    if (numeric && !(p.range.min <= p.range.max)) return false;
    if (numeric && p.type != ParamType::kFloat && !(whole(p.range.min) && whole(p.range.max))) return false;
  }
  return true;
}

/// What is shown in place of a secret parameter's value.
inline constexpr const char* kRedacted = "<redacted>";

/// One item of a kPortList: a port (first == last) or a range of ports,
/// both ends included, 1 <= first <= last <= 65535.
struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;

  constexpr bool Contains(uint16_t port) const { return port >= first && port <= last; }
  friend constexpr bool operator==(const PortRange&, const PortRange&) = default;
};

/// "6443" or "2379-2380".
std::string FormatPortRange(PortRange range);
/// Parses "6443" or "2379-2380" (no spaces; ports 1..65535, first <= last).
Result<PortRange> ParsePortRange(std::string_view text);

using StringMap = std::map<std::string, std::string, std::less<>>;

/// Bounds on the values of the list and map types beyond what the config
/// file's size already bounds: items of a kIntList or kPortList, entries of a
/// kStringMap, the length of a map's key and value.
inline constexpr size_t kMaxParamItems = 1024;
inline constexpr size_t kMaxMapKeyBytes = 253;
inline constexpr size_t kMaxMapValueBytes = 4096;

using ParamValue = std::variant<bool, int64_t, double, std::string, std::vector<std::string>, Duration,
                                std::vector<int64_t>, std::vector<PortRange>, StringMap>;

/// Error when `value` lies outside `spec.range` (for a kIntList: an item
/// does; a NaN always does): "must be between 1 and 100, got 0". Ok for specs
/// without a range.
Status CheckRange(const ParamSpec& spec, const ParamValue& value);

/// One end of `spec`'s range as it is written in a config: "100000", "0.1",
/// "1m". The range itself: "between 1m and 7d"; empty without a range.
std::string FormatRangeBound(const ParamSpec& spec, double bound);
std::string RangeText(const ParamSpec& spec);

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
  const std::vector<int64_t>& GetIntList(std::string_view name) const;
  const std::vector<PortRange>& GetPorts(std::string_view name) const;
  const StringMap& GetStringMap(std::string_view name) const;

  void Set(std::string name, ParamValue value) { values_[std::move(name)] = std::move(value); }
  const std::map<std::string, ParamValue, std::less<>>& values() const { return values_; }

 private:
  const ParamValue& Get(std::string_view name) const;
  std::map<std::string, ParamValue, std::less<>> values_;
};

}  // namespace nodeagent
