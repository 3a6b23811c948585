// Turns TOML values into typed Params by a parameter table. The same code
// validates the core's own sections, every task's action parameters, and
// `--set KEY=VALUE` overrides, so all of them give the same errors: the file,
// line and column, the key, what was expected and which values are accepted.
#pragma once

#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeagent/params.h"

#include <toml++/toml.h>

namespace nodeagent {

/// One problem in a config, with its place. `file` may be empty (--set).
struct ConfigProblem {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key;  // dotted: "tasks.cleanup.max_age"
  std::string message;

  /// "agent.toml:12:3: tasks.cleanup.max_age: ..." (gcc-style, clickable).
  std::string ToString() const;
};

/// A problem placed where `src` is (a TOML key or value).
ConfigProblem ProblemAt(const toml::source_region& src, std::string key, std::string message);
/// The problems one per line (ToString), each line ending in "\n".
std::string ProblemsText(const std::vector<ConfigProblem>& problems);

/// Checks `given` (with `overlay`'s keys winning; overlay may be null) against
/// `specs`, fills defaults, appends problems for unknown keys (except
/// `ignored_keys`), wrong types, bad values and missing required keys.
/// `key_prefix` ("tasks.cleanup") is used in messages.
Params ResolveParams(std::span<const ParamSpec> specs, const toml::table& given, const toml::table* overlay,
                     const std::string& key_prefix,
                     std::span<const std::string_view> ignored_keys, std::vector<ConfigProblem>& problems);

/// Converts one TOML value to the spec's type and checks it against the
/// spec's range ("must be between 1 and 100000, got -10"). Error message has
/// no place.
Result<ParamValue> ConvertParam(const ParamSpec& spec, const toml::node& value);

/// ConvertParam that also says where in `value` the problem lies: the item of
/// a list or the key or value of a map, else `value` itself.
Result<ParamValue> ConvertParamAt(const ParamSpec& spec, const toml::node& value, toml::source_region& where);

// CheckRange, FormatRangeBound and RangeText are declared in nodeagent/params.h.

/// The self-check of a parameter table, run by the loader on every plugin's
/// table and by the tests on the core's: every kInt, kFloat, kDuration and
/// kIntList row declares a range (min <= max, whole numbers for kInt), no other row does,
/// and every default is a valid value inside its range. Error names the row.
Status CheckParamTable(std::span<const ParamSpec> specs);

/// The default of `spec` as a value (parsed from its TOML literal), or
/// nullopt when it has none. An Error means the plugin's table is broken.
Result<std::optional<ParamValue>> DefaultValue(const ParamSpec& spec);

/// ParamValue to display/TOML form: "10d", "[\"*.log\"]", "true",
/// "[6443, \"2379-2380\"]", "{ \"net.ipv4.ip_forward\" = \"1\" }".
std::string FormatParamValue(const ParamValue& value);

/// Params as JSON for records and exec plugins: durations as "10d", ports as
/// [{"first": 2379, "last": 2380}] (a single port has first == last), string
/// maps as objects.
nlohmann::json ParamsToJson(const Params& params);
/// Typed transport form and back, for the worker: what JSON cannot tell apart
/// is tagged (durations as {"ms": N}, integer lists as {"ints": [...]}, ports
/// as {"ports": [[first, last]...]}, string maps as {"map": {...}}).
nlohmann::json ParamsToWire(const Params& params);
Params ParamsFromWire(const nlohmann::json& wire);

/// "did you mean 'max_age'?" suggestion for unknown keys; empty if none close.
std::string Suggest(std::string_view unknown, std::span<const std::string> known);

}  // namespace nodeagent
