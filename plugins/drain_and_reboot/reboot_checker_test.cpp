#include "reboot_checker.h"

#include <catch2/catch.hpp>

#include "testing/fake_action_context.h"

using namespace nodeagent;
using namespace nodeagent::drain;

TEST_CASE("sentinel file under the host root triggers a reboot", "[reboot_checker]") {
  FakeActionContext ctx;
  RebootChecker checker(ctx.host(), {});
  auto r = checker.Check();
  REQUIRE(r);
  CHECK_FALSE(r->required);
  ctx.root().Write("/var/run/reboot-required", "*** System restart required ***\n");
  r = checker.Check();
  REQUIRE(r);
  CHECK(r->required);
  CHECK(r->why.find("/var/run/reboot-required") != std::string::npos);
}

TEST_CASE("sentinel command exit codes have a configurable meaning", "[reboot_checker]") {
  struct Case {
    const char* name;
    int exit_code;
    bool ok;
    bool required;
  } cases[] = {{"needs-restarting exit 1 means reboot", 1, true, true},
               {"exit 0 means no reboot", 0, true, false},
               {"other codes are errors", 2, false, false}};
  for (const auto& c : cases) {
    SECTION(c.name) {
      FakeActionContext ctx;
      CommandResult res;
      res.exit_code = c.exit_code;
      ctx.commands().Answer({"needs-restarting", "-r"}, res);
      RebootCheckerOptions o;
      o.sentinel_command = {"needs-restarting", "-r"};
      RebootChecker checker(ctx.host(), o);
      auto r = checker.Check();
      REQUIRE(r.ok() == c.ok);
      if (c.ok) CHECK(r->required == c.required);
      CHECK(ctx.commands().call_lines() == std::vector<std::string>{"needs-restarting -r"});
    }
  }
}

TEST_CASE("a missing sentinel command is an error, not a silent no", "[reboot_checker]") {
  FakeActionContext ctx;
  RebootCheckerOptions o;
  o.sentinel_command = {"/nonexistent/check"};
  auto r = RebootChecker(ctx.host(), o).Check();
  CHECK_FALSE(r.ok());
}
