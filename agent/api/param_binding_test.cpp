#include "nodeagent/param_binding.h"

#include <catch2/catch.hpp>

using namespace nodeagent;
using namespace std::chrono_literals;

namespace {

enum class Mode { kSafe, kFast };

struct Inner {
  std::chrono::seconds ttl{0};
  int slots = 0;
};

struct Options {
  std::string name = "unset";
  bool on = false;
  int count = -1;
  int64_t big = 0;
  double ratio = 0;
  std::chrono::nanoseconds age{0};
  std::optional<std::chrono::milliseconds> maybe;
  std::vector<std::string> words;
  std::vector<int> codes;
  std::vector<PortRange> ports;
  StringMap sysctls;
  std::map<std::string, std::string> labels;
  Mode mode = Mode::kSafe;
  Inner inner;
  std::vector<int> parsed;
};

constexpr std::string_view kModes[] = {"safe", "fast"};
constexpr EnumChoice<Mode> kModeChoices[] = {{"safe", Mode::kSafe}, {"fast", Mode::kFast}};

Result<std::vector<int>> ParseCodes(const std::vector<std::string>& texts) {
  std::vector<int> out;
  for (const std::string& t : texts) {
    if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos)
      return InvalidArgument("\"" + t + "\" is not an exit code");
    out.push_back(std::stoi(t));
  }
  return out;
}

constexpr ParamField<Options> kFields[] = {
    Bind<&Options::name>({"name", ParamType::kString, "\"x\"", "a name"}),
    Bind<&Options::on>({"on", ParamType::kBool, "false", "a switch"}),
    Bind<&Options::count>({.name = "count", .type = ParamType::kInt, .doc = "n", .range = IntRange(0, 10)}),
    Bind<&Options::big>({.name = "big", .type = ParamType::kInt, .doc = "n", .range = IntRange(-1, 1'000'000'000'000)}),
    Bind<&Options::ratio>({.name = "ratio", .type = ParamType::kFloat, .doc = "q", .range = FloatRange(0, 1)}),
    Bind<&Options::age>({.name = "age", .type = ParamType::kDuration, .doc = "d", .range = DurationRange(1s, 1h)}),
    Bind<&Options::maybe>({.name = "maybe", .type = ParamType::kDuration, .doc = "d", .range = DurationRange(0s, 1h)}),
    Bind<&Options::words>({"words", ParamType::kStringList, "[]", "w"}),
    Bind<&Options::codes>({.name = "codes", .type = ParamType::kIntList, .doc = "c", .range = IntRange(0, 255)}),
    Bind<&Options::ports>({"ports", ParamType::kPortList, "[]", "p"}),
    Bind<&Options::sysctls>({"sysctls", ParamType::kStringMap, "{}", "s"}),
    Bind<&Options::labels>({"labels", ParamType::kStringMap, "{}", "l"}),
    BindEnum<kModeChoices, &Options::mode>({"mode", ParamType::kEnum, "\"safe\"", "m", kModes}),
    Bind<&Options::inner, &Inner::ttl>({.name = "ttl", .type = ParamType::kDuration, .doc = "t",
                                        .range = DurationRange(1min, 24h)}),
    Bind<&Options::inner, &Inner::slots>({.name = "slots", .type = ParamType::kInt, .doc = "s", .range = IntRange(1, 9)}),
    BindWith<&ParseCodes, &Options::parsed>({"parsed", ParamType::kStringList, "[\"0\"]", "exit codes"}),
};

constexpr auto kSpecs = SpecsOf(kFields);
static_assert(HasValidRanges(kSpecs));
static_assert(kSpecs.size() == std::size(kFields) && kSpecs[13].name == "ttl");

// The compile-time half: which member types a row can fill. (Bind itself does
// not compile on a mismatch; tests/compile_fail covers that.)
static_assert(binding_detail::CanHold<std::string>(ParamType::kEnum, {}));
static_assert(!binding_detail::CanHold<std::string>(ParamType::kDuration, {}));
static_assert(!binding_detail::CanHold<int>(ParamType::kInt, IntRange(0, 1LL << 40)));  // the range does not fit
static_assert(binding_detail::CanHold<uint16_t>(ParamType::kInt, IntRange(1, 65535)));
static_assert(!binding_detail::CanHold<uint16_t>(ParamType::kInt, IntRange(0, 65536)));
static_assert(!binding_detail::CanHold<std::vector<std::string>>(ParamType::kIntList, IntRange(0, 1)));
static_assert(!binding_detail::CanHold<std::vector<uint8_t>>(ParamType::kIntList, IntRange(0, 256)));
static_assert(binding_detail::CanHold<std::optional<std::chrono::seconds>>(ParamType::kDuration, {}));
static_assert(!binding_detail::CanHold<std::vector<PortRange>>(ParamType::kIntList, IntRange(1, 2)));
static_assert(!binding_detail::CanHold<bool>(ParamType::kInt, IntRange(0, 1)));

