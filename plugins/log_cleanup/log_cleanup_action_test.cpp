#include "log_cleanup_action.h"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <sstream>

#include "log_cleanup_test_util.h"
#include "mount_point.h"
#include "nodeagent/plan_objects.h"

namespace nodeagent::logc {
namespace {

using namespace std::chrono_literals;
using testutil::ExistsNoFollow;
using testutil::MakeDir;
using testutil::Snapshot;
using testutil::WriteAged;
constexpr auto kDay = std::chrono::nanoseconds(24h);

/// A context with an empty fake /proc and `paths` set.
struct Fixture {
  FakeActionContext ctx;
  explicit Fixture(std::vector<std::string> paths = {"/var/log/app"}) {
    MakeDir(ctx, "/proc");
    ctx.mutable_params().Set("paths", std::move(paths));
  }
  Params& params() { return ctx.mutable_params(); }
  std::string Real(const std::string& p) { return ctx.root().Real(p); }
};

std::set<std::string> Targets(const std::vector<Change>& changes, const std::string& kind = "delete") {
  std::set<std::string> out;
  for (const Change& c : changes) {
    if (c.kind == kind) out.insert(c.target);
  }
  return out;
}

std::string Join(const std::vector<Finding>& findings) {
  std::string s;
  for (const Finding& f : findings) s += f.subject + ": " + f.message + "\n";
  return s;
}

/// MakePlan then Apply, as the core does without --dry-run.
struct Run {
  Plan plan;
  Outcome outcome;
};
Run PlanAndApply(Fixture& f, WalkHooks* hooks = nullptr, int threads = 0) {
  LogCleanupAction action(hooks, threads);
  Result<Plan> plan = action.MakePlan(f.ctx);
  REQUIRE(plan.ok());
  Result<Outcome> out = action.Apply(f.ctx, *plan);
  REQUIRE(out.ok());
  return {*plan, *out};
}

TEST_CASE("Age boundary: a file goes when its mtime is more than max_age before the run's start") {
  struct Case {
    const char* what;
    std::chrono::nanoseconds age;
    bool deleted;
  };
  const Case cases[] = {
      {"just under 10 days", 10 * kDay - 1s, false},
      {"exactly 10 days", 10 * kDay, false},
      {"10 days + 1 ns", 10 * kDay + 1ns, true},
      {"10 days + 1 s", 10 * kDay + 1s, true},
      {"10.5 days (find -mtime +10 keeps it)", 10 * kDay + 12h, true},
      {"11 days", 11 * kDay + 1s, true},
      {"in the future", -1 * kDay, false},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Fixture f;
    WriteAged(f.ctx, "/var/log/app/x.log", c.age);
    Run r = PlanAndApply(f);
    CHECK(ExistsNoFollow(f.ctx, "/var/log/app/x.log") == !c.deleted);
    CHECK(r.outcome.data["totals"]["deleted"]["files"] == (c.deleted ? 1 : 0));
    CHECK(r.outcome.status == (c.deleted ? RunStatus::kChanged : RunStatus::kOk));
  }
}

TEST_CASE("max_age=11d selects what `find -mtime +10` selects (checked against real find)") {
  Fixture f;
  f.ctx.clock().Set(std::chrono::system_clock::now());
  const std::pair<const char*, std::chrono::nanoseconds> files[] = {
      {"a-10d-plus-1min.log", 10 * kDay + 1min}, {"b-11d-minus-1min.log", 11 * kDay - 1min},
      {"c-11d-plus-1min.log", 11 * kDay + 1min}, {"d-9d.log", 9 * kDay}, {"e-30d.log", 30 * kDay}};
  for (auto& [name, age] : files) WriteAged(f.ctx, std::string("/var/log/app/") + name, age);

  std::set<std::string> by_find;
  std::string cmd = "find " + f.Real("/var/log/app") + " -name '*.log' -mtime +10 -printf '%f\\n'";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char line[256];
  while (std::fgets(line, sizeof line, p)) by_find.insert(std::string(line, std::strlen(line) - 1));
  ::pclose(p);
  CHECK(by_find == std::set<std::string>{"c-11d-plus-1min.log", "e-30d.log"});

  auto planned = [&](Duration max_age) {
    f.params().Set("max_age", max_age);
    f.ctx.set_dry_run(true);
    LogCleanupAction action;
    Result<Plan> plan = action.MakePlan(f.ctx);
    REQUIRE(plan.ok());
    std::set<std::string> names;
    for (const std::string& t : Targets(plan->changes)) names.insert(t.substr(t.rfind('/') + 1));
    return names;
  };
  CHECK(planned(std::chrono::duration_cast<Duration>(11 * kDay)) == by_find);
  CHECK(planned(std::chrono::duration_cast<Duration>(10 * kDay)) ==
        std::set<std::string>{"a-10d-plus-1min.log", "b-11d-minus-1min.log", "c-11d-plus-1min.log", "e-30d.log"});
}

/// The trap tree: links out of the tree, a loop, odd names, special files.
void BuildTraps(Fixture& f) {
  WriteAged(f.ctx, "/outside/old.log", 30 * kDay);
  WriteAged(f.ctx, "/outside/deep/older.log", 40 * kDay);
  WriteAged(f.ctx, "/var/log/app/old.log", 30 * kDay);
  WriteAged(f.ctx, "/var/log/app/new.log", 1 * kDay);
  WriteAged(f.ctx, "/var/log/app/old.txt", 30 * kDay);
  WriteAged(f.ctx, "/var/log/app/sub/deeper/old.log", 20 * kDay);
  WriteAged(f.ctx, "/var/log/app/bad\nname.log", 20 * kDay);
  WriteAged(f.ctx, "/var/log/app/\xff\xfe.log", 20 * kDay);
  REQUIRE(::symlink(f.Real("/outside").c_str(), f.Real("/var/log/app/linkdir").c_str()) == 0);
  REQUIRE(::symlink(f.Real("/outside/old.log").c_str(), f.Real("/var/log/app/linkfile.log").c_str()) == 0);
  REQUIRE(::symlink("loop.log", f.Real("/var/log/app/loop.log").c_str()) == 0);
  REQUIRE(::symlink("../app", f.Real("/var/log/app/sub/up").c_str()) == 0);
  ::mkfifo(f.Real("/var/log/app/fifo.log").c_str(), 0600);
  testutil::SetMtime(f.Real("/var/log/app/fifo.log"), testutil::NowNs(f.ctx) - (30 * kDay).count());
}

TEST_CASE("Traps: symlinks, loops, FIFOs and odd names; nothing outside the tree changes") {
  Fixture f;
  BuildTraps(f);
  auto outside_before = Snapshot(f.Real("/outside"));
  Run r = PlanAndApply(f);

  CHECK(Targets(r.plan.changes) == std::set<std::string>{"/var/log/app/old.log", "/var/log/app/sub/deeper/old.log",
                                                         "/var/log/app/bad\\nname.log", "/var/log/app/\\xff\\xfe.log"});
  CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/old.log"));
  CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/bad\nname.log"));
  CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/\xff\xfe.log"));
  CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/sub/deeper/old.log"));
  for (const char* kept : {"/var/log/app/new.log", "/var/log/app/old.txt", "/var/log/app/linkdir",
                           "/var/log/app/linkfile.log", "/var/log/app/loop.log", "/var/log/app/fifo.log",
                           "/var/log/app/sub/up"}) {
    INFO(kept);
    CHECK(ExistsNoFollow(f.ctx, kept));
  }
  CHECK(Snapshot(f.Real("/outside")) == outside_before);
  const nlohmann::json& path = r.outcome.data["paths"][0];
  CHECK(path["skipped"]["symlinks"] == 4);
  CHECK(path["skipped"]["special"] == 1);
  CHECK(path["deleted"]["files"] == 4);
  CHECK(path["errors"] == 0);
  // Escaped names keep every output line one line and the JSON valid.
  CHECK_NOTHROW(r.plan.data.dump());
  CHECK_NOTHROW(r.outcome.data.dump());
  for (const Change& c : r.outcome.changes) CHECK(c.target.find('\n') == std::string::npos);
}

TEST_CASE("Dry run: MakePlan lists every file and changes nothing") {
  Fixture f;
  BuildTraps(f);
  for (int i = 0; i < 30; ++i) WriteAged(f.ctx, "/var/log/app/many/f" + std::to_string(i) + ".log", 15 * kDay);
  f.ctx.set_dry_run(true);
  auto before = Snapshot(f.ctx.root().path());
  LogCleanupAction action;
  Result<Plan> plan = action.MakePlan(f.ctx);
  REQUIRE(plan.ok());
  CHECK(Snapshot(f.ctx.root().path()) == before);
  CHECK(Targets(plan->changes).size() == 34);
  CHECK(plan->data["files_total"] == 34);
  CHECK(plan->data["files"].size() == 34);
  CHECK(plan->data["paths"][0]["delete"]["files"] == 34);
  CHECK(plan->summary.find("would delete 34 files") != std::string::npos);
  CHECK_FALSE(f.ctx.progress().empty());
}

/// Swaps a directory for something else right before the walker opens it.
class SwapHook : public WalkHooks {
 public:
  SwapHook(Fixture& f, std::string victim, std::string replacement_symlink_target)
      : f_(f), victim_(std::move(victim)), target_(std::move(replacement_symlink_target)) {}
  int BeforeOpenDir(const std::string& host_path) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (host_path != victim_ || done_) return 0;
    done_ = true;
    std::filesystem::rename(f_.Real(victim_), f_.Real(victim_ + ".moved"));
    if (target_.empty()) std::filesystem::create_directory(f_.Real(victim_));  // another directory
    else if (::symlink(f_.Real(target_).c_str(), f_.Real(victim_).c_str()) != 0) return errno;
    return 0;
  }
  bool done() const { return done_; }

