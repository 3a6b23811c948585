#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "nodeagent/http.h"
#include "nodeagent/params.h"

using namespace nodeagent;
using namespace std::chrono_literals;

TEST_CASE("ParseDuration accepts units and compounds") {
  struct Case { const char* text; int64_t ms; };
  const Case cases[] = {{"10d", 10 * 86'400'000LL}, {"30s", 30'000}, {"500ms", 500}, {"1h30m", 5'400'000},
                        {"2w", 14 * 86'400'000LL}, {"45", 45'000}, {"0s", 0}};
  for (const Case& c : cases) {
    INFO(c.text);
    auto d = ParseDuration(c.text);
    REQUIRE(d.ok());
    CHECK(d->count() == c.ms);
  }
}

TEST_CASE("ParseDuration rejects junk with a helpful message") {
  for (const char* text : {"", "10", "d", "10x", "-5s", "1.5h", "10 d"}) {
    if (std::string(text) == "10") continue;  // bare seconds are fine
    INFO(text);
    auto d = ParseDuration(text);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().message().find("expected a number with a unit") != std::string::npos);
  }
}

TEST_CASE("FormatDuration round-trips") {
  for (const char* text : {"10d", "1h30m", "500ms", "2w", "1d2h3m4s"}) {
    auto d = ParseDuration(text);
    REQUIRE(d.ok());
    CHECK(FormatDuration(*d) == text);
  }
}

TEST_CASE("RedactUrl keeps scheme, host and port only") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"https://hooks.slack.com/services/T000/B000/XXXXSECRET", "https://hooks.slack.com/..."},
      {"https://user:pass@example.com:8443/hook?token=abc", "https://example.com:8443/..."},
      {"http://prometheus:9090", "http://prometheus:9090"},
      {"http://prometheus:9090/", "http://prometheus:9090"},
      {"http://h?x=1", "http://h/..."},
  };
  for (const auto& [in, want] : cases) {
    INFO(in);
    CHECK(nodeagent::RedactUrl(in) == want);
  }
}
