// Issue 11: integer lists, ports and port ranges, string maps. Each is read
// from TOML (a task's keys and --set), refused with file:line:col pointing
// at the offending item, key or value, and carried to records, the worker
// and exec plugins.
#include <catch2/catch.hpp>

#include "config/agent_config.h"
#include "config/param_validation.h"

using namespace nodeagent;

namespace {

const ParamSpec kTypedParams[] = {
    {.name = "codes", .type = ParamType::kIntList, .default_value = "[0]", .doc = "exit codes",
     .range = IntRange(0, 255)},
    {"ports", ParamType::kPortList, "[6443, \"2379-2380\", 10250]", "ports to open"},
    {"sysctls", ParamType::kStringMap, "{ \"net.ipv4.ip_forward\" = \"1\" }", "sysctls to set"},
    {"labels", ParamType::kStringMap, "", "optional map"},
};

ActionCatalog TypedCatalog() {
  ActionCatalog c;
  ActionInfo info;
  info.name = "typed";
  info.plugin = "typed";
  info.params.assign(std::begin(kTypedParams), std::end(kTypedParams));
  c.Add(info);
  return c;
}

/// Resolves `[tasks.t]\naction = "typed"\n` + `body`; problems as text.
std::pair<Params, std::string> Resolve(const std::string& body) {
  std::vector<ConfigProblem> problems;
  RawConfig raw = ParseConfigText("[tasks.t]\naction = \"typed\"\n" + body, "p.toml", problems);
  REQUIRE(problems.empty());
  auto tasks = ResolveTasks(raw, TypedCatalog(), problems);
  Params params = tasks.count("t") ? tasks.at("t").params : Params();
  return {params, ProblemsText(problems)};
}

}  // namespace

TEST_CASE("param_types: the table with the new types is valid and its defaults parse") {
  REQUIRE(CheckParamTable(kTypedParams).ok());
  CHECK(HasValidRanges(kTypedParams));
  auto [p, problems] = Resolve("");
  REQUIRE(problems.empty());
  CHECK(p.GetIntList("codes") == std::vector<int64_t>{0});
  CHECK(p.GetPorts("ports") == std::vector<PortRange>{{6443, 6443}, {2379, 2380}, {10250, 10250}});
  CHECK(p.GetStringMap("sysctls") == StringMap{{"net.ipv4.ip_forward", "1"}});
  CHECK_FALSE(p.Has("labels"));
}

TEST_CASE("param_types: good values from TOML") {
  auto [p, problems] = Resolve(
      "codes = [1, 2, 255]\n"
      "ports = [22, \"30000-32767\", \"8080\"]\n"
      "[tasks.t.sysctls]\n"
      "\"net.ipv4.ip_forward\" = \"1\"\n"
      "\"net.bridge.bridge-nf-call-iptables\" = \"1\"\n");
  INFO(problems);
  REQUIRE(problems.empty());
  CHECK(p.GetIntList("codes") == std::vector<int64_t>{1, 2, 255});
  CHECK(p.GetPorts("ports") == std::vector<PortRange>{{22, 22}, {30000, 32767}, {8080, 8080}});
  CHECK(p.GetStringMap("sysctls") ==
        StringMap{{"net.ipv4.ip_forward", "1"}, {"net.bridge.bridge-nf-call-iptables", "1"}});

  // A single value is a one-item list, like a single string for a list of strings.
  auto [one, one_problems] = Resolve("codes = 3\nports = \"2379-2380\"\nlabels = {}\n");
  INFO(one_problems);
  REQUIRE(one_problems.empty());
  CHECK(one.GetIntList("codes") == std::vector<int64_t>{3});
  CHECK(one.GetPorts("ports") == std::vector<PortRange>{{2379, 2380}});
  CHECK(one.GetStringMap("labels").empty());
}

