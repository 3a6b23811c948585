#include "run_options.h"

#include <catch2/catch.hpp>

#include "config/param_validation.h"

using namespace nodeagent;
using namespace nodeagent::drain;
using namespace std::chrono_literals;

namespace {

/// The table's defaults, as the core resolves them for an empty task.
Params Defaults(std::span<const ParamSpec> specs) {
  Params p;
  for (const auto& spec : specs) {
    auto v = DefaultValue(spec);
    REQUIRE(v);
    if (*v) p.Set(std::string(spec.name), **v);
  }
  return p;
}

}  // namespace

TEST_CASE("lock_ttl_must_cover_reboot_and_ready_timeouts: a shorter TTL is a config error naming them",
          "[run_options]") {
  for (auto specs : {DrainRebootParams(), RebootIfRequiredParams()}) {
    Params p = Defaults(specs);
    CHECK(ValidateParams(p).ok());  // 30m >= 10m + 15m
    p.Set("lock_ttl", Duration(20min));
    Status st = ValidateParams(p);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code() == ErrorCode::kInvalidArgument);
    CHECK(st.error().message() ==
          "lock_ttl: 20m cannot cover reboot_timeout 10m + ready_timeout 15m = 25m (the lease is not renewed "
          "while the node is down, so another node could take the lock mid-reboot): raise lock_ttl to at least "
          "25m or lower the timeouts");
    p.Set("lock_ttl", Duration(25min));
    CHECK(ValidateParams(p).ok());  // exactly covers them
    p.Set("ready_timeout", Duration(16min));
    CHECK_FALSE(ValidateParams(p).ok());
  }
  // drain and uncordon have no reboot: nothing to cover.
  CHECK(ValidateParams(Defaults(DrainParams())).ok());
  CHECK(ValidateParams(Defaults(UncordonParams())).ok());
}
