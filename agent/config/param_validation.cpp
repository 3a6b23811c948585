#include "config/param_validation.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>

namespace nodeagent {

std::string ConfigProblem::ToString() const {
  std::string out;
  if (!file.empty()) {
    out = file;
    if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
    out += ": ";
  }
  if (!key.empty()) out += key + ": ";
  return out + message;
}

std::string ProblemsText(const std::vector<ConfigProblem>& problems) {
  std::string s;
  for (const auto& p : problems) s += p.ToString() + "\n";
  return s;
}

ConfigProblem ProblemAt(const toml::source_region& src, std::string key, std::string message) {
  ConfigProblem p;
  if (src.path) p.file = *src.path;
  p.line = static_cast<int>(src.begin.line);
  p.column = static_cast<int>(src.begin.column);
  p.key = std::move(key);
  p.message = std::move(message);
  return p;
}

namespace {


std::string TomlTypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date/time";
  }
}

std::string Expected(const ParamSpec& spec) {
  switch (spec.type) {
    case ParamType::kString: return "expected a string";
    case ParamType::kInt: return "expected an integer";
    case ParamType::kBool: return "expected true or false";
    case ParamType::kFloat: return "expected a number";
    case ParamType::kDuration: return "expected a duration string like \"30s\", \"10m\", \"6h\", \"10d\", \"2w\"";
    case ParamType::kStringList: return "expected a list of strings like [\"a\", \"b\"]";
    case ParamType::kEnum: {
      std::string s = "expected one of:";
      for (auto v : spec.allowed) s += " \"" + std::string(v) + "\"";
      return s;
    }
  }
  return "unexpected type";
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string Suggest(std::string_view unknown, std::span<const std::string> known) {
  std::string best;
  size_t best_d = 3;
  for (const auto& k : known) {
    size_t d = EditDistance(unknown, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best.empty() ? "" : "did you mean '" + best + "'?";
}

namespace {

bool IsNumeric(ParamType type) {
  return type == ParamType::kInt || type == ParamType::kFloat || type == ParamType::kDuration;
}

Result<ParamValue> ConvertUnchecked(const ParamSpec& spec, const toml::node& v);

}  // namespace

std::string FormatRangeBound(const ParamSpec& spec, double bound) {
  constexpr double kEdge = 9'223'372'036'854'775'807.0;  // 2^63: the cast below must stay defined
  auto whole = [&] {
    if (bound >= kEdge) return std::numeric_limits<int64_t>::max();
    if (bound <= -kEdge) return -std::numeric_limits<int64_t>::max();
    return static_cast<int64_t>(bound);
  };
  switch (spec.type) {
    case ParamType::kInt: return std::to_string(whole());
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
  double x;
  std::string shown;
  if (const int64_t* i = std::get_if<int64_t>(&value)) {
    x = static_cast<double>(*i);
    shown = std::to_string(*i);
  } else if (const double* d = std::get_if<double>(&value)) {
    x = *d;
    shown = FormatRangeBound(spec, *d);
  } else if (const Duration* ms = std::get_if<Duration>(&value)) {
    x = static_cast<double>(ms->count());
    shown = FormatDuration(*ms);
  } else {
    return Status::Ok();
  }
  if (x >= spec.range.min && x <= spec.range.max) return Status::Ok();  // false for NaN
  return InvalidArgument("must be " + RangeText(spec) + ", got " + shown);
}

Status CheckParamTable(std::span<const ParamSpec> specs) {
  for (const ParamSpec& spec : specs) {
    std::string row = "parameter " + std::string(spec.name) + " (" + ParamTypeName(spec.type) + ")";
    const ParamRange& r = spec.range;
    if (IsNumeric(spec.type) && !r.declared)
      return InvalidArgument(row + " declares no range: every number needs one (ParamSpec::range)");
    if (!IsNumeric(spec.type) && r.declared) return InvalidArgument(row + " declares a range, which only numbers take");
    if (r.declared && !(r.min <= r.max))
      return InvalidArgument(row + ": range minimum " + FormatRangeBound(spec, r.min) + " is above its maximum " +
                             FormatRangeBound(spec, r.max));
    if (r.declared && spec.type != ParamType::kFloat && (r.min != std::trunc(r.min) || r.max != std::trunc(r.max)))
      return InvalidArgument(row + ": range ends must be whole numbers");
    auto def = DefaultValue(spec);
    if (!def) return def.error();
  }
  return Status::Ok();
}

Result<ParamValue> ConvertParam(const ParamSpec& spec, const toml::node& v) {
  auto value = ConvertUnchecked(spec, v);
  if (!value) return value;
  if (Status in_range = CheckRange(spec, *value); !in_range.ok()) return in_range.error();
  return value;
}

namespace {

Result<ParamValue> ConvertUnchecked(const ParamSpec& spec, const toml::node& v) {
  auto wrong = [&] { return InvalidArgument(Expected(spec) + ", got " + TomlTypeName(v)); };
  switch (spec.type) {
    case ParamType::kString:
      if (auto s = v.value<std::string>(); s && v.is_string()) return ParamValue(*s);
      return wrong();
    case ParamType::kInt:
      if (v.is_integer()) return ParamValue(static_cast<int64_t>(*v.value<int64_t>()));
      return wrong();
    case ParamType::kBool:
      if (v.is_boolean()) return ParamValue(*v.value<bool>());
      return wrong();
    case ParamType::kFloat:
      if (v.is_floating_point() || v.is_integer()) return ParamValue(*v.value<double>());
      return wrong();
    case ParamType::kDuration: {
      if (v.is_integer()) {  // seconds
        int64_t seconds = *v.value<int64_t>();
        constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / 1000;
        if (seconds > kLimit || seconds < -kLimit)
          return InvalidArgument("duration of " + std::to_string(seconds) + " seconds is too large");
        return ParamValue(Duration(seconds * 1000));
      }
      if (!v.is_string()) return wrong();
      auto d = ParseDuration(*v.value<std::string>());
      if (!d) return d.error();
      return ParamValue(*d);
    }
    case ParamType::kStringList: {
      if (v.is_string()) return ParamValue(std::vector<std::string>{*v.value<std::string>()});
      const toml::array* arr = v.as_array();
      if (!arr) return wrong();
      std::vector<std::string> out;
      for (const toml::node& item : *arr) {
        if (!item.is_string()) return InvalidArgument(Expected(spec) + ", but an item is " + TomlTypeName(item));
        out.push_back(*item.value<std::string>());
      }
      return ParamValue(std::move(out));
    }
    case ParamType::kEnum: {
      if (!v.is_string()) return wrong();
      std::string s = *v.value<std::string>();
      for (auto a : spec.allowed)
        if (a == s) return ParamValue(s);
      return InvalidArgument("\"" + s + "\" is not accepted; " + Expected(spec));
    }
  }
  return wrong();
}

}  // namespace

Result<std::optional<ParamValue>> DefaultValue(const ParamSpec& spec) {
  if (spec.default_value.empty()) return std::optional<ParamValue>();
  std::string doc = "v = " + std::string(spec.default_value);
  toml::table t;
  try {
    t = toml::parse(doc, std::string_view{"<default>"});
  } catch (const toml::parse_error&) {
    return Internal("parameter " + std::string(spec.name) + ": default " + std::string(spec.default_value) +
                    " is not a TOML value");
  }
  auto v = ConvertParam(spec, *t.get("v"));
  if (!v) return v.error().Wrap("parameter " + std::string(spec.name) + " default");
  return std::optional<ParamValue>(*v);
}

std::string FormatParamValue(const ParamValue& value) {
  struct V {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const {
      std::ostringstream os;
      os << d;
      return os.str();
    }
    std::string operator()(const std::string& s) const {
      std::ostringstream os;
      os << toml::value<std::string>(s);
      return os.str();
    }
    std::string operator()(const std::vector<std::string>& l) const {
      toml::array arr;
      for (const auto& s : l) arr.push_back(s);
      std::ostringstream os;
      os << arr;
      return os.str();
    }
    std::string operator()(Duration d) const { return "\"" + FormatDuration(d) + "\""; }
  };
  return std::visit(V{}, value);
}

Params ResolveParams(std::span<const ParamSpec> specs, const toml::table& given, const toml::table* overlay,
                     const std::string& key_prefix,
                     std::span<const std::string_view> ignored_keys, std::vector<ConfigProblem>& problems) {
  Params params;
  auto full = [&](std::string_view k) { return key_prefix.empty() ? std::string(k) : key_prefix + "." + std::string(k); };
  std::vector<std::string> known;
  for (const ParamSpec& s : specs) known.emplace_back(s.name);
  for (auto k : ignored_keys) known.emplace_back(k);

  auto check = [&](const toml::key& key, const toml::node& node) {
    std::string_view k = key.str();
    if (std::find(ignored_keys.begin(), ignored_keys.end(), k) != ignored_keys.end()) return;
    auto spec = std::find_if(specs.begin(), specs.end(), [&](const ParamSpec& s) { return s.name == k; });
    if (spec == specs.end()) {
      std::string msg = "unknown key";
      std::string hint = Suggest(k, known);
      if (!hint.empty()) msg += "; " + hint;
      else {
        msg += "; accepted keys:";
        for (const auto& n : known) msg += " " + n;
      }
      problems.push_back(ProblemAt(overlay && overlay->contains(k) ? node.source() : key.source(), full(k), msg));
      return;
    }
    auto v = ConvertParam(*spec, node);
    if (!v) {
      problems.push_back(ProblemAt(node.source(), full(k), v.error().message()));
      return;
    }
    params.Set(std::string(k), std::move(*v));
  };
  for (auto&& [key, node] : given)
    if (!overlay || !overlay->contains(key.str())) check(key, node);
  if (overlay)
    for (auto&& [key, node] : *overlay) check(key, node);
  for (const ParamSpec& s : specs) {
    if (params.Has(s.name)) continue;
    auto def = DefaultValue(s);
    if (!def) {
      problems.push_back({"", 0, 0, full(s.name), def.error().message()});
      continue;
    }
    if (*def) {
      params.Set(std::string(s.name), std::move(**def));
    } else if (s.required) {
      ConfigProblem p = ProblemAt(given.source(), full(s.name), "required key is missing (" + Expected(s) + ")");
      problems.push_back(p);
    }
  }
  return params;
}

nlohmann::json ParamsToJson(const Params& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, v] : params.values()) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, Duration>) out[k] = FormatDuration(x);
          else out[k] = x;
        },
        v);
  }
  return out;
}

nlohmann::json ParamsToWire(const Params& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, v] : params.values()) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, Duration>) out[k] = {{"ms", x.count()}};
          else out[k] = x;
        },
        v);
  }
  return out;
}

Params ParamsFromWire(const nlohmann::json& wire) {
  Params p;
  for (const auto& [k, v] : wire.items()) {
    if (v.is_boolean()) p.Set(k, v.get<bool>());
    else if (v.is_number_integer()) p.Set(k, v.get<int64_t>());
    else if (v.is_number()) p.Set(k, v.get<double>());
    else if (v.is_string()) p.Set(k, v.get<std::string>());
    else if (v.is_array()) p.Set(k, v.get<std::vector<std::string>>());
    else if (v.is_object() && v.contains("ms")) p.Set(k, Duration(v["ms"].get<int64_t>()));
  }
  return p;
}

}  // namespace nodeagent
