#include "path_escape.h"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

namespace nodeagent::logc {
namespace {

TEST_CASE("EscapePath escapes control bytes and invalid UTF-8, keeps valid UTF-8") {
  struct Case {
    std::string raw;
    std::string escaped;
  };
  const Case cases[] = {
      {"/var/log/app.log", "/var/log/app.log"},
      {"a\nb.log", "a\\nb.log"},
      {"tab\there", "tab\\there"},
      {"cr\r", "cr\\r"},
      {"back\\slash", "back\\\\slash"},
      {std::string("nul\0x", 5), "nul\\x00x"},
      {"\x1b[31mred", "\\x1b[31mred"},
      {"del\x7f", "del\\x7f"},
      {"\xff.log", "\\xff.log"},
      {"caf\xc3\xa9.log", "caf\xc3\xa9.log"},           // é stays
      {"\xe2\x82\xac", "\xe2\x82\xac"},                 // € stays
      {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},         // emoji stays
      {"\xc3", "\\xc3"},                                // truncated sequence
      {"\xc0\xaf", "\\xc0\\xaf"},                       // overlong '/'
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},              // surrogate
      {"\xe2\x82", "\\xe2\\x82"},
  };
  for (const Case& c : cases) {
    INFO(c.escaped);
    CHECK(EscapePath(c.raw) == c.escaped);
    // Always valid for JSON.
    CHECK_NOTHROW(nlohmann::json(EscapePath(c.raw)).dump());
  }
}

}  // namespace
}  // namespace nodeagent::logc
