// Issue 10, defect 12: every number has a range. The cases are generated from
// the tables themselves (the core's sections and every built plugin's
// actions), so a key added later is tested without anyone writing a case.
#include <catch2/catch.hpp>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

#include "config/agent_config.h"
#include "loader/plugin_loader.h"

using namespace nodeagent;

#ifndef NODEAGENT_PLUGIN_DIR
#error "NODEAGENT_PLUGIN_DIR (the build's plugins folder) must be defined"
#endif

namespace {

/// The rows whose values are checked against a range: the declared ones, and
/// a port list's fixed 1..65535.
bool IsNumeric(const ParamSpec& spec) { return TakesRange(spec.type) || spec.type == ParamType::kPortList; }

std::string RangeOf(const ParamSpec& spec) {
  return spec.type == ParamType::kPortList ? "between 1 and 65535" : RangeText(spec);
}

/// The built plugins, loaded as the daemon loads them. Fails when the two
/// shipped ones are missing, so the generated cases cannot pass vacuously.
const ActionCatalog& BuiltPlugins() {
  static const ActionCatalog catalog = [] {
    ActionCatalog c;
    for (const auto& e : std::filesystem::directory_iterator(NODEAGENT_PLUGIN_DIR)) {
      if (e.path().extension() != ".so") continue;
      Status st = LoadNativePlugin(e.path().string(), false, c);
      INFO(e.path().string() << ": " << (st.ok() ? "" : st.error().message()));
      REQUIRE(st.ok());
    }
    return c;
  }();
  REQUIRE(catalog.Find("log-cleanup") != nullptr);
  REQUIRE(catalog.Find("drain-and-reboot") != nullptr);
  return catalog;
}

/// A TOML literal for `ms` milliseconds: a duration string, or whole seconds
/// (rounded down) when negative, which no duration string can say.
std::string DurationLiteral(int64_t ms) {
  if (ms >= 0) return "\"" + FormatDuration(Duration(ms)) + "\"";
  return std::to_string(-((-ms + 999) / 1000));
}

std::string FloatLiteral(double x) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
  REQUIRE(ec == std::errc());
  return std::string(buf, end);
}

/// TOML literals of the values just outside and exactly at the ends of the
/// range; `at` is where in the literal a refused one's problem points (the
/// item of a list).
struct Probe {
  std::string literal;
  bool accepted;
  int at = 0;
};
std::vector<Probe> Probes(const ParamSpec& spec) {
  const ParamRange& r = spec.range;
  switch (spec.type) {
    case ParamType::kIntList: {
      auto lo = static_cast<int64_t>(r.min), hi = static_cast<int64_t>(r.max);
      std::string ok = "[" + std::to_string(lo) + ", ";
      return {{"[" + std::to_string(lo - 1) + "]", false, 1}, {"[" + std::to_string(lo) + "]", true},
              {"[" + std::to_string(hi) + "]", true}, {ok + std::to_string(hi + 1) + "]", false, int(ok.size())},
              {std::to_string(hi + 1), false}};
    }
    case ParamType::kPortList:
      return {{"[0]", false, 1},    {"[1]", true},          {"[65535]", true}, {"[6443, 65536]", false, 7},
              {"\"1-65535\"", true}, {"[\"0-1\"]", false, 1}, {"70000", false}};
    case ParamType::kInt: {
      auto lo = static_cast<int64_t>(r.min), hi = static_cast<int64_t>(r.max);
      return {{std::to_string(lo - 1), false}, {std::to_string(lo), true},
              {std::to_string(hi), true}, {std::to_string(hi + 1), false}};
    }
    case ParamType::kFloat:
      return {{FloatLiteral(std::nextafter(r.min, -INFINITY)), false}, {FloatLiteral(r.min), true},
              {FloatLiteral(r.max), true}, {FloatLiteral(std::nextafter(r.max, INFINITY)), false},
              {"nan", false}, {"inf", false}, {"-inf", false}};
    default: {
      auto lo = static_cast<int64_t>(r.min), hi = static_cast<int64_t>(r.max);
      return {{DurationLiteral(lo - 1), false}, {DurationLiteral(lo), true},
              {DurationLiteral(hi), true}, {DurationLiteral(hi + 1), false}};
    }
  }
}

