#include "loader/plugin_tables.h"

#include <cstdint>
#include <stdexcept>

namespace nodeagent {

namespace {

using json = nlohmann::json;

constexpr ParamType kParamTypes[] = {ParamType::kString,     ParamType::kInt,     ParamType::kBool,
                                     ParamType::kFloat,      ParamType::kDuration, ParamType::kStringList,
                                     ParamType::kEnum,       ParamType::kIntList, ParamType::kPortList,
                                     ParamType::kStringMap};

struct ScopeName {
  KubeScope scope;
  const char* name;
};
constexpr ScopeName kScopeNames[] = {
    {KubeScope::kCluster, "cluster"}, {KubeScope::kNamespace, "namespace"}, {KubeScope::kNamespaceParam, "param"}};

const char* ScopeWireName(KubeScope scope) {
  for (const ScopeName& s : kScopeNames)
    if (s.scope == scope) return s.name;
  return "unknown";
}

// Each function below takes its struct apart with a structured binding: a
// field added to the struct makes the binding fail to compile, so the wire
// cannot silently drop it. Read it back in PluginTablesReader as well.

json RangeToWire(const ParamRange& range) {
  const auto& [declared, min, max] = range;
  return {{"declared", declared}, {"min", min}, {"max", max}};
}

json ParamToWire(const ParamSpec& p) {
  const auto& [name, type, default_value, doc, allowed, required, secret, range] = p;
  json values = json::array();
  for (std::string_view v : allowed) values.push_back(v);
  return {{"name", name},         {"type", ParamTypeName(type)}, {"default_value", default_value},
          {"doc", doc},           {"allowed", values},           {"required", required},
          {"secret", secret},     {"range", RangeToWire(range)}};
}

json PermissionToWire(const KubePermission& p) {
  const auto& [verbs, group, resource, scope, ns, why] = p;
  return {{"verbs", verbs}, {"group", group}, {"resource", resource}, {"scope", ScopeWireName(scope)},
          {"ns", ns},       {"why", why}};
}

json ConditionToWire(const ConditionSpec& c) {
  const auto& [type, true_reason, false_reason, description] = c;
  return {{"type", type}, {"true_reason", true_reason}, {"false_reason", false_reason}, {"description", description}};
}

template <typename Row, typename ToWire>
json RowsToWire(std::span<const Row> rows, ToWire to_wire) {
  json out = json::array();
  for (const Row& row : rows) out.push_back(to_wire(row));
  return out;
}

json ActionToWire(const ActionSpec& a) {
  const auto& [name, description, params, disruptive, resumable, create, validate, permissions, conditions] = a;
  return {{"name", name},
          {"description", description},
          {"params", RowsToWire(params, ParamToWire)},
          {"disruptive", disruptive},
          {"resumable", resumable},
          {"has_create", create != nullptr},
          {"has_validate", validate != nullptr},
          {"permissions", RowsToWire(permissions, PermissionToWire)},
          {"conditions", RowsToWire(conditions, ConditionToWire)}};
}

/// A malformed wire: the path of the field and what is wrong with it.
struct WireError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

json PluginTablesToWire(const PluginDescriptor& d) {
  const auto& [abi_version, name, version, description, maturity, actions] = d;
  return {{"abi_version", abi_version}, {"name", name},         {"version", version},
          {"description", description}, {"maturity", maturity}, {"actions", RowsToWire(actions, ActionToWire)}};
}

/// Builds an OwnedPluginTables from the wire, keeping every string in it.
class PluginTablesReader {
 public:
  explicit PluginTablesReader(OwnedPluginTables& out) : out_(out) {}

  void Read(const json& wire) {
    const json& d = Object(wire, "plugin");
    PluginDescriptor& desc = out_.descriptor_;
    const json& abi = Field(d, "abi_version", "plugin");
    if (!abi.is_number_unsigned() || abi.get<uint64_t>() > UINT32_MAX)
      throw WireError("plugin: abi_version is not a 32-bit unsigned number");
    desc.abi_version = abi.get<uint32_t>();
    desc.name = String(d, "name", "plugin");
    desc.version = String(d, "version", "plugin");
    desc.description = String(d, "description", "plugin");
    desc.maturity = String(d, "maturity", "plugin");
    const json& actions = Array(d, "actions", "plugin");
    out_.actions_.reserve(actions.size());
    for (const json& a : actions) out_.actions_.push_back(ReadAction(Object(a, "plugin.actions[]")));
    desc.actions = out_.actions_;
  }