TEST_CASE("param_types: bad values are refused at the item, key or value, with file:line:col") {
  struct Case {
    std::string body;
    std::string problem;
  };
  const std::string big_key(300, 'k');
  const Case cases[] = {
      {"codes = [1, 256]\n", "p.toml:3:13: tasks.t.codes: must be between 0 and 255, got 256 (item 2)"},
      {"codes = [1, \"2\"]\n", "p.toml:3:13: tasks.t.codes: expected a list of integers like [1, 2], but an item is a string"},
      {"codes = \"1\"\n", "p.toml:3:9: tasks.t.codes: expected a list of integers like [1, 2], got a string"},
      {"ports = [6443, 0]\n", "p.toml:3:16: tasks.t.ports: must be between 1 and 65535, got 0"},
      {"ports = [65536]\n", "p.toml:3:10: tasks.t.ports: must be between 1 and 65535, got 65536"},
      {"ports = [\"2380-2379\"]\n", "p.toml:3:10: tasks.t.ports: \"2380-2379\" is not a port range: its first port is above its last"},
      {"ports = [\"1-70000\"]\n", "p.toml:3:10: tasks.t.ports: must be between 1 and 65535, got 70000"},
      {"ports = [\"http\"]\n",
       "p.toml:3:10: tasks.t.ports: \"http\" is not a port or port range: write a port (1 to 65535) like 6443 or a "
       "range like \"2379-2380\""},
      {"ports = [\"80 - 90\"]\n",
       "p.toml:3:10: tasks.t.ports: \"80 - 90\" is not a port or port range: write a port (1 to 65535) like 6443 or a "
       "range like \"2379-2380\""},
      {"ports = [1.5]\n",
       "p.toml:3:10: tasks.t.ports: expected a list of ports and port ranges like [6443, \"2379-2380\"], but an item "
       "is a float"},
      {"sysctls = [\"a=1\"]\n",
       "p.toml:3:11: tasks.t.sysctls: expected a table of strings like { \"net.ipv4.ip_forward\" = \"1\" }, got an "
       "array"},
      {"sysctls = { \"net.ipv4.ip_forward\" = 1 }\n",
       "p.toml:3:37: tasks.t.sysctls: expected a table of strings like { \"net.ipv4.ip_forward\" = \"1\" }, but the "
       "value of \"net.ipv4.ip_forward\" is an integer"},
      {"sysctls = { \"\" = \"1\" }\n", "p.toml:3:13: tasks.t.sysctls: key \"\": an empty key is not accepted"},
      {"sysctls = { \"a\\nb\" = \"1\" }\n",
       "p.toml:3:13: tasks.t.sysctls: key \"a\nb\": a key must not hold control characters"},
      {"sysctls = { \"" + big_key + "\" = \"1\" }\n",
       "p.toml:3:13: tasks.t.sysctls: key \"" + big_key.substr(0, 64) +
           "\": a key of 300 bytes is too long (at most 253)"},
      {"[tasks.t.sysctls]\nx = \"" + std::string(5000, 'v') + "\"\n",
       "p.toml:4:5: tasks.t.sysctls: value of \"x\": a value of 5000 bytes is too long (at most 4096)"},
      {"[tasks.t.sysctls]\nx = { y = \"1\" }\n",
       "p.toml:4:5: tasks.t.sysctls: expected a table of strings like { \"net.ipv4.ip_forward\" = \"1\" }, but the "
       "value of \"x\" is a table"},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    auto [p, problems] = Resolve(c.body);
    CHECK(problems == c.problem + "\n");
  }
}

TEST_CASE("param_types: lists and maps are bounded") {
  std::string many = "codes = [";
  for (size_t i = 0; i <= kMaxParamItems; ++i) many += "1, ";
  many += "]\n";
  auto [p, problems] = Resolve(many);
  CHECK(problems == "p.toml:3:9: tasks.t.codes: has 1025 items; at most 1024 are accepted\n");

  std::string map = "[tasks.t.sysctls]\n";
  for (size_t i = 0; i <= kMaxParamItems; ++i) map += "k" + std::to_string(i) + " = \"v\"\n";
  auto [m, map_problems] = Resolve(map);
  CHECK(map_problems == "p.toml:3:1: tasks.t.sysctls: has 1025 entries; at most 1024 are accepted\n");
}

