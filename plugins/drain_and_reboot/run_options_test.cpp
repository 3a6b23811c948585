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

TEST_CASE("run_options_bound_from_the_table: every row lands in its member", "[run_options]") {
  Params p = Defaults(RebootIfRequiredParams());
  p.Set("node", std::string("n1"));
  p.Set("ignore_daemonsets", false);
  p.Set("delete_emptydir_data", false);
  p.Set("force", true);
  p.Set("pod_selector", std::string("app=web"));
  p.Set("grace_period", int64_t{30});
  p.Set("drain_timeout", Duration(5min));
  p.Set("skip_wait_for_delete_timeout", Duration(90s));
  p.Set("disable_eviction", true);
  p.Set("on_drain_timeout", std::string("delete"));
  p.Set("max_in_flight", int64_t{8});
  p.Set("lock_namespace", std::string("ops"));
  p.Set("lock_name", std::string("lk"));
  p.Set("concurrency", int64_t{3});
  p.Set("lock_ttl", Duration(45min));
  p.Set("lock_wait", Duration(2h));
  p.Set("prefer_no_schedule_taint", true);
  p.Set("reboot_command", std::vector<std::string>{"shutdown", "-r", "now"});
  p.Set("reboot_delay", Duration(10s));
  p.Set("reboot_timeout", Duration(5min));
  p.Set("ready_timeout", Duration(20min));
  p.Set("notify_url", std::string("https://hook.example/x"));
  p.Set("notify_format", std::string("slack"));
  p.Set("sentinel_file", std::string("/run/needs-reboot"));
  p.Set("sentinel_command", std::vector<std::string>{"needs-restarting", "-r"});
  p.Set("sentinel_reboot_exit_codes", std::vector<std::string>{"1", "2"});
  p.Set("sentinel_ok_exit_codes", std::vector<std::string>{"0", "100"});
  p.Set("blocking_pod_selector", std::string("critical=true"));
  p.Set("prometheus_url", std::string("http://prom:9090"));
  p.Set("alert_filter_regex", std::string("^Node"));
  auto o = OptionsFromParams(p, "fallback");
  REQUIRE(o.ok());
  CHECK(o->node == "n1");
  CHECK_FALSE(o->filter.ignore_daemonsets);
  CHECK_FALSE(o->filter.delete_emptydir_data);
  CHECK(o->filter.force);
  CHECK(o->pod_selector == "app=web");
  CHECK(o->drainer.grace_period_seconds == 30);
  CHECK(o->drainer.timeout == 5min);
  CHECK(o->filter.skip_wait_for_delete_timeout == 90s);
  CHECK(o->drainer.disable_eviction);
  CHECK(o->drainer.on_timeout == OnDrainTimeout::kDelete);
  CHECK(o->drainer.max_in_flight == 8);
  CHECK(o->use_lock);
  CHECK(o->lock.ns == "ops");
  CHECK(o->lock.prefix == "lk");
  CHECK(o->lock.concurrency == 3);
  CHECK(o->lock.holder == "n1");
  CHECK(o->lock.ttl == 45min);
  CHECK(o->lock_wait == 2h);
  CHECK(o->prefer_no_schedule_taint);
  CHECK(o->reboot);
  CHECK(o->reboot_command == std::vector<std::string>{"shutdown", "-r", "now"});
  CHECK(o->reboot_delay == 10s);
  CHECK(o->reboot_timeout == 5min);
  CHECK(o->ready_timeout == 20min);
  CHECK(o->notify_url == "https://hook.example/x");
  CHECK(o->notify_format == "slack");
  CHECK(o->checker.sentinel_file == "/run/needs-reboot");
  CHECK(o->checker.sentinel_command == std::vector<std::string>{"needs-restarting", "-r"});
  CHECK(o->checker.reboot_exit_codes == std::vector<int>{1, 2});
  CHECK(o->checker.no_reboot_exit_codes == std::vector<int>{0, 100});
  CHECK(o->blocking_pod_selector == "critical=true");
  CHECK(o->prometheus_url == "http://prom:9090");
  CHECK(o->alert_filter_regex == "^Node");
}

TEST_CASE("run_options_bound_from_the_table: each action's rows decide lock, reboot and node", "[run_options]") {
  auto drain = OptionsFromParams(Defaults(DrainParams()), "from-agent");
  REQUIRE(drain.ok());
  CHECK(drain->node == "from-agent");
  CHECK_FALSE(drain->use_lock);
  CHECK_FALSE(drain->reboot);
  CHECK(drain->drainer.timeout == 10min);  // the table's default, not DrainerOptions' 0

  Params uncordon = Defaults(UncordonParams());
  auto give_back = OptionsFromParams(uncordon, "n");
  REQUIRE(give_back.ok());
  CHECK(give_back->use_lock);
  uncordon.Set("release_lock", false);
  auto keep = OptionsFromParams(uncordon, "n");
  REQUIRE(keep.ok());
  CHECK_FALSE(keep->use_lock);

  CHECK_FALSE(OptionsFromParams(Defaults(NodeOnlyParams()), "").ok());  // no node at all
}

TEST_CASE("removed notify_url and notify_format: a config error naming [[notify]], never the URL", "[run_options]") {
  for (auto specs : {DrainParams(), DrainRebootParams(), RebootIfRequiredParams()}) {
    Params p = Defaults(specs);
    CHECK(ValidateParams(p).ok());
    p.Set("notify_url", std::string("https://hooks.slack.com/services/T0/B0/SECRETTOKEN"));
    Status st = ValidateParams(p);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message().find("[[notify]]") != std::string::npos);
    CHECK(st.error().message().find("SECRETTOKEN") == std::string::npos);
    p = Defaults(specs);
    p.Set("notify_format", std::string("slack"));
    CHECK_FALSE(ValidateParams(p).ok());
  }
}

TEST_CASE("run_options_bound_from_the_table: a value its row refuses is an error naming the parameter",
          "[run_options]") {
  Params p = Defaults(RebootIfRequiredParams());
  p.Set("sentinel_ok_exit_codes", std::vector<std::string>{"0", "x"});
  Status st = ValidateParams(p);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message() == "parameter 'sentinel_ok_exit_codes': \"x\" is not an exit code");

  p = Defaults(DrainParams());
  p.Set("max_in_flight", int64_t{0});
  st = ValidateParams(p);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message() == "parameter 'max_in_flight': must be between 1 and 256, got 0");

  p = Defaults(DrainParams());
  p.Set("on_drain_timeout", std::string("retry"));
  st = ValidateParams(p);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message() == "parameter 'on_drain_timeout': \"retry\" is not one of its allowed values");
}
