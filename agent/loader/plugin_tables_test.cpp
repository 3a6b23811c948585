// The daemon keeps copies of the plugins' tables that a probe child printed
// (plugin_tables.h). These tests read every shipped plugin's tables back from
// the wire and compare them with the dlopen()ed originals field by field. The
// comparison takes each struct apart with a structured binding, like the
// serializer: a field added to the public API does not compile here until it
// is compared, so it cannot be dropped from the wire unnoticed.
#include "loader/plugin_tables.h"

#include <dlfcn.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <tuple>
#include <type_traits>

#include "loader/plugin_loader.h"

using namespace nodeagent;

namespace {

// Every field of each struct, in order; function pointers are compared apart.
auto Fields(const ParamRange& r) {
  const auto& [declared, min, max] = r;
  return std::tie(declared, min, max);
}
auto Fields(const ParamSpec& p) {
  const auto& [name, type, default_value, doc, allowed, required, secret, range] = p;
  return std::tie(name, type, default_value, doc, allowed, required, secret, range);
}
auto Fields(const KubePermission& p) {
  const auto& [verbs, group, resource, scope, ns, why] = p;
  return std::tie(verbs, group, resource, scope, ns, why);
}
auto Fields(const ConditionSpec& c) {
  const auto& [type, true_reason, false_reason, description] = c;
  return std::tie(type, true_reason, false_reason, description);
}
/// Without create and validate: the copies have no code (see SameTables).
auto Fields(const ActionSpec& a) {
  const auto& [name, description, params, disruptive, resumable, create, validate, permissions, conditions] = a;
  return std::tie(name, description, params, disruptive, resumable, permissions, conditions);
}
auto Fields(const PluginDescriptor& d) {
  const auto& [abi_version, name, version, description, maturity, actions] = d;
  return std::tie(abi_version, name, version, description, maturity, actions);
}

template <typename T>
constexpr bool kIsSpan = false;
template <typename T>
constexpr bool kIsSpan<std::span<T>> = true;

template <typename T>
void Same(const T& original, const T& copy, const std::string& where);

template <typename Tuple, size_t... I>
void SameFields(const Tuple& original, const Tuple& copy, const std::string& where, std::index_sequence<I...>) {
  (Same(std::get<I>(original), std::get<I>(copy), where + "." + std::to_string(I)), ...);
}

template <typename T>
void Same(const T& original, const T& copy, const std::string& where) {
  if constexpr (kIsSpan<T>) {
    INFO(where);
    REQUIRE(original.size() == copy.size());
    for (size_t i = 0; i < original.size(); ++i) Same(original[i], copy[i], where + "[" + std::to_string(i) + "]");
  } else if constexpr (std::is_class_v<T> && !std::is_same_v<T, std::string_view>) {
    auto a = Fields(original);
    auto b = Fields(copy);
    SameFields(a, b, where, std::make_index_sequence<std::tuple_size_v<decltype(a)>>());
  } else {
    INFO(where);
    CHECK(original == copy);
  }
}

/// The copy read back from the wire equals `original` in every field, and
/// holds no code.
void SameTables(const PluginDescriptor& original, const OwnedPluginTables& copy) {
  Same(original, copy.descriptor(), std::string(original.name));
  REQUIRE(copy.has_validate().size() == original.actions.size());
  for (size_t i = 0; i < original.actions.size(); ++i) {
    INFO(original.actions[i].name);
    CHECK(copy.has_validate()[i] == (original.actions[i].validate != nullptr));
    CHECK(copy.descriptor().actions[i].create == nullptr);
    CHECK(copy.descriptor().actions[i].validate == nullptr);
  }
}

std::shared_ptr<const OwnedPluginTables> RoundTrip(const PluginDescriptor& d) {
  // Through text, as the probe prints it.
  auto tables = PluginTablesFromWire(nlohmann::json::parse(PluginTablesToWire(d).dump()));
  INFO((tables ? "" : tables.error().message()));
  REQUIRE(tables.ok());
  return *tables;
}

const PluginDescriptor* Open(const std::string& path) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  INFO(path << ": " << (handle ? "" : ::dlerror()));
  REQUIRE(handle);
  auto entry = reinterpret_cast<PluginEntryFn>(::dlsym(handle, kPluginEntrySymbol));
  REQUIRE(entry);
  return entry();
}

