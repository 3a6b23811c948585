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
    case ParamType::kIntList: return "expected a list of integers like [1, 2]";
    case ParamType::kPortList: return "expected a list of ports and port ranges like [6443, \"2379-2380\"]";
    case ParamType::kStringMap: return "expected a table of strings like { \"net.ipv4.ip_forward\" = \"1\" }";
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

Result<ParamValue> ConvertUnchecked(const ParamSpec& spec, const toml::node& v, toml::source_region& where);

}  // namespace

Status CheckParamTable(std::span<const ParamSpec> specs) {
  for (const ParamSpec& spec : specs) {
    std::string row = "parameter " + std::string(spec.name) + " (" + ParamTypeName(spec.type) + ")";
    const ParamRange& r = spec.range;
    if (TakesRange(spec.type) && !r.declared)
      return InvalidArgument(row + " declares no range: every number needs one (ParamSpec::range)");
    if (!TakesRange(spec.type) && r.declared)
      return InvalidArgument(row + " declares a range, which only numbers take (a port is always 1 to 65535)");
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
  toml::source_region where;
  return ConvertParamAt(spec, v, where);
}

Result<ParamValue> ConvertParamAt(const ParamSpec& spec, const toml::node& v, toml::source_region& where) {
  where = v.source();
  auto value = ConvertUnchecked(spec, v, where);
  if (!value) return value;
  if (Status in_range = CheckRange(spec, *value); !in_range.ok()) {
    // Point at the first item out of range.
    const auto* items = std::get_if<std::vector<int64_t>>(&*value);
    const toml::array* arr = v.as_array();
    for (size_t n = 0; items && arr && n < items->size() && n < arr->size(); ++n) {
      if (!CheckRange(spec, ParamValue((*items)[n])).ok()) {
        where = (*arr)[n].source();
        break;
      }
    }
    return in_range.error();
  }
  return value;
}

namespace {

/// The items of a list parameter: `v` itself when it is a single value (a
/// one-item list), else the array's items; null when there are too many.
std::vector<const toml::node*> ListItems(const toml::node& v) {
  std::vector<const toml::node*> items;
  if (const toml::array* arr = v.as_array()) {
    for (const toml::node& item : *arr) items.push_back(&item);
  } else {
    items.push_back(&v);
  }
  return items;
}

Status TooMany(size_t n, const char* what, size_t limit) {
  return InvalidArgument("has " + std::to_string(n) + " " + what + "; at most " + std::to_string(limit) +
                         " are accepted");
}

Result<ParamValue> ConvertIntList(const ParamSpec& spec, const toml::node& v, toml::source_region& where) {
  if (!v.is_array() && !v.is_integer()) return InvalidArgument(Expected(spec) + ", got " + TomlTypeName(v));
  std::vector<const toml::node*> items = ListItems(v);
  if (items.size() > kMaxParamItems) return TooMany(items.size(), "items", kMaxParamItems).error();
  std::vector<int64_t> out;
  for (const toml::node* item : items) {
    if (!item->is_integer()) {
      where = item->source();
      return InvalidArgument(Expected(spec) + ", but an item is " + TomlTypeName(*item));
    }
    out.push_back(*item->value<int64_t>());
  }
  return ParamValue(std::move(out));
}

Result<ParamValue> ConvertPortList(const ParamSpec& spec, const toml::node& v, toml::source_region& where) {
  if (!v.is_array() && !v.is_integer() && !v.is_string())
    return InvalidArgument(Expected(spec) + ", got " + TomlTypeName(v));
  std::vector<const toml::node*> items = ListItems(v);
  if (items.size() > kMaxParamItems) return TooMany(items.size(), "items", kMaxParamItems).error();
  std::vector<PortRange> out;
  for (const toml::node* item : items) {
    where = item->source();
    Result<PortRange> port = InvalidArgument(Expected(spec) + ", but an item is " + TomlTypeName(*item));
    if (item->is_integer()) {
      int64_t n = *item->value<int64_t>();
      if (n < 1 || n > 65535) return InvalidArgument("must be between 1 and 65535, got " + std::to_string(n));
      port = PortRange{static_cast<uint16_t>(n), static_cast<uint16_t>(n)};
    } else if (item->is_string()) {
      port = ParsePortRange(*item->value<std::string>());
    }
    if (!port) return port.error();
    out.push_back(*port);
  }
  where = v.source();
  return ParamValue(std::move(out));
}

/// A map key or value that a config may hold: bounded, and free of control
/// characters in keys (they name things: sysctls, labels, settings).
Status CheckMapText(std::string_view text, bool is_key) {
  const size_t limit = is_key ? kMaxMapKeyBytes : kMaxMapValueBytes;
  const char* what = is_key ? "key" : "value";
  if (is_key && text.empty()) return InvalidArgument("an empty key is not accepted");
  if (text.size() > limit)
    return InvalidArgument(std::string("a ") + what + " of " + std::to_string(text.size()) + " bytes is too long (at most " +
                           std::to_string(limit) + ")");
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\0' || (is_key && (u < 0x20 || u == 0x7f)))
      return InvalidArgument(std::string("a ") + what + " must not hold control characters");
  }
  return Status::Ok();
}

Result<ParamValue> ConvertStringMap(const ParamSpec& spec, const toml::node& v, toml::source_region& where) {
  const toml::table* table = v.as_table();
  if (!table) return InvalidArgument(Expected(spec) + ", got " + TomlTypeName(v));
  if (table->size() > kMaxParamItems) return TooMany(table->size(), "entries", kMaxParamItems).error();
  StringMap out;
  for (auto&& [key, value] : *table) {
    where = key.source();
    if (Status st = CheckMapText(key.str(), true); !st.ok()) return st.error().Wrap("key \"" + std::string(key.str().substr(0, 64)) + "\"");
    where = value.source();
    if (!value.is_string())
      return InvalidArgument(Expected(spec) + ", but the value of \"" + std::string(key.str()) + "\" is " +
                             TomlTypeName(value));
    std::string text = *value.value<std::string>();
    if (Status st = CheckMapText(text, false); !st.ok()) return st.error().Wrap("value of \"" + std::string(key.str()) + "\"");
    out.emplace(std::string(key.str()), std::move(text));
  }
  where = v.source();
  return ParamValue(std::move(out));
}

Result<ParamValue> ConvertUnchecked(const ParamSpec& spec, const toml::node& v, toml::source_region& where) {
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
    case ParamType::kIntList: return ConvertIntList(spec, v, where);
    case ParamType::kPortList: return ConvertPortList(spec, v, where);
    case ParamType::kStringMap: return ConvertStringMap(spec, v, where);
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
    std::string operator()(const std::vector<int64_t>& l) const {
      toml::array arr;
      for (int64_t i : l) arr.push_back(i);
      std::ostringstream os;
      os << arr;
      return os.str();
    }
    std::string operator()(const std::vector<PortRange>& l) const {
      toml::array arr;
      for (PortRange p : l) {
        if (p.first == p.last) arr.push_back(int64_t{p.first});
        else arr.push_back(FormatPortRange(p));
      }
      std::ostringstream os;
      os << arr;
      return os.str();
    }
    std::string operator()(const StringMap& m) const {
      toml::table t;
      for (const auto& [k, v] : m) t.insert(k, v);
      t.is_inline(true);
      std::ostringstream os;
      os << t;
      return os.str();
    }
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
    toml::source_region where;
    auto v = ConvertParamAt(*spec, node, where);
    if (!v) {
      problems.push_back(ProblemAt(where, full(k), v.error().message()));
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

namespace {

nlohmann::json MapToJson(const StringMap& m) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, v] : m) out[k] = v;
  return out;
}

}  // namespace