 private:
  Fixture& f_;
  std::string victim_, target_;
  std::mutex mu_;
  bool done_ = false;
};

TEST_CASE("A directory swapped for a symlink during the walk is not followed") {
  Fixture f;
  BuildTraps(f);
  WriteAged(f.ctx, "/var/log/app/sub/old2.log", 30 * kDay);
  auto outside_before = Snapshot(f.Real("/outside"));
  SwapHook hook(f, "/var/log/app/sub", "/outside");
  Run r = PlanAndApply(f, &hook);
  REQUIRE(hook.done());
  CHECK(Snapshot(f.Real("/outside")) == outside_before);
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app/sub.moved/old2.log"));  // not walked
  CHECK(Join(r.plan.findings).find("/var/log/app/sub: replaced by a symlink") != std::string::npos);
  CHECK(r.outcome.data["paths"][0]["errors"] == 1);
  CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/old.log"));  // the rest went on
}

TEST_CASE("A directory swapped for another directory during the walk is not entered") {
  Fixture f;
  WriteAged(f.ctx, "/var/log/app/sub/old.log", 30 * kDay);
  SwapHook hook(f, "/var/log/app/sub", "");
  Run r = PlanAndApply(f, &hook);
  REQUIRE(hook.done());
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app/sub.moved/old.log"));
  CHECK(Join(r.plan.findings).find("replaced during the walk") != std::string::npos);
}

class DenyHook : public WalkHooks {
 public:
  int BeforeOpenDir(const std::string& host_path) override {
    return host_path == "/var/log/app/locked" ? EACCES : 0;
  }
};

TEST_CASE("Permission errors and missing paths are reported, counted, and the run goes on") {
  Fixture f({"/var/log/missing", "/var/log/app"});
  WriteAged(f.ctx, "/var/log/app/locked/old.log", 30 * kDay);
  WriteAged(f.ctx, "/var/log/app/old.log", 30 * kDay);
  DenyHook hook;
  Run r = PlanAndApply(f, &hook);
  CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/old.log"));
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app/locked/old.log"));
  std::string findings = Join(r.outcome.findings);
  CHECK(findings.find("/var/log/missing: cannot open: does not exist") != std::string::npos);
  CHECK(findings.find("/var/log/app/locked: permission denied") != std::string::npos);
  CHECK(r.outcome.data["totals"]["errors"] == 2);
  CHECK(r.outcome.data["totals"]["deleted"]["files"] == 1);
  CHECK(r.outcome.status == RunStatus::kFailed);  // a configured path could not be cleaned
}

TEST_CASE("A configured path that is a symlink is refused") {
  Fixture f({"/var/log/link"});
  WriteAged(f.ctx, "/outside/old.log", 30 * kDay);
  MakeDir(f.ctx, "/var/log");
  REQUIRE(::symlink(f.Real("/outside").c_str(), f.Real("/var/log/link").c_str()) == 0);
  Run r = PlanAndApply(f);
  CHECK(ExistsNoFollow(f.ctx, "/outside/old.log"));
  CHECK(Join(r.outcome.findings).find("symlink") != std::string::npos);
  CHECK(r.outcome.status == RunStatus::kFailed);
}

TEST_CASE("Globs in the last component expand to directories only") {
  Fixture f({"/var/log/app-*"});
  WriteAged(f.ctx, "/var/log/app-a/old.log", 30 * kDay);
  WriteAged(f.ctx, "/var/log/app-b/old.log", 30 * kDay);
  WriteAged(f.ctx, "/var/log/other/old.log", 30 * kDay);
  WriteAged(f.ctx, "/outside/old.log", 30 * kDay);
  REQUIRE(::symlink(f.Real("/outside").c_str(), f.Real("/var/log/app-link").c_str()) == 0);
  Run r = PlanAndApply(f);
  CHECK(Targets(r.outcome.changes) == std::set<std::string>{"/var/log/app-a/old.log", "/var/log/app-b/old.log"});
  CHECK(r.outcome.data["paths"].size() == 2);
  CHECK(r.outcome.data["paths"][1]["configured"] == "/var/log/app-*");
  CHECK(ExistsNoFollow(f.ctx, "/outside/old.log"));
  CHECK(ExistsNoFollow(f.ctx, "/var/log/other/old.log"));
}

TEST_CASE("Open files are skipped: fake /proc entry, and a real child process") {
  SECTION("fake /proc") {
    Fixture f;
    WriteAged(f.ctx, "/var/log/app/held.log", 30 * kDay);
    WriteAged(f.ctx, "/var/log/app/free.log", 30 * kDay);
    MakeDir(f.ctx, "/proc/100/fd");
    REQUIRE(::symlink(f.Real("/var/log/app/held.log").c_str(), f.Real("/proc/100/fd/5").c_str()) == 0);
    Run r = PlanAndApply(f);
    CHECK(ExistsNoFollow(f.ctx, "/var/log/app/held.log"));
    CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/free.log"));
    CHECK(r.plan.data["paths"][0]["skipped"]["open"] == 1);
  }
  SECTION("real process, root's /proc pointing at the real one") {
    FakeActionContext ctx;
    ctx.mutable_params().Set("paths", std::vector<std::string>{"/var/log/app"});
    REQUIRE(::symlink("/proc", ctx.root().Real("/proc").c_str()) == 0);
    WriteAged(ctx, "/var/log/app/held.log", 30 * kDay);
    WriteAged(ctx, "/var/log/app/free.log", 30 * kDay);
    testutil::OpenHolder holder(ctx.root().Real("/var/log/app/held.log"));
    REQUIRE(holder.pid() > 0);
    LogCleanupAction action;
    Result<Plan> plan = action.MakePlan(ctx);
    REQUIRE(plan.ok());
    REQUIRE(action.Apply(ctx, *plan).ok());
    CHECK(ExistsNoFollow(ctx, "/var/log/app/held.log"));
    CHECK_FALSE(ExistsNoFollow(ctx, "/var/log/app/free.log"));
  }
  SECTION("skip_open_files without a readable /proc is an error, not a silent risk") {
    FakeActionContext ctx;
    ctx.mutable_params().Set("paths", std::vector<std::string>{"/var/log/app"});
    LogCleanupAction action;
    Result<Plan> plan = action.MakePlan(ctx);
    REQUIRE_FALSE(plan.ok());
    CHECK(plan.error().message().find("skip_open_files=false") != std::string::npos);
  }
}

/// Watches a fake /proc's fd directory for being opened (inotify IN_OPEN):
/// what the open-file index does when it reads that process's descriptors.
class FdDirOpens {
 public:
  explicit FdDirOpens(const std::string& fd_dir) {
    fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    REQUIRE(fd_ >= 0);
    REQUIRE(::inotify_add_watch(fd_, fd_dir.c_str(), IN_OPEN) >= 0);
  }
  ~FdDirOpens() { ::close(fd_); }
  /// Whether an open came within `timeout` (true at once if one is queued).
  bool Wait(std::chrono::milliseconds timeout) {
    struct pollfd p = {fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
    char buf[4096];
    return ::read(fd_, buf, sizeof buf) > 0;
  }

 private:
  int fd_ = -1;
};

/// Holds the walk before it opens `dir` until the fake /proc's fd directory
/// was opened, i.e. the open-file read started; records whether it did.
class WaitForFdRead : public WalkHooks {
 public:
  WaitForFdRead(std::string dir, FdDirOpens& opens) : dir_(std::move(dir)), opens_(opens) {}
  int BeforeOpenDir(const std::string& host_path) override {
    if (host_path == dir_) read_during_walk = opens_.Wait(10s);
    return 0;
  }
  bool read_during_walk = false;

