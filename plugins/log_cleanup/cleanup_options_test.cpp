#include "cleanup_options.h"

#include <catch2/catch.hpp>

#include "log_cleanup_action.h"

namespace nodeagent::logc {
namespace {

Params WithPaths(std::vector<std::string> paths) {
  Params p;
  p.Set("paths", std::move(paths));
  return p;
}

TEST_CASE("CheckRoot refuses system directories, relative paths and risky globs") {
  const char* refused[] = {"/", "//", "/etc", "/etc/", "/usr", "/usr/lib", "/boot", "/proc", "/proc/1", "/sys/fs",
                           "/dev", "/dev/shm", "/bin", "/sbin", "/lib", "/lib64", "/libx32", "/var", "/var/lib",
                           "/root", "/home", "/run", "/etc/nginx", "var/log", "./logs", "/var/log/../../etc",
                           "/var/./log", "/*", "/v*", "/usr/l*", "/var/*/x", "", "/opt"};
  for (const char* p : refused) {
    INFO(p);
    Status st = CheckRoot(p);
    CHECK_FALSE(st.ok());
    if (!st.ok()) CHECK(st.error().message().find("refusing cleanup root") != std::string::npos);
  }
  const char* accepted[] = {"/var/log", "/var/log/app", "/var/log/app-*", "/srv/app/logs", "/opt/app/log",
                            "/tmp/x", "/data/logs/", "/home/svc/logs", "/var/log/pods/*"};
  for (const char* p : accepted) {
    INFO(p);
    CHECK(CheckRoot(p).ok());
  }
}

TEST_CASE("OptionsFromParams applies the table's defaults") {
  Result<CleanupOptions> o = OptionsFromParams(WithPaths({"/var/log/app"}));
  REQUIRE(o.ok());
  CHECK(o->patterns == std::vector<std::string>{"*.log"});
  CHECK(o->exclude.empty());
  CHECK(o->max_age == std::chrono::hours(240));
  CHECK_FALSE(o->compress_after.has_value());
  CHECK(o->recursive);
  CHECK(o->max_depth == -1);
  CHECK(o->one_file_system);
  CHECK(o->skip_open_files);
  CHECK(o->keep_newest == 0);
  CHECK_FALSE(o->remove_empty_dirs);
  // The table says the same.
  bool saw_max_age = false;
  for (const ParamSpec& s : LogCleanupParams()) {
    if (s.name == "max_age") {
      saw_max_age = true;
      CHECK(s.default_value == "\"10d\"");
      CHECK(s.type == ParamType::kDuration);
    }
    CHECK_FALSE(s.doc.empty());
  }
  CHECK(saw_max_age);
}

TEST_CASE("OptionsFromParams rejects bad values, naming the parameter") {
  struct Case {
    const char* what;
    std::function<void(Params&)> set;
    const char* param;
  };
  const Case cases[] = {
      {"no paths", [](Params& p) { p.Set("paths", std::vector<std::string>{}); }, "paths"},
      {"root path", [](Params& p) { p.Set("paths", std::vector<std::string>{"/var/log/app", "/"}); }, "paths"},
      {"relative", [](Params& p) { p.Set("paths", std::vector<std::string>{"logs"}); }, "paths"},
      {"slash in pattern", [](Params& p) { p.Set("patterns", std::vector<std::string>{"a/*.log"}); }, "patterns"},
      {"empty patterns", [](Params& p) { p.Set("patterns", std::vector<std::string>{}); }, "patterns"},
      {"zero max_age", [](Params& p) { p.Set("max_age", Duration(0)); }, "max_age"},
      {"compress after max_age",
       [](Params& p) { p.Set("compress_after", Duration(std::chrono::hours(24 * 11))); }, "compress_after"},
      {"negative depth", [](Params& p) { p.Set("max_depth", int64_t{-1}); }, "max_depth"},
      {"negative keep", [](Params& p) { p.Set("keep_newest", int64_t{-2}); }, "keep_newest"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Params p = WithPaths({"/var/log/app"});
    c.set(p);
    Status st = ValidateParams(p);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code() == ErrorCode::kInvalidArgument);
    CHECK(st.error().message().find(std::string("'") + c.param + "'") != std::string::npos);
  }
}

TEST_CASE("The action spec validates with the same checks") {
  const ActionSpec& spec = LogCleanupActionSpec();
  CHECK(spec.name == "log-cleanup");
  CHECK(spec.params.size() == LogCleanupParams().size());
  REQUIRE(spec.validate != nullptr);
  CHECK_FALSE(spec.validate(WithPaths({"/etc"})).ok());
  CHECK(spec.validate(WithPaths({"/var/log/app"})).ok());
  Params norecurse = WithPaths({"/var/log/app"});
  norecurse.Set("recursive", false);
  Result<CleanupOptions> o = OptionsFromParams(norecurse);
  REQUIRE(o.ok());
  CHECK(o->max_depth == 0);
}

}  // namespace
}  // namespace nodeagent::logc