/// One table and how to put one key into a config and check it.
struct TableUnderTest {
  std::string name;  // for messages
  std::span<const ParamSpec> specs;
  std::string header;      // the lines before the key ("[history]\n")
  std::string key_prefix;  // "history"
  std::function<void(const RawConfig&, std::vector<ConfigProblem>&)> check;
};

std::vector<TableUnderTest> AllTables() {
  std::vector<TableUnderTest> out;
  auto agent = [](const RawConfig& raw, std::vector<ConfigProblem>& problems) { ParseAgentSettings(raw, problems); };
  out.push_back({"[agent]", AgentKeys(), "[agent]\n", "agent", agent});
  out.push_back({"[kubernetes]", KubernetesKeys(), "[kubernetes]\n", "kubernetes", agent});
  out.push_back({"[history]", HistoryKeys(), "[history]\n", "history", agent});
  out.push_back({"[audit]", AuditKeys(), "[audit]\n", "audit", agent});
  out.push_back({"[metrics]", MetricsKeys(), "[metrics]\n", "metrics", agent});
  out.push_back({"[[notify]]", NotifyKeys(), "[[notify]]\nurl = \"http://h/\"\n", "notify[0]", agent});
  const ActionCatalog& catalog = BuiltPlugins();
  auto tasks = [&catalog](const RawConfig& raw, std::vector<ConfigProblem>& problems) {
    ResolveTasks(raw, catalog, problems);
  };
  out.push_back({"[tasks.NAME]", TaskCoreKeys(), "[tasks.t]\naction = \"log-cleanup\"\n", "tasks.t", tasks});
  for (const ActionInfo* a : catalog.All())
    out.push_back({"action " + a->name, a->params, "[tasks.t]\naction = \"" + a->name + "\"\n", "tasks.t", tasks});
  // The list types, which no shipped plugin uses yet.
  static const ParamSpec kListRows[] = {
      {.name = "codes", .type = ParamType::kIntList, .default_value = "[]", .doc = "c", .range = IntRange(0, 255)},
      {.name = "offsets", .type = ParamType::kIntList, .doc = "o", .range = IntRange(-10, 10)},
      {"ports", ParamType::kPortList, "[]", "p"},
  };
  static const ActionCatalog list_catalog = [] {
    ActionCatalog c;
    ActionInfo info;
    info.name = "lists";
    info.plugin = "lists";
    info.params.assign(std::begin(kListRows), std::end(kListRows));
    c.Add(info);
    return c;
  }();
  auto lists = [](const RawConfig& raw, std::vector<ConfigProblem>& problems) {
    ResolveTasks(raw, list_catalog, problems);
  };
  out.push_back({"list rows", kListRows, "[tasks.t]\naction = \"lists\"\n", "tasks.t", lists});
  return out;
}

}  // namespace

TEST_CASE("every_number_has_a_range: every numeric key of every table declares one") {
  size_t numeric = 0;
  for (const TableUnderTest& t : AllTables()) {
    Status st = CheckParamTable(t.specs);
    INFO(t.name << ": " << (st.ok() ? "" : st.error().message()));
    CHECK(st.ok());
    for (const ParamSpec& spec : t.specs) numeric += IsNumeric(spec) ? 1 : 0;
  }
  CHECK(numeric >= 30);  // the core's 10 and the plugins' (drain-and-reboot alone has 12 per action)
}