 private:
  std::string dir_;
  FdDirOpens& opens_;
};

TEST_CASE("The open-file read runs beside the walk once it planned a file, and not at all when it plans none") {
  SECTION("started by the first planned file, before the walk reaches the next directory") {
    Fixture f;
    WriteAged(f.ctx, "/var/log/app/old.log", 30 * kDay);
    WriteAged(f.ctx, "/var/log/app/sub/held.log", 30 * kDay);
    MakeDir(f.ctx, "/proc/100/fd");
    REQUIRE(::symlink(f.Real("/var/log/app/sub/held.log").c_str(), f.Real("/proc/100/fd/5").c_str()) == 0);
    FdDirOpens opens(f.Real("/proc/100/fd"));
    WaitForFdRead hook("/var/log/app/sub", opens);
    Run r = PlanAndApply(f, &hook, 1);
    CHECK(hook.read_during_walk);
    // Found beside the walk all the same: the held file stays.
    CHECK(r.plan.data["paths"][0]["skipped"]["open"] == 1);
    CHECK(ExistsNoFollow(f.ctx, "/var/log/app/sub/held.log"));
    CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/old.log"));
    CHECK(r.plan.data["open_files_read_seconds"].get<double>() >= 0);
  }
  SECTION("a walk that plans nothing reads no fd table") {
    Fixture f;
    WriteAged(f.ctx, "/var/log/app/young.log", 1 * kDay);
    MakeDir(f.ctx, "/proc/100/fd");
    FdDirOpens opens(f.Real("/proc/100/fd"));
    LogCleanupAction action;
    Result<Plan> plan = action.MakePlan(f.ctx);
    REQUIRE(plan.ok());
    CHECK(plan->data["open_descriptors"] == 0);
    CHECK_FALSE(opens.Wait(0ms));  // the run is over: an open would be queued by now
  }
}

TEST_CASE("Apply re-checks each file: changed, replaced, reopened or gone since the plan are left alone") {
  Fixture f;
  for (const char* n : {"touched", "replaced", "symlinked", "opened", "gone", "plain"})
    WriteAged(f.ctx, std::string("/var/log/app/") + n + ".log", 30 * kDay);
  WriteAged(f.ctx, "/outside/old.log", 30 * kDay);
  LogCleanupAction action;
  Result<Plan> plan = action.MakePlan(f.ctx);
  REQUIRE(plan.ok());
  REQUIRE(Targets(plan->changes).size() == 6);
  // Between plan and apply:
  WriteAged(f.ctx, "/var/log/app/touched.log", 1 * kDay);  // written again
  // A new file, also old, renamed over it (a different inode: created while the old one still exists).
  WriteAged(f.ctx, "/var/log/app/replaced.log.new", 30 * kDay);
  std::filesystem::rename(f.Real("/var/log/app/replaced.log.new"), f.Real("/var/log/app/replaced.log"));
  std::filesystem::remove(f.Real("/var/log/app/symlinked.log"));
  REQUIRE(::symlink(f.Real("/outside/old.log").c_str(), f.Real("/var/log/app/symlinked.log").c_str()) == 0);
  MakeDir(f.ctx, "/proc/55/fd");
  REQUIRE(::symlink(f.Real("/var/log/app/opened.log").c_str(), f.Real("/proc/55/fd/9").c_str()) == 0);
  std::filesystem::remove(f.Real("/var/log/app/gone.log"));
  Result<Outcome> out = action.Apply(f.ctx, *plan);
  REQUIRE(out.ok());
  CHECK(Targets(out->changes) == std::set<std::string>{"/var/log/app/plain.log"});
  for (const char* n : {"touched", "replaced", "symlinked", "opened"}) CHECK(ExistsNoFollow(f.ctx, std::string("/var/log/app/") + n + ".log"));
  CHECK(ExistsNoFollow(f.ctx, "/outside/old.log"));
  const nlohmann::json& skipped = out->data["paths"][0]["skipped"];
  CHECK(skipped["changed_since_plan"] == 3);
  CHECK(skipped["open"] == 1);
  CHECK(skipped["vanished"] == 1);
}

TEST_CASE("Apply does not follow a directory swapped for a symlink after the plan") {
  Fixture f;
  WriteAged(f.ctx, "/var/log/app/sub/old.log", 30 * kDay);
  WriteAged(f.ctx, "/outside/sub/old.log", 30 * kDay);
  LogCleanupAction action;
  Result<Plan> plan = action.MakePlan(f.ctx);
  REQUIRE(plan.ok());
  std::filesystem::rename(f.Real("/var/log/app/sub"), f.Real("/var/log/app/sub.moved"));
  REQUIRE(::symlink(f.Real("/outside/sub").c_str(), f.Real("/var/log/app/sub").c_str()) == 0);
  Result<Outcome> out = action.Apply(f.ctx, *plan);
  REQUIRE(out.ok());
  CHECK(ExistsNoFollow(f.ctx, "/outside/sub/old.log"));
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app/sub.moved/old.log"));
  CHECK(Join(out->findings).find("replaced by a symlink since the plan") != std::string::npos);
}

TEST_CASE("Selection parameters: patterns, exclude, keep_newest, max_depth, recursive") {
  struct Case {
    const char* what;
    std::function<void(Params&)> set;
    std::set<std::string> deleted;
  };
  const Case cases[] = {
      {"defaults", [](Params&) {},
       {"/var/log/app/a.log", "/var/log/app/b.log", "/var/log/app/c.log", "/var/log/app/d1/x.log",
        "/var/log/app/d1/d2/y.log", "/var/log/app/.hidden.log"}},
      {"patterns", [](Params& p) { p.Set("patterns", std::vector<std::string>{"*.txt", "?.log"}); },
       {"/var/log/app/a.log", "/var/log/app/b.log", "/var/log/app/c.log", "/var/log/app/d1/x.log",
        "/var/log/app/d1/d2/y.log", "/var/log/app/keep.txt"}},
      {"exclude", [](Params& p) { p.Set("exclude", std::vector<std::string>{"a.*", ".*"}); },
       {"/var/log/app/b.log", "/var/log/app/c.log", "/var/log/app/d1/x.log", "/var/log/app/d1/d2/y.log"}},
      {"keep_newest=2 keeps the 2 newest matching per directory",
       [](Params& p) { p.Set("keep_newest", int64_t{2}); }, {"/var/log/app/a.log", "/var/log/app/.hidden.log"}},
      {"max_depth=1", [](Params& p) { p.Set("max_depth", int64_t{1}); },
       {"/var/log/app/a.log", "/var/log/app/b.log", "/var/log/app/c.log", "/var/log/app/d1/x.log",
        "/var/log/app/.hidden.log"}},
      {"recursive=false", [](Params& p) { p.Set("recursive", false); },
       {"/var/log/app/a.log", "/var/log/app/b.log", "/var/log/app/c.log", "/var/log/app/.hidden.log"}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Fixture f;
    WriteAged(f.ctx, "/var/log/app/a.log", 40 * kDay);
    WriteAged(f.ctx, "/var/log/app/.hidden.log", 35 * kDay);
    WriteAged(f.ctx, "/var/log/app/b.log", 30 * kDay);
    WriteAged(f.ctx, "/var/log/app/c.log", 20 * kDay);
    WriteAged(f.ctx, "/var/log/app/keep.txt", 20 * kDay);
    WriteAged(f.ctx, "/var/log/app/d1/x.log", 20 * kDay);
    WriteAged(f.ctx, "/var/log/app/d1/d2/y.log", 20 * kDay);
    c.set(f.params());
    Run r = PlanAndApply(f);
    CHECK(Targets(r.outcome.changes) == c.deleted);
  }
}

TEST_CASE("keep_newest counts young files too") {
  Fixture f;
  f.params().Set("keep_newest", int64_t{1});
  WriteAged(f.ctx, "/var/log/app/current.log", 1 * kDay);
  WriteAged(f.ctx, "/var/log/app/old1.log", 20 * kDay);
  WriteAged(f.ctx, "/var/log/app/old2.log", 30 * kDay);
  Run r = PlanAndApply(f);
  CHECK(Targets(r.outcome.changes) == std::set<std::string>{"/var/log/app/old1.log", "/var/log/app/old2.log"});
}

std::string Gunzip(const std::string& path) {
  gzFile g = gzopen(path.c_str(), "rb");
  REQUIRE(g != nullptr);
  std::string out;
  char buf[4096];
  int n;
  while ((n = gzread(g, buf, sizeof buf)) > 0) out.append(buf, n);
  gzclose(g);
  return out;
}

TEST_CASE("compress_after gzips younger files atomically, keeping mtime and mode; open ones stay") {
  Fixture f;
  f.params().Set("compress_after", Duration(std::chrono::duration_cast<Duration>(2 * kDay)));
  std::string big;
  for (int i = 0; i < 50000; ++i) big += "line " + std::to_string(i) + " of a log\n";
  WriteAged(f.ctx, "/var/log/app/mid.log", 5 * kDay, big);
  ::chmod(f.Real("/var/log/app/mid.log").c_str(), 0640);
  struct stat before;
  REQUIRE(::stat(f.Real("/var/log/app/mid.log").c_str(), &before) == 0);
  WriteAged(f.ctx, "/var/log/app/fresh.log", 1 * kDay);
  WriteAged(f.ctx, "/var/log/app/old.log", 20 * kDay);
  WriteAged(f.ctx, "/var/log/app/held.log", 5 * kDay);
  WriteAged(f.ctx, "/var/log/app/clash.log", 5 * kDay);
  WriteAged(f.ctx, "/var/log/app/clash.log.gz", 5 * kDay, "not mine");
  MakeDir(f.ctx, "/proc/7/fd");
  REQUIRE(::symlink(f.Real("/var/log/app/held.log").c_str(), f.Real("/proc/7/fd/1").c_str()) == 0);

  Run r = PlanAndApply(f);
  CHECK(Targets(r.plan.changes, "compress") ==
        std::set<std::string>{"/var/log/app/mid.log", "/var/log/app/clash.log"});
  CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/mid.log"));
  REQUIRE(ExistsNoFollow(f.ctx, "/var/log/app/mid.log.gz"));
  CHECK(Gunzip(f.Real("/var/log/app/mid.log.gz")) == big);
  struct stat gz;
  REQUIRE(::stat(f.Real("/var/log/app/mid.log.gz").c_str(), &gz) == 0);
  CHECK(gz.st_mtim.tv_sec == before.st_mtim.tv_sec);
  CHECK(gz.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
  CHECK((gz.st_mode & 07777) == 0640);
  CHECK(gz.st_size < before.st_size / 4);
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app/fresh.log"));
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app/held.log"));
  CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/held.log.gz"));
  CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/old.log"));
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app/clash.log"));  // an existing .gz is never replaced
  CHECK(f.ctx.root().Read("/var/log/app/clash.log.gz") == "not mine");
  CHECK(Join(r.outcome.findings).find("already exists") != std::string::npos);
  // No temp files left behind.
  for (auto& e : std::filesystem::directory_iterator(f.Real("/var/log/app")))
    CHECK(e.path().filename().string().find("tmp-nodeagent") == std::string::npos);
  CHECK(r.outcome.data["totals"]["compressed"]["files"] == 1);
}

TEST_CASE("remove_empty_dirs removes only subdirectories this run emptied") {
  Fixture f;
  f.params().Set("remove_empty_dirs", true);
  WriteAged(f.ctx, "/var/log/app/old.log", 30 * kDay);
  WriteAged(f.ctx, "/var/log/app/gone/a/old.log", 30 * kDay);
  WriteAged(f.ctx, "/var/log/app/gone/b.log", 30 * kDay);
  WriteAged(f.ctx, "/var/log/app/stays/old.log", 30 * kDay);
  WriteAged(f.ctx, "/var/log/app/stays/readme.txt", 30 * kDay);
  MakeDir(f.ctx, "/var/log/app/was-empty");
  Run r = PlanAndApply(f);
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app"));
  CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/gone"));
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app/stays/readme.txt"));
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app/was-empty"));
  CHECK(Targets(r.outcome.changes, "rmdir") == std::set<std::string>{"/var/log/app/gone/a", "/var/log/app/gone"});
}

TEST_CASE("Plan objects: each listed file and each directory to remove is named; the plan rows are in path order") {
  Fixture f;
  f.params().Set("remove_empty_dirs", true);
  WriteAged(f.ctx, "/var/log/app/z.log", 30 * kDay);
  WriteAged(f.ctx, "/var/log/app/gone/b.log", 30 * kDay);
  WriteAged(f.ctx, "/var/log/app/gone/a.log", 30 * kDay);
  LogCleanupAction action;
  Result<Plan> plan = action.MakePlan(f.ctx);
  REQUIRE(plan.ok());
  std::vector<std::string> rows;
  for (const Change& c : plan->changes) {
    REQUIRE(c.objects.size() == 1);
    rows.push_back(c.kind + " " + c.target + " " + c.objects[0]);
  }
  CHECK(rows == std::vector<std::string>{"delete /var/log/app/z.log file:/var/log/app/z.log",
                                         "delete /var/log/app/gone/a.log file:/var/log/app/gone/a.log",
                                         "delete /var/log/app/gone/b.log file:/var/log/app/gone/b.log",
                                         "rmdir /var/log/app/gone file:/var/log/app/gone"});
  Result<Outcome> out = action.Apply(f.ctx, *plan);
  REQUIRE(out.ok());
  CHECK(UnplannedObjects(PlanObjects(plan->changes), out->changes).empty());
  CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/gone"));
}

TEST_CASE("Over the list limit, the unlisted rest is named by each configured path's subtree") {
  Fixture f({"/var/log/app", "/var/log/other"});
  for (size_t i = 0; i < LogCleanupAction::kListLimit + 5; ++i)
    WriteAged(f.ctx, "/var/log/app/f" + std::to_string(i) + ".log", 30 * kDay);
  MakeDir(f.ctx, "/var/log/other");
  LogCleanupAction action;
  Result<Plan> plan = action.MakePlan(f.ctx);
  REQUIRE(plan.ok());
  REQUIRE(plan->changes.size() == LogCleanupAction::kListLimit + 1);
  const Change& more = plan->changes.back();
  CHECK(more.kind == "note");
  CHECK(more.target == "(5 more files)");
  CHECK(more.objects == std::vector<std::string>{"file:/var/log/app/**", "file:/var/log/other/**"});
  Result<Outcome> out = action.Apply(f.ctx, *plan);
  REQUIRE(out.ok());
  CHECK(out->data["totals"]["deleted"]["files"] == LogCleanupAction::kListLimit + 5);
}

TEST_CASE("Apply carries out the plan it is given: files the plan does not name are left alone") {
  Fixture f;
  WriteAged(f.ctx, "/var/log/app/a.log", 30 * kDay);
  WriteAged(f.ctx, "/var/log/app/b.log", 30 * kDay);
  LogCleanupAction action;
  Result<Plan> plan = action.MakePlan(f.ctx);
  REQUIRE(plan.ok());
  REQUIRE(plan->changes.size() == 2);
  Plan only_a = *plan;
  only_a.changes.erase(std::remove_if(only_a.changes.begin(), only_a.changes.end(),
                                      [](const Change& c) { return c.target == "/var/log/app/b.log"; }),
                       only_a.changes.end());
  REQUIRE(only_a.changes.size() == 1);
  Result<Outcome> out = action.Apply(f.ctx, only_a);
  REQUIRE(out.ok());
  CHECK(Targets(out->changes) == std::set<std::string>{"/var/log/app/a.log"});
  CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/a.log"));
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app/b.log"));
  CHECK(Join(out->findings).find("/var/log/app/b.log: not in the plan given to Apply; left alone") != std::string::npos);
}

TEST_CASE("A file that appears between plan and apply is not deleted; one that got younger is skipped") {
  Fixture f;
  WriteAged(f.ctx, "/var/log/app/old.log", 30 * kDay);
  WriteAged(f.ctx, "/var/log/app/rewritten.log", 30 * kDay);
  LogCleanupAction action;
  Result<Plan> plan = action.MakePlan(f.ctx);
  REQUIRE(plan.ok());
  WriteAged(f.ctx, "/var/log/app/new-but-old.log", 30 * kDay);  // old enough, but not in the plan
  WriteAged(f.ctx, "/var/log/app/sub/also-new.log", 30 * kDay);
  WriteAged(f.ctx, "/var/log/app/rewritten.log", 1 * kDay);
  Result<Outcome> out = action.Apply(f.ctx, *plan);
  REQUIRE(out.ok());
  CHECK(Targets(out->changes) == std::set<std::string>{"/var/log/app/old.log"});
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app/new-but-old.log"));
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app/sub/also-new.log"));
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app/rewritten.log"));
  CHECK(out->data["paths"][0]["skipped"]["changed_since_plan"] == 1);
}

TEST_CASE("A large tree walked by several threads plans exactly the old matching files") {
  Fixture f;
  std::set<std::string> expected;
  for (int d = 0; d < 40; ++d) {
    for (int i = 0; i < 25; ++i) {
      std::string path = "/var/log/app/d" + std::to_string(d % 5) + "/e" + std::to_string(d) + "/f" +
                         std::to_string(i) + (i % 2 ? ".log" : ".txt");
      bool old = (i / 2) % 2 == 0;
      WriteAged(f.ctx, path, old ? 20 * kDay : 2 * kDay);
      if (old && i % 2) expected.insert(path);
    }
  }
  f.ctx.set_dry_run(true);
  for (int threads : {1, 2, 4}) {
    INFO(threads);
    LogCleanupAction action(nullptr, threads);
    Result<Plan> plan = action.MakePlan(f.ctx);
    REQUIRE(plan.ok());
    CHECK(Targets(plan->changes) == expected);
    CHECK(plan->data["totals"]["scanned"] == 1000 + 40 + 5);
  }
}

// --- Mount namespace: a tmpfs inside the tree -------------------------------

std::string SelfExe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

/// Makes `dir` under the fixture's root and mounts a 1 MiB tmpfs there (a
/// device of its own). Only in a private mount namespace.
void MountTmpfs(Fixture& f, const std::string& dir) {
  MakeDir(f.ctx, dir);
  REQUIRE(::mount("tmpfs", f.Real(dir).c_str(), "tmpfs", 0, "size=1m") == 0);
}

TEST_CASE("mount-namespace child: a tmpfs inside the tree is not crossed", "[.mountns]") {
  if (!std::getenv("LOGC_IN_PRIVATE_MOUNT_NS")) FAIL("run only through the unshare test");
  Fixture f;
  WriteAged(f.ctx, "/var/log/app/old.log", 30 * kDay);
  MountTmpfs(f, "/var/log/app/mnt");
  WriteAged(f.ctx, "/var/log/app/mnt/old.log", 30 * kDay);
  Run r = PlanAndApply(f);
  CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/old.log"));
  CHECK(ExistsNoFollow(f.ctx, "/var/log/app/mnt/old.log"));
  CHECK(r.plan.data["paths"][0]["skipped"]["other_filesystem"] == 1);
  CHECK(Join(r.plan.findings).find("/var/log/app/mnt: on another filesystem") != std::string::npos);
  // With one_file_system=false the mount is cleaned too.
  f.params().Set("one_file_system", false);
  PlanAndApply(f);
  CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/mnt/old.log"));
  ::umount(f.Real("/var/log/app/mnt").c_str());
}

TEST_CASE("A tmpfs mounted inside the tree is not crossed (private mount namespace)") {
  // A skip would pass CI without the check: fail loudly instead.
  REQUIRE(std::system("unshare -m --propagation private true >/dev/null 2>&1") == 0);  // util-linux, as root
  std::string cmd = "LOGC_IN_PRIVATE_MOUNT_NS=1 unshare -m --propagation private '" + SelfExe() +
                    "' 'mount-namespace child: a tmpfs inside the tree is not crossed' >/tmp/logc_mountns_test.out 2>&1";
  int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::FILE* f = std::fopen("/tmp/logc_mountns_test.out", "r");
    char buf[4096] = {0};
    if (f) {
      buf[std::fread(buf, 1, sizeof buf - 1, f)] = '\0';
      std::fclose(f);
    }
    FAIL("child test failed:\n" << buf);
  }
  std::remove("/tmp/logc_mountns_test.out");
}

// --- Issue 10, defect 14: bind mounts from the same filesystem ----------------

/// Runs the hidden test case `child_case` of this binary in a private mount
/// namespace, so its mounts never reach the host. Fails (never skips) when
/// unshare is missing or refused.
void RunInPrivateMountNamespace(const std::string& child_case) {
  INFO("unshare -m --propagation private (util-linux, root) is required");
  REQUIRE(std::system("unshare -m --propagation private true") == 0);
  const std::string out = "/tmp/logc_mountns_" + std::to_string(::getpid()) + ".out";
  std::string cmd = "LOGC_IN_PRIVATE_MOUNT_NS=1 unshare -m --propagation private '" + SelfExe() + "' '" + child_case +
                    "' >" + out + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::string text;
  if (std::FILE* fp = std::fopen(out.c_str(), "r")) {
    char buf[8192];
    text.assign(buf, std::fread(buf, 1, sizeof buf - 1, fp));
    std::fclose(fp);
  }
  std::remove(out.c_str());
  if (rc != 0) FAIL("child test '" << child_case << "' failed:\n" << text);
}

void BindMount(const std::string& source, const std::string& target) {
  INFO(source << " -> " << target);
  REQUIRE(::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) == 0);
}

TEST_CASE("mount-namespace child: bind mounts are not crossed", "[.mountns]") {
  if (!std::getenv("LOGC_IN_PRIVATE_MOUNT_NS")) FAIL("run only through the unshare test");
  Fixture f;
  WriteAged(f.ctx, "/var/log/app/old.log", 30 * kDay);
  WriteAged(f.ctx, "/srv/shared/a.log", 30 * kDay);
  WriteAged(f.ctx, "/srv/shared/deeper/b.log", 30 * kDay);
  MakeDir(f.ctx, "/var/log/app/shared");
  BindMount(f.Real("/srv/shared"), f.Real("/var/log/app/shared"));
  struct stat a, b;
  REQUIRE(::stat(f.Real("/var/log/app").c_str(), &a) == 0);
  REQUIRE(::stat(f.Real("/var/log/app/shared").c_str(), &b) == 0);
  REQUIRE(a.st_dev == b.st_dev);  // what `find -xdev` compares: no help here
  {
    // Each way of telling the mount id sees the bind mount on its own.
    int parent_fd = ::open(f.Real("/var/log/app").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(parent_fd >= 0);
    for (MountIdSource source : {MountIdSource::kStatxOnly, MountIdSource::kHandleOnly}) {
      INFO(static_cast<int>(source));
      DirIdentity parent, child;
      REQUIRE(IdentityAt(parent_fd, "", parent, source) == 0);
      REQUIRE(IdentityAt(parent_fd, "shared", child, source) == 0);
      CHECK(CrossingBetween(parent, child) == MountCrossing::kMountPoint);
    }
    ::close(parent_fd);
  }

  SECTION("walk and apply: the bind-mounted files stay, the mount point is reported") {
    for (int threads : {1, 4}) {
      INFO(threads);
      WriteAged(f.ctx, "/var/log/app/old.log", 30 * kDay);
      Run r = PlanAndApply(f, nullptr, threads);
      CHECK(Targets(r.plan.changes) == std::set<std::string>{"/var/log/app/old.log"});
      CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/old.log"));
      CHECK(ExistsNoFollow(f.ctx, "/srv/shared/a.log"));
      CHECK(ExistsNoFollow(f.ctx, "/srv/shared/deeper/b.log"));
      CHECK(Join(r.plan.findings).find("/var/log/app/shared: skipped mount point") != std::string::npos);
      CHECK(Join(r.outcome.findings).find("/var/log/app/shared: skipped mount point") != std::string::npos);
      CHECK(r.plan.data["paths"][0]["skipped"]["mount_points"] == 1);
      CHECK(r.plan.data["paths"][0]["skipped"]["other_filesystem"] == 0);
      CHECK(r.outcome.data["paths"][0]["skipped"]["mount_points"] == 1);
      CHECK(r.outcome.data["paths"][0]["errors"] == 0);
    }
  }
  SECTION("one_file_system=false enters the bind mount") {
    f.params().Set("one_file_system", false);
    PlanAndApply(f);
    CHECK_FALSE(ExistsNoFollow(f.ctx, "/srv/shared/a.log"));
    CHECK_FALSE(ExistsNoFollow(f.ctx, "/srv/shared/deeper/b.log"));
  }
  SECTION("a mount placed between the check and the open is caught on the opened descriptor") {
    struct MountOnOpen : WalkHooks {
      Fixture& f;
      bool mounted = false;
      explicit MountOnOpen(Fixture& fixture) : f(fixture) {}
      int BeforeOpenDir(const std::string& host_path) override {
        if (host_path == "/var/log/app/late" && !mounted) {
          // Onto itself: the same device and inode, only the mount differs.
          mounted = ::mount(f.Real(host_path).c_str(), f.Real(host_path).c_str(), nullptr, MS_BIND, nullptr) == 0;
        }
        return 0;
      }
    } hook(f);
    WriteAged(f.ctx, "/var/log/app/late/old.log", 30 * kDay);
    Run r = PlanAndApply(f, &hook, 1);
    REQUIRE(hook.mounted);
    CHECK(ExistsNoFollow(f.ctx, "/var/log/app/late/old.log"));
    CHECK(Join(r.plan.findings).find("/var/log/app/late: skipped mount point") != std::string::npos);
    CHECK(r.plan.data["paths"][0]["skipped"]["mount_points"] == 2);  // shared/ and late/
    ::umount(f.Real("/var/log/app/late").c_str());
  }
  SECTION("a directory bind-mounted onto itself between plan and apply is left alone") {
    WriteAged(f.ctx, "/var/log/app/sub/old.log", 30 * kDay);
    LogCleanupAction action;
    Result<Plan> plan = action.MakePlan(f.ctx);
    REQUIRE(plan.ok());
    CHECK(Targets(plan->changes) == std::set<std::string>{"/var/log/app/old.log", "/var/log/app/sub/old.log"});
    BindMount(f.Real("/var/log/app/sub"), f.Real("/var/log/app/sub"));  // same dev and inode, another mount
    Result<Outcome> out = action.Apply(f.ctx, *plan);
    REQUIRE(out.ok());
    CHECK(ExistsNoFollow(f.ctx, "/var/log/app/sub/old.log"));
    CHECK_FALSE(ExistsNoFollow(f.ctx, "/var/log/app/old.log"));
    CHECK(Join(out->findings).find("/var/log/app/sub: a mount was placed on it since the plan") != std::string::npos);
    ::umount(f.Real("/var/log/app/sub").c_str());
  }
  ::umount(f.Real("/var/log/app/shared").c_str());
}

TEST_CASE("log_cleanup_does_not_cross_a_bind_mount (private mount namespace)") {
  RunInPrivateMountNamespace("mount-namespace child: bind mounts are not crossed");
}

TEST_CASE("mount-namespace child: a held file bind-mounted from another device is found open", "[.mountns]") {
  if (!std::getenv("LOGC_IN_PRIVATE_MOUNT_NS")) FAIL("run only through the unshare test");
  // The plan's open-file read, beside the walk, keeps only the top path's
  // device; a planned file on another one (a file bind mount) makes the plan
  // read again for it.
  Fixture f;
  WriteAged(f.ctx, "/var/log/app/old.log", 30 * kDay);
  MountTmpfs(f, "/other");
  WriteAged(f.ctx, "/other/held.log", 30 * kDay);
  WriteAged(f.ctx, "/var/log/app/held.log", 30 * kDay);
  BindMount(f.Real("/other/held.log"), f.Real("/var/log/app/held.log"));
  MakeDir(f.ctx, "/proc/100/fd");
  REQUIRE(::symlink(f.Real("/other/held.log").c_str(), f.Real("/proc/100/fd/5").c_str()) == 0);
  LogCleanupAction action;
  Result<Plan> plan = action.MakePlan(f.ctx);
  REQUIRE(plan.ok());
  CHECK(plan->data["paths"][0]["skipped"]["open"] == 1);
  CHECK(plan->data["paths"][0]["delete"]["files"] == 1);  // old.log
  ::umount(f.Real("/var/log/app/held.log").c_str());
  ::umount(f.Real("/other").c_str());
}

TEST_CASE("A held file bind-mounted from another device is found open (private mount namespace)") {
  RunInPrivateMountNamespace("mount-namespace child: a held file bind-mounted from another device is found open");
}

// --- Issue 10, defect 3: symlinked components on the way to a path ------------

TEST_CASE("log_cleanup_does_not_follow_a_symlinked_path_component") {
  SECTION("/var/log is a symlink to a directory outside the root") {
    Fixture f({"/var/log/app"});
    WriteAged(f.ctx, "/outside/app/old.log", 30 * kDay);
    MakeDir(f.ctx, "/var");
    REQUIRE(::symlink(f.Real("/outside").c_str(), f.Real("/var/log").c_str()) == 0);
    Run r = PlanAndApply(f);
    CHECK(ExistsNoFollow(f.ctx, "/outside/app/old.log"));
    CHECK(Join(r.outcome.findings).find("/var/log/app: cannot open: /var/log is a symlink; not followed") !=
          std::string::npos);
    CHECK(r.outcome.status == RunStatus::kFailed);
  }
  SECTION("a relative symlink to a directory inside the root") {
    Fixture f({"/var/log/app"});
    WriteAged(f.ctx, "/data/log/app/old.log", 30 * kDay);
    MakeDir(f.ctx, "/var");
    REQUIRE(::symlink("../data/log", f.Real("/var/log").c_str()) == 0);
    Run r = PlanAndApply(f);
    CHECK(ExistsNoFollow(f.ctx, "/data/log/app/old.log"));
    CHECK(Join(r.outcome.findings).find("/var/log is a symlink; not followed") != std::string::npos);
  }
  SECTION("the parent of a glob is reached through a symlink") {
    Fixture f({"/var/log/app-*"});
    WriteAged(f.ctx, "/outside/app-a/old.log", 30 * kDay);
    MakeDir(f.ctx, "/var");
    REQUIRE(::symlink(f.Real("/outside").c_str(), f.Real("/var/log").c_str()) == 0);
    Run r = PlanAndApply(f);
    CHECK(ExistsNoFollow(f.ctx, "/outside/app-a/old.log"));
    CHECK(Join(r.outcome.findings).find("/var/log: cannot open the parent of the glob: /var/log is a symlink") !=
          std::string::npos);
    CHECK(r.outcome.status == RunStatus::kFailed);
  }
  SECTION("a deeper component is a symlink, the glob parent itself is not") {
    Fixture f({"/var/log/pods/app-*"});
    WriteAged(f.ctx, "/outside/pods/app-a/old.log", 30 * kDay);
    MakeDir(f.ctx, "/var");
    REQUIRE(::symlink(f.Real("/outside").c_str(), f.Real("/var/log").c_str()) == 0);
    Run r = PlanAndApply(f);
    CHECK(ExistsNoFollow(f.ctx, "/outside/pods/app-a/old.log"));
    CHECK(Join(r.outcome.findings).find("/var/log is a symlink; not followed") != std::string::npos);
  }
}

// --- Dropped privileges: a real permission error -----------------------------

TEST_CASE("Run as an unprivileged user: unreadable directories are reported and the rest is cleaned") {
  REQUIRE(std::system("command -v setpriv >/dev/null") == 0);  // util-linux (scripts/deps.sh --test)
  char tmpl[] = "/tmp/logc-priv-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::string dir = tmpl;
  ::chmod(dir.c_str(), 0755);
  auto write = [&](const std::string& rel, int64_t age_days) {
    std::filesystem::create_directories(std::filesystem::path(dir + rel).parent_path());
    std::FILE* fp = std::fopen((dir + rel).c_str(), "w");
    std::fputs("x\n", fp);
    std::fclose(fp);
    int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    testutil::SetMtime(dir + rel, now - age_days * kDay.count());
  };
  write("/logs/old.log", 30);
  write("/logs/locked/old.log", 30);
  write("/logs/open/old.log", 30);
  REQUIRE(::chown((dir + "/logs").c_str(), 65534, 65534) == 0);
  REQUIRE(::chown((dir + "/logs/old.log").c_str(), 65534, 65534) == 0);
  REQUIRE(::chown((dir + "/logs/open").c_str(), 65534, 65534) == 0);
  REQUIRE(::chown((dir + "/logs/open/old.log").c_str(), 65534, 65534) == 0);
  ::chmod((dir + "/logs/locked").c_str(), 0700);  // root's, unreadable for nobody
  std::string out = dir + "/out.json";
  std::string cmd = "setpriv --reuid=65534 --regid=65534 --clear-groups " + std::string(LOGC_DRIVER) +
                    " --set 'paths=[\"" + dir + "/logs\"]' --set skip_open_files=false -o json > " + out + " 2>/dev/null";
  int rc = std::system(cmd.c_str());
  CHECK(WEXITSTATUS(rc) == 0);
  std::FILE* fp = std::fopen(out.c_str(), "r");
  REQUIRE(fp != nullptr);
  nlohmann::json j = nlohmann::json::parse(fp);
  std::fclose(fp);
  CHECK(j["data"]["totals"]["deleted"]["files"] == 2);
  CHECK(j["data"]["totals"]["errors"] == 1);
  CHECK_FALSE(std::filesystem::exists(dir + "/logs/old.log"));
  CHECK_FALSE(std::filesystem::exists(dir + "/logs/open/old.log"));
  CHECK(std::filesystem::exists(dir + "/logs/locked/old.log"));
  std::filesystem::remove_all(dir);
}

/// The run's full list as rows of tab-separated fields.
std::vector<std::vector<std::string>> ListRows(const std::string& list) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(list);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream split(line);
    rows.emplace_back();
    for (std::string field; std::getline(split, field, '\t');) rows.back().push_back(field);
  }
  return rows;
}

/// `n` old logs spread over `dirs` directories of /var/log/app, and one young
/// one; the old ones' paths, sorted.
std::vector<std::string> WriteOldLogs(Fixture& f, size_t n, size_t dirs) {
  std::vector<std::string> names;
  for (size_t i = 0; i < n; ++i) {
    std::string path = "/var/log/app/d" + std::to_string(i % dirs) + "/f" + std::to_string(i) + ".log";
    WriteAged(f.ctx, path, 30 * kDay);
    names.push_back(path);
  }
  WriteAged(f.ctx, "/var/log/app/young.log", 1 * kDay);
  std::sort(names.begin(), names.end());
  return names;
}

TEST_CASE("Dry run over the list limit: the plan lists the first rows, the run's full list every file in path order") {
  Fixture f;
  const size_t n = LogCleanupAction::kListLimit + 5;
  std::vector<std::string> names = WriteOldLogs(f, n, 3);
  f.ctx.set_dry_run(true);
  LogCleanupAction action;
  Result<Plan> plan = action.MakePlan(f.ctx);
  REQUIRE(plan.ok());
  REQUIRE(plan->changes.size() == LogCleanupAction::kListLimit + 1);
  CHECK(plan->changes.back().target == "(5 more files)");
  CHECK(plan->changes.back().description.find("--all") != std::string::npos);
  CHECK(plan->data["files_total"] == n);
  CHECK(plan->data["files"].size() == LogCleanupAction::kDataFilesLimit);
  CHECK(plan->data["files_in_run_list"] == true);
  // Every file, one line each: KIND TAB BYTES TAB MTIME TAB PATH, in path order.
  std::vector<std::string> listed;
  for (const auto& fields : ListRows(f.ctx.list())) {
    REQUIRE(fields.size() == 4);
    CHECK(fields[0] == "delete");
    CHECK(fields[1] == "9");
    CHECK(fields[2].size() == 20);  // 2026-11-10T10:00:00Z
    listed.push_back(fields[3]);
  }
  REQUIRE(listed.size() == n);
  CHECK(listed == names);
  // The plan's rows are the first of those.
  for (size_t i = 0; i < LogCleanupAction::kListLimit; ++i) CHECK(plan->changes[i].target == names[i]);
}

TEST_CASE("The list's mtime is the file's, in UTC") {
  Fixture f;
  WriteAged(f.ctx, "/var/log/app/old.log", 30 * kDay);
  testutil::SetMtime(f.Real("/var/log/app/old.log"), int64_t{1'700'000'000} * 1'000'000'000);  // 2023-11-14T22:13:20Z
  f.ctx.set_dry_run(true);
  LogCleanupAction action;
  REQUIRE(action.MakePlan(f.ctx).ok());
  CHECK(f.ctx.list() == "delete\t9\t2023-11-14T22:13:20Z\t/var/log/app/old.log\n");
}

TEST_CASE("Planned files read back from the spool across its read chunks: long names, one directory") {
  Fixture f;
  std::set<std::string> expected;
  for (int i = 0; i < 2500; ++i) {
    std::string path = "/var/log/app/" + std::string(200, 'n') + std::to_string(i) + ".log";
    WriteAged(f.ctx, path, 30 * kDay);
    expected.insert(path);
  }
  LogCleanupAction action;
  Result<Plan> plan = action.MakePlan(f.ctx);
  REQUIRE(plan.ok());
  CHECK(plan->data["files_total"] == 2500);
  Result<Outcome> out = action.Apply(f.ctx, *plan);
  REQUIRE(out.ok());
  CHECK(out->data["totals"]["deleted"]["files"] == 2500);
  for (const std::string& p : expected) CHECK_FALSE(ExistsNoFollow(f.ctx, p));
}

TEST_CASE("Real run over the list limit: the outcome lists the first changes, the run's full list every one done") {
  Fixture f;
  const size_t n = LogCleanupAction::kListLimit + 7;
  const std::vector<std::string> written = WriteOldLogs(f, n, 4);
  const std::set<std::string> names(written.begin(), written.end());
  testutil::SetMtime(f.Real("/var/log/app/d0/f0.log"), int64_t{1'700'000'000} * 1'000'000'000);
  f.params().Set("remove_empty_dirs", true);
  LogCleanupAction action;
  Result<Plan> plan = action.MakePlan(f.ctx);
  REQUIRE(plan.ok());
  CHECK(f.ctx.list().empty());  // a real run lists what it did, not what it planned
  Result<Outcome> out = action.Apply(f.ctx, *plan);
  REQUIRE(out.ok());
  CHECK(out->changes.size() == LogCleanupAction::kListLimit + 1);
  CHECK(out->changes.back().description.find("--all") != std::string::npos);
  CHECK(out->data["changes_in_run_list"] == true);
  std::set<std::string> deleted, removed;
  for (const auto& fields : ListRows(f.ctx.list())) {
    REQUIRE(fields.size() == 4);
    if (fields[0] == "rmdir") {
      removed.insert(fields[3]);
      continue;
    }
    CHECK(fields[0] == "delete");
    CHECK(fields[1] == "9");
    if (fields[3] == "/var/log/app/d0/f0.log") CHECK(fields[2] == "2023-11-14T22:13:20Z");
    CHECK(deleted.insert(fields[3]).second);
  }
  CHECK(deleted == names);
  CHECK(removed == std::set<std::string>{"/var/log/app/d0", "/var/log/app/d1", "/var/log/app/d2", "/var/log/app/d3"});
  CHECK(out->data["totals"]["deleted"]["files"] == n);
}

}  // namespace
}  // namespace nodeagent::logc
