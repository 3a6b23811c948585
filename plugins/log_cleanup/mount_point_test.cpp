#include "mount_point.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>

namespace nodeagent::logc {
namespace {

/// A temp directory with sub/ and link -> sub, removed at the end.
struct Tree {
  std::string dir;
  int fd = -1;
  Tree() {
    char tmpl[] = "/tmp/logc-mount-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    std::filesystem::create_directories(dir + "/sub");
    REQUIRE(::symlink("sub", (dir + "/link").c_str()) == 0);
    fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(fd >= 0);
  }
  ~Tree() {
    ::close(fd);
    std::filesystem::remove_all(dir);
  }
};

TEST_CASE("IdentityAt: a plain subdirectory is on its parent's mount, by every source") {
  Tree t;
  for (MountIdSource source : {MountIdSource::kStatxThenHandle, MountIdSource::kStatxOnly, MountIdSource::kHandleOnly}) {
    INFO(static_cast<int>(source));
    DirIdentity parent, child;
    REQUIRE(IdentityAt(t.fd, "", parent, source) == 0);
    REQUIRE(IdentityAt(t.fd, "sub", child, source) == 0);
    REQUIRE(parent.mount_id.has_value());
    REQUIRE(child.mount_id.has_value());
    CHECK(*parent.mount_id == *child.mount_id);
    CHECK_FALSE(child.mount_root);
    CHECK(CrossingBetween(parent, child) == MountCrossing::kNone);
    struct stat st;
    REQUIRE(::stat((t.dir + "/sub").c_str(), &st) == 0);
    CHECK(child.dev == st.st_dev);
    CHECK(child.ino == st.st_ino);
  }
  DirIdentity by_statx, by_handle;
  REQUIRE(IdentityAt(t.fd, "sub", by_statx, MountIdSource::kStatxOnly) == 0);
  REQUIRE(IdentityAt(t.fd, "sub", by_handle, MountIdSource::kHandleOnly) == 0);
  CHECK(by_statx.mount_id == by_handle.mount_id);
}

TEST_CASE("IdentityAt does not follow a symlink and reports a missing name") {
  Tree t;
  DirIdentity link;
  REQUIRE(IdentityAt(t.fd, "link", link) == 0);
  struct stat st;
  REQUIRE(::lstat((t.dir + "/link").c_str(), &st) == 0);
  CHECK(link.ino == st.st_ino);
  DirIdentity missing;
  CHECK(IdentityAt(t.fd, "missing", missing) == ENOENT);
}

TEST_CASE("CrossingBetween: device first, then the mount root flag, then the mount id") {
  DirIdentity parent{1, 10, 7, false};
  struct Case {
    DirIdentity child;
    MountCrossing want;
  };
  const Case cases[] = {
      {{1, 11, 7, false}, MountCrossing::kNone},
      {{2, 11, 7, false}, MountCrossing::kOtherFilesystem},
      {{1, 11, 8, false}, MountCrossing::kMountPoint},
      {{1, 11, 7, true}, MountCrossing::kMountPoint},
      {{1, 11, std::nullopt, false}, MountCrossing::kNone},  // nothing known beyond st_dev
      {{1, 11, std::nullopt, true}, MountCrossing::kMountPoint},
  };
  for (const Case& c : cases) {
    INFO(c.child.dev << " " << (c.child.mount_id ? *c.child.mount_id : 0) << " " << c.child.mount_root);
    CHECK(CrossingBetween(parent, c.child) == c.want);
  }
  CHECK(CrossingMessage(MountCrossing::kMountPoint, parent, {1, 11, 8, false}).rfind("skipped mount point", 0) == 0);
  CHECK(CrossingMessage(MountCrossing::kOtherFilesystem, parent, {2, 11, 8, false}).rfind("on another filesystem", 0) ==
        0);
}

}  // namespace
}  // namespace nodeagent::logc