TEST_CASE("every_number_has_a_range: the table self-check refuses a number without one") {
  struct Case {
    const char* what;
    ParamSpec spec;
    const char* message;
  };
  const Case cases[] = {
      {"int without a range", {"n", ParamType::kInt, "3", "n"}, "parameter n (integer) declares no range"},
      {"float without a range", {"q", ParamType::kFloat, "", "q"}, "parameter q (float) declares no range"},
      {"duration without a range", {"d", ParamType::kDuration, "\"1m\"", "d"}, "declares no range"},
      {"string with a range", {.name = "s", .type = ParamType::kString, .range = IntRange(0, 1)},
       "declares a range, which only numbers take"},
      {"min above max", {.name = "n", .type = ParamType::kInt, .range = IntRange(5, 1)},
       "range minimum 5 is above its maximum 1"},
      {"fractional int range", {.name = "n", .type = ParamType::kInt, .range = FloatRange(0.5, 2)},
       "whole numbers"},
      {"default outside", {.name = "n", .type = ParamType::kInt, .default_value = "0", .range = IntRange(1, 9)},
       "parameter n default: must be between 1 and 9, got 0"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    ParamSpec table[] = {c.spec};
    Status st = CheckParamTable(table);
    REQUIRE_FALSE(st.ok());
    CHECK_THAT(st.error().message(), Catch::Contains(c.message));
    if (std::string_view(c.what) != "default outside") CHECK_FALSE(HasValidRanges(table));  // defaults: at load
  }
}

TEST_CASE("every_number_has_a_range: outside is refused with file:line:col and the range, the ends accepted") {
  size_t probed = 0;
  for (const TableUnderTest& t : AllTables()) {
    for (const ParamSpec& spec : t.specs) {
      if (!IsNumeric(spec)) continue;
      const std::string key = t.key_prefix + "." + std::string(spec.name);
      const int line = static_cast<int>(std::count(t.header.begin(), t.header.end(), '\n')) + 1;
      const int column = static_cast<int>(spec.name.size()) + 4;  // KEY = VALUE
      for (const Probe& probe : Probes(spec)) {
        std::string text = t.header + std::string(spec.name) + " = " + probe.literal + "\n";
        INFO(t.name << ":\n" << text);
        std::vector<ConfigProblem> problems;
        RawConfig raw = ParseConfigText(text, "ranges.toml", problems);
        REQUIRE(problems.empty());
        t.check(raw, problems);
        std::vector<ConfigProblem> about_key;
        for (const ConfigProblem& p : problems)
          if (p.key == key) about_key.push_back(p);
        INFO(ProblemsText(problems));
        if (probe.accepted) {
          CHECK(about_key.empty());
        } else {
          REQUIRE(about_key.size() == 1);
          const std::string expected = "ranges.toml:" + std::to_string(line) + ":" +
                                       std::to_string(column + probe.at) + ": " + key + ": must be " + RangeOf(spec) +
                                       ", got ";
          CHECK_THAT(about_key[0].ToString(), Catch::StartsWith(expected));
        }
        ++probed;
      }
    }
  }
  CHECK(probed >= 140);
}

TEST_CASE("every_number_has_a_range: the issue's examples are refused") {
  struct Case {
    std::string text;
    std::string problem;
  };
  const Case cases[] = {
      {"[kubernetes]\nqps = -1\n", "i.toml:2:7: kubernetes.qps: must be between 0.1 and 10000, got -1"},
      {"[history]\nmax_runs = -10\n", "i.toml:2:12: history.max_runs: must be between 1 and 100000, got -10"},
      {"[tasks.r]\naction = \"drain-and-reboot\"\nlock_ttl = \"1s\"\n",
       "i.toml:3:12: tasks.r.lock_ttl: must be between 1m and 1w, got 1s"},
      {"[tasks.r]\naction = \"log-cleanup\"\npaths = [\"/var/log/app\"]\ntimeout = 0\n",
       "i.toml:4:11: tasks.r.timeout: must be between 1s and 30d, got 0s"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    std::vector<ConfigProblem> problems;
    RawConfig raw = ParseConfigText(c.text, "i.toml", problems);
    ParseAgentSettings(raw, problems);
    ResolveTasks(raw, BuiltPlugins(), problems);
    CHECK(ProblemsText(problems) == c.problem + "\n");
  }
}

TEST_CASE("every_number_has_a_range: durations too large for 64 bits are refused, not wrapped") {
  const ParamSpec spec{.name = "d", .type = ParamType::kDuration, .range = DurationRange(Duration(0), Duration::max())};
  for (const char* text : {"d = \"999999999999w\"", "d = \"15250284453w\"", "d = 9223372036854776"}) {
    INFO(text);
    toml::table t = toml::parse(text, std::string_view{"t"});
    auto v = ConvertParam(spec, *t.get("d"));
    REQUIRE_FALSE(v.ok());
    CHECK_THAT(v.error().message(), Catch::Contains("too large"));
  }
}