TEST_CASE("param_types: --set takes the new types, a bare range as a string") {  // --set problems have no place
  ActionCatalog catalog = TypedCatalog();
  std::vector<ConfigProblem> problems;
  auto overrides = ParseOverrides({"codes=[7, 8]", "ports=2379-2380", "sysctls={ \"vm.swappiness\" = \"0\" }"},
                                  problems);
  REQUIRE(problems.empty());
  Params p = ResolveRunParams(*catalog.Find("typed"), nullptr, overrides.get(), "typed", problems);
  INFO(ProblemsText(problems));
  REQUIRE(problems.empty());
  CHECK(p.GetIntList("codes") == std::vector<int64_t>{7, 8});
  CHECK(p.GetPorts("ports") == std::vector<PortRange>{{2379, 2380}});
  CHECK(p.GetStringMap("sysctls") == StringMap{{"vm.swappiness", "0"}});

  auto bad = ParseOverrides({"codes=[300]"}, problems);
  ResolveRunParams(*catalog.Find("typed"), nullptr, bad.get(), "typed", problems);
  CHECK(ProblemsText(problems) == "typed.codes: must be between 0 and 255, got 300 (item 1)\n");
}

TEST_CASE("param_types: the table self-check wants a range on int lists and none on ports or maps") {
  const ParamSpec no_range[] = {{"codes", ParamType::kIntList, "[]", "c"}};
  Status st = CheckParamTable(no_range);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message() ==
        "parameter codes (list of integers) declares no range: every number needs one (ParamSpec::range)");
  CHECK_FALSE(HasValidRanges(no_range));
  const ParamSpec ports_range[] = {{.name = "ports", .type = ParamType::kPortList, .range = IntRange(1, 2)}};
  CHECK_FALSE(CheckParamTable(ports_range).ok());
  CHECK_FALSE(HasValidRanges(ports_range));
  const ParamSpec map_range[] = {{.name = "m", .type = ParamType::kStringMap, .range = IntRange(1, 2)}};
  CHECK_FALSE(HasValidRanges(map_range));
  const ParamSpec bad_default[] = {
      {.name = "codes", .type = ParamType::kIntList, .default_value = "[1, 99]", .range = IntRange(0, 9)}};
  st = CheckParamTable(bad_default);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message() == "parameter codes default: must be between 0 and 9, got 99 (item 2)");
}

TEST_CASE("param_types: shown as TOML, as JSON for records and exec plugins, and through the worker's wire") {
  Params p;
  p.Set("codes", std::vector<int64_t>{1, 2});
  p.Set("ports", std::vector<PortRange>{{6443, 6443}, {2379, 2380}});
  p.Set("sysctls", StringMap{{"net.ipv4.ip_forward", "1"}, {"vm.swappiness", "0"}});
  p.Set("empty_map", StringMap{});
  p.Set("empty_codes", std::vector<int64_t>{});

  CHECK(FormatParamValue(p.values().at("codes")) == "[ 1, 2 ]");
  CHECK(FormatParamValue(p.values().at("ports")) == "[ 6443, '2379-2380' ]");  // toml++ writes literal strings
  CHECK(FormatParamValue(p.values().at("sysctls")) == "{ 'net.ipv4.ip_forward' = '1', 'vm.swappiness' = '0' }");

  // What is shown parses back to the same value.
  for (const char* name : {"codes", "ports", "sysctls"}) {
    const ParamSpec* spec = nullptr;
    for (const ParamSpec& s : kTypedParams)
      if (s.name == name) spec = &s;
    REQUIRE(spec);
    toml::table t = toml::parse("v = " + FormatParamValue(p.values().at(name)), std::string_view{"shown"});
    auto back = ConvertParam(*spec, *t.get("v"));
    REQUIRE(back.ok());
    CHECK(*back == p.values().at(name));
  }

  CHECK(ParamsToJson(p) == nlohmann::json::parse(R"({
      "codes": [1, 2],
      "empty_codes": [],
      "empty_map": {},
      "ports": [{"first": 6443, "last": 6443}, {"first": 2379, "last": 2380}],
      "sysctls": {"net.ipv4.ip_forward": "1", "vm.swappiness": "0"}})"));

  // The wire keeps the types, empty ones included.
  Params back = ParamsFromWire(nlohmann::json::parse(ParamsToWire(p).dump()));
  CHECK(back.values() == p.values());
  CHECK(back.GetIntList("empty_codes").empty());
  CHECK(back.GetStringMap("empty_map").empty());
}
