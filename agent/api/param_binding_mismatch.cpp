// Compiled by ctest, once per case, and expected NOT to compile: a bound
// table whose member cannot hold its row's values is a compile-time error
// (see nodeagent/param_binding.h). Without a case macro it compiles, which
// the control test checks, so the failures are not from something else.
#include "nodeagent/param_binding.h"

namespace {

enum class Format { kJson, kSlack };

struct Options {
  std::string url;
  int count = 0;
  std::vector<std::string> names;
  Format format = Format::kJson;
};

constexpr std::string_view kFormats[] = {"json", "slack"};
[[maybe_unused]] constexpr nodeagent::EnumChoice<Format> kTwo[] = {{"json", Format::kJson}, {"slack", Format::kSlack}};
[[maybe_unused]] constexpr nodeagent::EnumChoice<Format> kOne[] = {{"json", Format::kJson}};

nodeagent::Result<int> Length(const std::string& s) { return static_cast<int>(s.size()); }

using nodeagent::Bind;
using nodeagent::ParamType;

[[maybe_unused]] constexpr nodeagent::ParamField<Options> kFields[] = {
#if defined(DURATION_ON_STRING)
    Bind<&Options::url>({.name = "url", .type = ParamType::kDuration, .range = nodeagent::IntRange(0, 1)}),
#elif defined(RANGE_TOO_WIDE_FOR_INT)
    Bind<&Options::count>({.name = "count", .type = ParamType::kInt, .range = nodeagent::IntRange(0, 1LL << 40)}),
#elif defined(INT_LIST_ON_STRING_LIST)
    Bind<&Options::names>({.name = "names", .type = ParamType::kIntList, .range = nodeagent::IntRange(0, 9)}),
#elif defined(ENUM_CHOICES_MISSING_ONE)
    nodeagent::BindEnum<kOne, &Options::format>({"format", ParamType::kEnum, "\"json\"", "f", kFormats}),
#elif defined(CONVERSION_OF_WRONG_VALUE_TYPE)
    nodeagent::BindWith<&Length, &Options::count>({"count", ParamType::kStringList, "[]", "c"}),
#else
    Bind<&Options::url>({"url", ParamType::kString, "\"\"", "u"}),
    Bind<&Options::count>({.name = "count", .type = ParamType::kInt, .range = nodeagent::IntRange(0, 9)}),
    nodeagent::BindEnum<kTwo, &Options::format>({"format", ParamType::kEnum, "\"json\"", "f", kFormats}),
    nodeagent::BindWith<&Length, &Options::count>({"length", ParamType::kString, "\"\"", "c"}),
#endif
};

}  // namespace