nlohmann::json ParamsToJson(const Params& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, v] : params.values()) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, Duration>) {
            out[k] = FormatDuration(x);
          } else if constexpr (std::is_same_v<T, std::vector<PortRange>>) {
            out[k] = nlohmann::json::array();
            for (PortRange p : x) out[k].push_back({{"first", p.first}, {"last", p.last}});
          } else if constexpr (std::is_same_v<T, StringMap>) {
            out[k] = MapToJson(x);
          } else {
            out[k] = x;
          }
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
          if constexpr (std::is_same_v<T, Duration>) {
            out[k] = {{"ms", x.count()}};
          } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
            out[k] = {{"ints", x}};
          } else if constexpr (std::is_same_v<T, std::vector<PortRange>>) {
            nlohmann::json ports = nlohmann::json::array();
            for (PortRange p : x) ports.push_back({p.first, p.last});
            out[k] = {{"ports", ports}};
          } else if constexpr (std::is_same_v<T, StringMap>) {
            out[k] = {{"map", MapToJson(x)}};
          } else {
            out[k] = x;
          }
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
    else if (v.is_object() && v.contains("ints")) p.Set(k, v["ints"].get<std::vector<int64_t>>());
    else if (v.is_object() && v.contains("ports")) {
      std::vector<PortRange> ports;
      for (const auto& pair : v["ports"]) ports.push_back({pair.at(0).get<uint16_t>(), pair.at(1).get<uint16_t>()});
      p.Set(k, std::move(ports));
    } else if (v.is_object() && v.contains("map")) {
      StringMap m;
      for (const auto& [mk, mv] : v["map"].items()) m.emplace(mk, mv.get<std::string>());
      p.Set(k, std::move(m));
    }
  }
  return p;
}

}  // namespace nodeagent
