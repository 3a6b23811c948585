// Helpers shared by the log_cleanup unit tests: files with a given mtime under
// a FakeActionContext's temp root, a child process holding a file open, and a
// snapshot of a whole tree to prove nothing else changed.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>

#include "testing/fake_action_context.h"

namespace nodeagent::logc::testutil {

inline int64_t NowNs(FakeActionContext& ctx) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(ctx.clock().Now().time_since_epoch()).count();
}

inline void SetMtime(const std::string& real, int64_t mtime_ns) {
  struct timespec t[2];
  t[0].tv_sec = t[1].tv_sec = mtime_ns / 1'000'000'000;
  t[0].tv_nsec = t[1].tv_nsec = mtime_ns % 1'000'000'000;
  ::utimensat(AT_FDCWD, real.c_str(), t, AT_SYMLINK_NOFOLLOW);
}

/// Writes host_path under the root with an mtime `age` before the fake clock's now.
inline void WriteAged(FakeActionContext& ctx, const std::string& host_path, std::chrono::nanoseconds age,
                      std::string_view content = "log line\n") {
  ctx.root().Write(host_path, content);
  SetMtime(ctx.root().Real(host_path), NowNs(ctx) - age.count());
}

inline void MakeDir(FakeActionContext& ctx, const std::string& host_path) {
  std::filesystem::create_directories(ctx.root().Real(host_path));
}

inline bool ExistsNoFollow(FakeActionContext& ctx, const std::string& host_path) {
  struct stat st;
  return ::lstat(ctx.root().Real(host_path).c_str(), &st) == 0;
}

/// Every entry under `dir` (not following symlinks): type, size, mtime, link target.
inline std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    std::string v = std::to_string(st.st_mode) + " " + std::to_string(st.st_size) + " " +
                    std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + " " +
                    std::to_string(st.st_ino);
    if (S_ISLNK(st.st_mode)) v += " -> " + std::filesystem::read_symlink(it->path()).string();
    out[it->path().string()] = v;
  }
  return out;
}

/// A child process (sleep) holding `real_path` open on fd 3 until destroyed.
class OpenHolder {
 public:
  explicit OpenHolder(const std::string& real_path) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 3, real_path.c_str(), O_RDONLY, 0);
    char* argv[] = {const_cast<char*>("sleep"), const_cast<char*>("120"), nullptr};
    if (posix_spawn(&pid_, "/bin/sleep", &fa, nullptr, argv, environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    // Wait until the child has the file open.
    std::string fd3 = "/proc/" + std::to_string(pid_) + "/fd/3";
    for (int i = 0; i < 200 && pid_ > 0; ++i) {
      struct stat a, b;
      if (::stat(fd3.c_str(), &a) == 0 && ::stat(real_path.c_str(), &b) == 0 && a.st_ino == b.st_ino) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~OpenHolder() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

}  // namespace nodeagent::logc::testutil
