#include "label_selector.h"

#include <catch2/catch.hpp>

using nodeagent::drain::SelectorMatches;
using nlohmann::json;

TEST_CASE("label selectors match like the API server", "[label_selector]") {
  json labels = {{"app", "web"}, {"tier", "front"}};
  struct Case {
    const char* name;
    json selector;
    bool match;
  } cases[] = {
      {"empty selector matches all", json::object(), true},
      {"null selector matches none", json(), false},
      {"matchLabels equal", {{"matchLabels", {{"app", "web"}}}}, true},
      {"matchLabels differ", {{"matchLabels", {{"app", "db"}}}}, false},
      {"matchLabels missing key", {{"matchLabels", {{"zone", "a"}}}}, false},
      {"In", {{"matchExpressions", {{{"key", "tier"}, {"operator", "In"}, {"values", {"front", "back"}}}}}}, true},
      {"In miss", {{"matchExpressions", {{{"key", "tier"}, {"operator", "In"}, {"values", {"back"}}}}}}, false},
      {"NotIn", {{"matchExpressions", {{{"key", "tier"}, {"operator", "NotIn"}, {"values", {"back"}}}}}}, true},
      {"NotIn on missing key", {{"matchExpressions", {{{"key", "x"}, {"operator", "NotIn"}, {"values", {"a"}}}}}}, true},
      {"Exists", {{"matchExpressions", {{{"key", "app"}, {"operator", "Exists"}}}}}, true},
      {"DoesNotExist", {{"matchExpressions", {{{"key", "app"}, {"operator", "DoesNotExist"}}}}}, false},
  };
  for (const auto& c : cases) {
    SECTION(c.name) { CHECK(SelectorMatches(c.selector, labels) == c.match); }
  }
}