 private:
  ActionSpec ReadAction(const json& a) {
    ActionSpec spec;
    spec.name = String(a, "name", "action");
    const std::string where = "action " + std::string(spec.name);
    spec.description = String(a, "description", where);
    spec.disruptive = Bool(a, "disruptive", where);
    spec.resumable = Bool(a, "resumable", where);
    if (!Bool(a, "has_create", where)) throw WireError(where + " has no create function");
    out_.has_validate_.push_back(Bool(a, "has_validate", where));
    auto& params = out_.params_.emplace_back();
    for (const json& p : Array(a, "params", where)) params.push_back(ReadParam(Object(p, where + ".params[]"), where));
    spec.params = params;
    auto& permissions = out_.permissions_.emplace_back();
    for (const json& p : Array(a, "permissions", where))
      permissions.push_back(ReadPermission(Object(p, where + ".permissions[]"), where));
    spec.permissions = permissions;
    auto& conditions = out_.conditions_.emplace_back();
    for (const json& c : Array(a, "conditions", where)) {
      const json& row = Object(c, where + ".conditions[]");
      conditions.push_back({String(row, "type", where), String(row, "true_reason", where),
                            String(row, "false_reason", where), String(row, "description", where)});
    }
    spec.conditions = conditions;
    return spec;
  }

  ParamSpec ReadParam(const json& p, const std::string& action) {
    ParamSpec spec{};
    spec.name = String(p, "name", action + ".params[]");
    const std::string where = action + " parameter " + std::string(spec.name);
    const std::string type = Field(p, "type", where).is_string() ? p["type"].get<std::string>() : "";
    bool known = false;
    for (ParamType t : kParamTypes)
      if (type == ParamTypeName(t)) spec.type = t, known = true;
    if (!known) throw WireError(where + ": unknown type '" + type + "'");
    spec.default_value = String(p, "default_value", where);
    spec.doc = String(p, "doc", where);
    auto& allowed = out_.allowed_.emplace_back();
    for (const json& v : Array(p, "allowed", where)) {
      if (!v.is_string()) throw WireError(where + ": allowed holds a non-string");
      allowed.push_back(Keep(v.get<std::string>()));
    }
    spec.allowed = allowed;
    spec.required = Bool(p, "required", where);
    spec.secret = Bool(p, "secret", where);
    const json& range = Object(Field(p, "range", where), where + ".range");
    spec.range.declared = Bool(range, "declared", where + ".range");
    spec.range.min = Number(range, "min", where + ".range");
    spec.range.max = Number(range, "max", where + ".range");
    return spec;
  }

  KubePermission ReadPermission(const json& p, const std::string& action) {
    const std::string where = action + ".permissions[]";
    KubePermission row;
    row.verbs = String(p, "verbs", where);
    row.group = String(p, "group", where);
    row.resource = String(p, "resource", where);
    const std::string scope = Field(p, "scope", where).is_string() ? p["scope"].get<std::string>() : "";
    bool known = false;
    for (const ScopeName& s : kScopeNames)
      if (scope == s.name) row.scope = s.scope, known = true;
    if (!known) throw WireError(where + ": unknown scope '" + scope + "'");
    row.ns = String(p, "ns", where);
    row.why = String(p, "why", where);
    return row;
  }

  std::string_view Keep(std::string s) { return out_.strings_.emplace_back(std::move(s)); }

  static const json& Object(const json& j, const std::string& where) {
    if (!j.is_object()) throw WireError(where + " is not an object");
    return j;
  }
  static const json& Field(const json& j, const char* key, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end()) throw WireError(where + ": missing " + key);
    return *it;
  }
  static const json& Array(const json& j, const char* key, const std::string& where) {
    const json& v = Field(j, key, where);
    if (!v.is_array()) throw WireError(where + ": " + key + " is not an array");
    return v;
  }
  std::string_view String(const json& j, const char* key, const std::string& where) {
    const json& v = Field(j, key, where);
    if (!v.is_string()) throw WireError(where + ": " + key + " is not a string");
    return Keep(v.get<std::string>());
  }
  static bool Bool(const json& j, const char* key, const std::string& where) {
    const json& v = Field(j, key, where);
    if (!v.is_boolean()) throw WireError(where + ": " + key + " is not a boolean");
    return v.get<bool>();
  }
  static double Number(const json& j, const char* key, const std::string& where) {
    const json& v = Field(j, key, where);
    if (!v.is_number()) throw WireError(where + ": " + key + " is not a number");
    return v.get<double>();
  }

  OwnedPluginTables& out_;
};

Result<std::shared_ptr<const OwnedPluginTables>> PluginTablesFromWire(const json& wire) {
  auto tables = std::make_shared<OwnedPluginTables>();
  try {
    PluginTablesReader(*tables).Read(wire);
  } catch (const WireError& e) {
    return InvalidArgument(std::string("malformed plugin tables from the probe: ") + e.what());
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("malformed plugin tables from the probe: ") + e.what());
  }
  return std::shared_ptr<const OwnedPluginTables>(std::move(tables));
}

}  // namespace nodeagent