Params Full() {
  Params p;
  p.Set("name", std::string("node-1"));
  p.Set("on", true);
  p.Set("count", int64_t{7});
  p.Set("big", int64_t{1'000'000'000'000});
  p.Set("ratio", 0.5);
  p.Set("age", Duration(90s));
  p.Set("maybe", Duration(1500ms));
  p.Set("words", std::vector<std::string>{"a", "b"});
  p.Set("codes", std::vector<int64_t>{0, 1, 255});
  p.Set("ports", std::vector<PortRange>{{6443, 6443}, {2379, 2380}});
  p.Set("sysctls", StringMap{{"net.ipv4.ip_forward", "1"}});
  p.Set("labels", StringMap{{"a", "b"}});
  p.Set("mode", std::string("fast"));
  p.Set("ttl", Duration(90min));
  p.Set("slots", int64_t{3});
  p.Set("parsed", std::vector<std::string>{"1", "100"});
  return p;
}

}  // namespace

TEST_CASE("param_binding: one call fills every member of the table") {
  Result<Options> o = BindOptions<Options>(kFields, Full());
  REQUIRE(o.ok());
  CHECK(o->name == "node-1");
  CHECK(o->on);
  CHECK(o->count == 7);
  CHECK(o->big == 1'000'000'000'000);
  CHECK(o->ratio == 0.5);
  CHECK(o->age == 90s);
  REQUIRE(o->maybe.has_value());
  CHECK(*o->maybe == 1500ms);
  CHECK(o->words == std::vector<std::string>{"a", "b"});
  CHECK(o->codes == std::vector<int>{0, 1, 255});
  CHECK(o->ports == std::vector<PortRange>{{6443, 6443}, {2379, 2380}});
  CHECK(o->sysctls == StringMap{{"net.ipv4.ip_forward", "1"}});
  CHECK(o->labels == std::map<std::string, std::string>{{"a", "b"}});
  CHECK(o->mode == Mode::kFast);
  CHECK(o->inner.ttl == 90min);
  CHECK(o->inner.slots == 3);
  CHECK(o->parsed == std::vector<int>{1, 100});
}

TEST_CASE("param_binding: a parameter that is not set leaves its member alone") {
  Params p;
  p.Set("count", int64_t{2});
  Result<Options> o = BindOptions<Options>(kFields, p);
  REQUIRE(o.ok());
  CHECK(o->count == 2);
  CHECK(o->name == "unset");
  CHECK_FALSE(o->maybe.has_value());
  CHECK(o->mode == Mode::kSafe);
  CHECK(o->inner.slots == 0);

  Options existing;
  existing.name = "kept";
  REQUIRE(FillOptions(kFields, p, existing).ok());
  CHECK(existing.name == "kept");
  CHECK(existing.count == 2);
}

TEST_CASE("param_binding: the row's own checks refuse a value, naming the parameter") {
  struct Case {
    const char* what;
    const char* name;
    ParamValue value;
    const char* message;
  };
  const Case cases[] = {
      {"int above its range", "count", int64_t{11}, "parameter 'count': must be between 0 and 10, got 11"},
      {"duration below its range", "age", Duration(0), "parameter 'age': must be between 1s and 1h, got 0s"},
      {"list item outside", "codes", std::vector<int64_t>{1, 256},
       "parameter 'codes': must be between 0 and 255, got 256 (item 2)"},
      {"enum not allowed", "mode", std::string("slow"), "parameter 'mode': \"slow\" is not one of its allowed values"},
      {"conversion refuses", "parsed", std::vector<std::string>{"x"}, "parameter 'parsed': \"x\" is not an exit code"},
      {"wrong value type", "words", std::string("a"),
       "parameter 'words': holds a value of another type than its list of strings"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Params p = Full();
    p.Set(c.name, c.value);
    Result<Options> o = BindOptions<Options>(kFields, p);
    REQUIRE_FALSE(o.ok());
    CHECK(o.error().code() == ErrorCode::kInvalidArgument);
    CHECK(o.error().message() == c.message);
  }
}
