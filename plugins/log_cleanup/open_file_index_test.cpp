#include "open_file_index.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "log_cleanup_test_util.h"

namespace nodeagent::logc {
namespace {

using testutil::OpenHolder;

TEST_CASE("OpenFileIndex reads a fake /proc of fd symlinks under the root") {
  FakeActionContext ctx;
  ctx.root().Write("/var/log/app/open.log", "x");
  ctx.root().Write("/var/log/app/closed.log", "x");
  testutil::MakeDir(ctx, "/proc/4242/fd");
  testutil::MakeDir(ctx, "/proc/self-not-a-pid");
  testutil::MakeDir(ctx, "/proc/77");  // no fd dir: unreadable, skipped
  REQUIRE(::symlink(ctx.root().Real("/var/log/app/open.log").c_str(), ctx.root().Real("/proc/4242/fd/3").c_str()) == 0);
  REQUIRE(::symlink("/nonexistent/target", ctx.root().Real("/proc/4242/fd/4").c_str()) == 0);

  Result<OpenFileIndex> index = OpenFileIndex::Gather(ctx.root().Real("/proc"));
  REQUIRE(index.ok());
  struct stat open_st, closed_st;
  REQUIRE(::stat(ctx.root().Real("/var/log/app/open.log").c_str(), &open_st) == 0);
  REQUIRE(::stat(ctx.root().Real("/var/log/app/closed.log").c_str(), &closed_st) == 0);
  CHECK(index->Contains(open_st.st_dev, open_st.st_ino));
  CHECK_FALSE(index->Contains(closed_st.st_dev, closed_st.st_ino));
  CHECK(index->size() == 1);
  CHECK(index->processes() == 1);
  CHECK(index->unreadable() == 1);
}

TEST_CASE("OpenFileIndex fails with advice when there is no /proc") {
  FakeActionContext ctx;
  Result<OpenFileIndex> index = OpenFileIndex::Gather(ctx.root().Real("/proc"));
  REQUIRE_FALSE(index.ok());
  CHECK(index.error().message().find("skip_open_files=false") != std::string::npos);
}

TEST_CASE("OpenFileIndex over the real /proc sees a file a child process holds open") {
  FakeActionContext ctx;
  ctx.root().Write("/data/held.log", "x");
  ctx.root().Write("/data/free.log", "x");
  OpenHolder holder(ctx.root().Real("/data/held.log"));
  REQUIRE(holder.pid() > 0);
  Result<OpenFileIndex> index = OpenFileIndex::Gather("/proc");
  REQUIRE(index.ok());
  struct stat held, free_st;
  REQUIRE(::stat(ctx.root().Real("/data/held.log").c_str(), &held) == 0);
  REQUIRE(::stat(ctx.root().Real("/data/free.log").c_str(), &free_st) == 0);
  CHECK(index->Contains(held.st_dev, held.st_ino));
  CHECK_FALSE(index->Contains(free_st.st_dev, free_st.st_ino));
}

}  // namespace
}  // namespace nodeagent::logc
