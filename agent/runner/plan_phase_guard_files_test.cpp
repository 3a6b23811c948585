// The plan-phase guard on the file calls that only look (Stat, Lstat,
// ReadLink: let through) and those that change a file's mode or content in
// place (Chmod, WriteInPlace: refused while planning, passed on after).
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "host/fake_host.h"
#include "host/local_file_system.h"
#include "host/local_host.h"
#include "runner/plan_phase_guard.h"

using namespace nodeagent;

TEST_CASE("while planning, Stat, Lstat and ReadLink pass and Chmod and WriteInPlace are refused") {
  TempRoot root;
  root.Write("/proc/sys/net/ipv4/ip_forward", "0\n");
  REQUIRE(::chmod(root.Real("/proc/sys/net/ipv4/ip_forward").c_str(), 0644) == 0);
  REQUIRE(::symlink("ipv4/ip_forward", root.Real("/proc/sys/net/forward").c_str()) == 0);
  LocalFileSystem files(root.path());
  FakeCommandRunner commands;
  FakeClock clock;
  LocalHost inner(files, commands, clock);
  PlanPhaseFlag planning{true};
  PlanPhaseHost host(inner, planning);
  FileSystem& fs = host.files();

  auto stat = fs.Stat("/proc/sys/net/forward");
  REQUIRE(stat.ok());
  CHECK(stat->type == FileType::kRegular);
  CHECK(stat->size == 2);
  auto lstat = fs.Lstat("/proc/sys/net/forward");
  REQUIRE(lstat.ok());
  CHECK(lstat->type == FileType::kSymlink);
  auto link = fs.ReadLink("/proc/sys/net/forward");
  REQUIRE(link.ok());
  CHECK(*link == "ipv4/ip_forward");

  Status chmod = fs.Chmod("/proc/sys/net/ipv4/ip_forward", 0600);
  REQUIRE_FALSE(chmod.ok());
  CHECK(chmod.error().code() == ErrorCode::kPermissionDenied);
  CHECK(chmod.error().message().starts_with("refused while planning: chmod /proc/sys/net/ipv4/ip_forward"));
  Status write = fs.WriteInPlace("/proc/sys/net/ipv4/ip_forward", "1\n");
  REQUIRE_FALSE(write.ok());
  CHECK(write.error().code() == ErrorCode::kPermissionDenied);
  CHECK(write.error().message().starts_with("refused while planning: writing /proc/sys/net/ipv4/ip_forward in place"));
  CHECK(root.Read("/proc/sys/net/ipv4/ip_forward") == "0\n");
  CHECK(files.Stat("/proc/sys/net/ipv4/ip_forward")->mode == 0644);

  planning = false;  // Apply: the same objects now pass the calls on
  REQUIRE(fs.WriteInPlace("/proc/sys/net/forward", "1\n").ok());
  CHECK(root.Read("/proc/sys/net/ipv4/ip_forward") == "1\n");
  REQUIRE(fs.Chmod("/proc/sys/net/forward", 0600).ok());
  CHECK(files.Stat("/proc/sys/net/ipv4/ip_forward")->mode == 0600);
}
