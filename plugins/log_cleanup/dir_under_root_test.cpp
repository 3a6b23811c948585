#include "dir_under_root.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

namespace nodeagent::logc {
namespace {

/// root/var/log/app (a directory), root/var/run -> /outside-ish target,
/// root/var/file (a regular file), plus a directory outside the root.
struct Roots {
  std::string base, root, outside;
  int root_fd = -1;
  Roots() {
    char tmpl[] = "/tmp/logc-under-root-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    base = tmpl;
    root = base + "/root";
    outside = base + "/outside";
    std::filesystem::create_directories(root + "/var/log/app");
    std::filesystem::create_directories(outside + "/app");
    REQUIRE(::symlink(outside.c_str(), (root + "/var/abs").c_str()) == 0);  // absolute, leaves the root
    REQUIRE(::symlink("log", (root + "/var/rel").c_str()) == 0);            // relative, stays inside
    REQUIRE(::symlink("/var/log", (root + "/var/inroot").c_str()) == 0);    // absolute, inside if chrooted
    std::FILE* f = std::fopen((root + "/var/file").c_str(), "w");
    REQUIRE(f != nullptr);
    std::fclose(f);
    root_fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(root_fd >= 0);
  }
  ~Roots() {
    ::close(root_fd);
    std::filesystem::remove_all(base);
  }
  ino_t Ino(const std::string& real) {
    struct stat st;
    REQUIRE(::stat(real.c_str(), &st) == 0);
    return st.st_ino;
  }
};

TEST_CASE("OpenDirUnderRoot opens real directories and names the symlinked component, by either method") {
  Roots r;
  for (ResolveMethod method : {ResolveMethod::kOpenat2, ResolveMethod::kComponentWalk}) {
    INFO(static_cast<int>(method));
    Result<int> fd = OpenDirUnderRoot(r.root_fd, "/var/log/app", method);
    REQUIRE(fd.ok());
    struct stat st;
    REQUIRE(::fstat(*fd, &st) == 0);
    CHECK(st.st_ino == r.Ino(r.root + "/var/log/app"));
    ::close(*fd);

    Result<int> top = OpenDirUnderRoot(r.root_fd, "/", method);
    REQUIRE(top.ok());
    REQUIRE(::fstat(*top, &st) == 0);
    CHECK(st.st_ino == r.Ino(r.root));
    ::close(*top);

    struct Case {
      const char* path;
      ErrorCode code;
      const char* message;
    };
    const Case cases[] = {
        {"/var/abs/app", ErrorCode::kInvalidArgument, "/var/abs is a symlink; not followed"},
        {"/var/abs", ErrorCode::kInvalidArgument, "/var/abs is a symlink; not followed"},
        {"/var/rel/app", ErrorCode::kInvalidArgument, "/var/rel is a symlink; not followed"},
        {"/var/inroot/app", ErrorCode::kInvalidArgument, "/var/inroot is a symlink; not followed"},
        {"/var/missing/app", ErrorCode::kNotFound, "does not exist"},
        {"/var/file/app", ErrorCode::kInvalidArgument, "is not a directory"},
        {"/var/file", ErrorCode::kInvalidArgument, "is not a directory"},
        {"/var/log/../../..", ErrorCode::kInvalidArgument, "'..'"},
    };
    for (const Case& c : cases) {
      INFO(c.path);
      Result<int> bad = OpenDirUnderRoot(r.root_fd, c.path, method);
      REQUIRE_FALSE(bad.ok());
      CHECK(bad.error().code() == c.code);
      CHECK(bad.error().message().find(c.message) != std::string::npos);
    }
  }
}

}  // namespace
}  // namespace nodeagent::logc