std::vector<std::string> Modules(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".so") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<Action> NoAction() { return nullptr; }
Status NoCheck(const Params&) { return Status::Ok(); }

}  // namespace

TEST_CASE("every shipped plugin's tables survive the wire, field by field") {
  std::vector<std::string> modules = Modules(SHIPPED_PLUGIN_DIR);
  for (const std::string& m : Modules(TEST_PLUGIN_DIR))
    if (m.ends_with("/testing.so")) modules.push_back(m);
  REQUIRE(modules.size() >= 5);  // calico_network, drain_and_reboot, join_prep, log_cleanup, testing
  for (const std::string& path : modules) {
    INFO(path);
    const PluginDescriptor* original = Open(path);
    REQUIRE(original);
    SameTables(*original, *RoundTrip(*original));
    CHECK(PluginTablesToWire(*original).dump().size() < kMaxPluginTablesWireBytes);
  }
}

TEST_CASE("every field of every row survives the wire, set to something other than its default") {
  // The shipped plugins leave some fields at their defaults (no plugin keeps
  // a Node condition yet); this table sets each one.
  static constexpr std::string_view kModes[] = {"fast", "safe"};
  static constexpr ParamSpec kParams[] = {
      {"mode", ParamType::kEnum, "\"safe\"", "How.", kModes, true, false, {}},
      {"token", ParamType::kString, "", "A secret.", {}, false, true, {}},
      {"ratio", ParamType::kFloat, "0.25", "A float.", {}, false, false, FloatRange(0.1, 1e300)},
      {"wait", ParamType::kDuration, "\"90s\"", "", {}, false, false, DurationRange(Duration(500), Duration(604800000))},
      {"ids", ParamType::kIntList, "[1]", "", {}, false, false, IntRange(-9'007'199'254'740'992, 65535)},
      {"ports", ParamType::kPortList, "[6443, \"2379-2380\"]", "", {}, false, false, {}},
      {"labels", ParamType::kStringMap, "{ a = \"b\" }", "", {}, false, false, {}},
      {"names", ParamType::kStringList, "[\"x\"]", "", {}, false, false, {}},
      {"on", ParamType::kBool, "true", "", {}, false, false, {}},
      {"ns", ParamType::kString, "\"kube-system\"", "", {}, false, false, {}},
  };
  static constexpr KubePermission kPermissions[] = {
      Cluster("get patch", "", "nodes", "cordon"),
      InNamespace("default", "create", "", "events", "events"),
      InParamNamespace("ns", "get list watch", "coordination.k8s.io", "leases"),
  };
  static constexpr ConditionSpec kConditions[] = {
      {"NodeAgentThing", "ThingBroken", "ThingHealthy", "Whether the thing works."},
      {"NodeAgentOther", "OtherBroken", "OtherHealthy", ""},
  };
  static constexpr ActionSpec kActions[] = {
      {.name = "everything",
       .description = "Sets every field; \"quotes\", \\ and ünïcode too.",
       .params = kParams,
       .disruptive = true,
       .resumable = true,
       .create = &NoAction,
       .validate = &NoCheck,
       .permissions = kPermissions,
       .conditions = kConditions},
      {.name = "nothing", .description = "", .create = &NoAction},
  };
  const PluginDescriptor d{kPluginAbiVersion, "every-field", "1.2.3", "All of them.", "alpha", kActions};
  SameTables(d, *RoundTrip(d));
}

TEST_CASE("a malformed wire is refused naming what is wrong") {
  static constexpr ParamSpec kParams[] = {{"n", ParamType::kInt, "1", "", {}, false, false, IntRange(0, 9)}};
  static constexpr ActionSpec kActions[] = {{.name = "a", .description = "", .params = kParams, .create = &NoAction}};
  const PluginDescriptor d{kPluginAbiVersion, "p", "1", "", "beta", kActions};
  const nlohmann::json good = PluginTablesToWire(d);
  struct Case {
    nlohmann::json::json_pointer field;
    nlohmann::json value;  // null: removed
    std::string message;
  };
  const Case cases[] = {
      {"/abi_version"_json_pointer, -1, "plugin: abi_version is not a 32-bit unsigned number"},
      {"/name"_json_pointer, nullptr, "plugin: missing name"},
      {"/actions"_json_pointer, "x", "plugin: actions is not an array"},
      {"/actions/0/has_create"_json_pointer, false, "action a has no create function"},
      {"/actions/0/params/0/type"_json_pointer, "number", "action a parameter n: unknown type 'number'"},
      {"/actions/0/params/0/range/min"_json_pointer, "0", "action a parameter n.range: min is not a number"},
      {"/actions/0/params/0/allowed"_json_pointer, nlohmann::json::array({1}),
       "action a parameter n: allowed holds a non-string"},
      {"/actions/0/conditions"_json_pointer, nullptr, "action a: missing conditions"},
  };
  for (const Case& c : cases) {
    nlohmann::json wire = good;
    if (c.value.is_null()) wire[c.field.parent_pointer()].erase(c.field.back());
    else wire[c.field] = c.value;
    auto tables = PluginTablesFromWire(wire);
    INFO(c.field.to_string());
    REQUIRE_FALSE(tables.ok());
    CHECK(tables.error().message() == "malformed plugin tables from the probe: " + c.message);
  }
  CHECK_FALSE(PluginTablesFromWire(nlohmann::json::array()).ok());
}

TEST_CASE("the catalog read from probes equals the one loaded in process, without the code") {
  ActionCatalog probed;
  LoadPlugins({SHIPPED_PLUGIN_DIR, "", false, RUNNER_EXE}, probed);
  ActionCatalog loaded;
  LoadPlugins({SHIPPED_PLUGIN_DIR, "", false}, loaded);
  CHECK(probed.problems.empty());
  CHECK(probed.plugins == loaded.plugins);
  REQUIRE(probed.Names() == loaded.Names());
  for (const ActionInfo* a : loaded.All()) {
    INFO(a->name);
    const ActionInfo* p = probed.Find(a->name);
    REQUIRE(p);
    CHECK(p->plugin == a->plugin);
    CHECK(p->source == a->source);
    CHECK(p->kind == a->kind);
    CHECK(p->description == a->description);
    CHECK(p->maturity == a->maturity);
    Same(std::span<const ParamSpec>(a->params), std::span<const ParamSpec>(p->params), a->name);
    Same(std::span<const KubePermission>(a->permissions), std::span<const KubePermission>(p->permissions), a->name);
    Same(std::span<const ConditionSpec>(a->conditions), std::span<const ConditionSpec>(p->conditions), a->name);
    CHECK(p->disruptive == a->disruptive);
    CHECK(p->resumable == a->resumable);
    CHECK(static_cast<bool>(p->validate) == static_cast<bool>(a->validate));
    CHECK(p->tables != nullptr);
    CHECK_FALSE(p->create);  // no code here: runs need a worker (or LoadActionCode)
    CHECK(a->create);
    // agentctl's --local run loads the module for the one action it runs.
    ActionCatalog code;
    auto with_code = LoadActionCode(*p, false, code);
    REQUIRE(with_code.ok());
    CHECK((*with_code)->create);
  }
}

TEST_CASE("the probe refuses a wrong ABI, a missing symbol and a duplicate with the reasons of an in-process load") {
  ActionCatalog probed;
  LoadPlugins({TEST_PLUGIN_DIR, "", false, RUNNER_EXE}, probed);
  ActionCatalog loaded;
  LoadPlugins({TEST_PLUGIN_DIR, "", false}, loaded);
  REQUIRE(probed.problems.size() == 3);
  REQUIRE(loaded.problems.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(probed.problems[i].file == loaded.problems[i].file);
    CHECK(probed.problems[i].reason == loaded.problems[i].reason);
  }
}
