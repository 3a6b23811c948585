#include "open_file_index.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nodeagent::logc {

namespace {

bool IsPid(const char* name) {
  if (*name == 0) return false;
  for (const char* p = name; *p; ++p) {
    if (*p < '0' || *p > '9') return false;
  }
  return true;
}

}  // namespace

Result<OpenFileIndex> OpenFileIndex::Gather(const std::string& proc_dir) {
  OpenFileIndex index;
  int proc_fd = ::open(proc_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc_fd < 0) {
    return ErrnoError("listing open files: cannot open " + proc_dir +
                          " (set skip_open_files=false to clean without this check)",
                      errno);
  }
  DIR* procs = ::fdopendir(proc_fd);
  if (!procs) {
    int err = errno;
    ::close(proc_fd);
    return ErrnoError("listing open files: reading " + proc_dir, err);
  }
  while (struct dirent* pe = ::readdir(procs)) {
    if (!IsPid(pe->d_name)) continue;
    std::string fd_dir = std::string(pe->d_name) + "/fd";
    int fds_fd = ::openat(proc_fd, fd_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fds_fd < 0) {
      ++index.unreadable_;
      continue;
    }
    DIR* fds = ::fdopendir(fds_fd);
    if (!fds) {
      ::close(fds_fd);
      ++index.unreadable_;
      continue;
    }
    ++index.processes_;
    while (struct dirent* fe = ::readdir(fds)) {
      if (fe->d_name[0] == '.') continue;
      struct stat st;
      // Follows the link: /proc's magic links lead to the open file itself.
      if (::fstatat(fds_fd, fe->d_name, &st, 0) != 0) continue;
      if (S_ISREG(st.st_mode)) index.set_.insert(Key{st.st_dev, st.st_ino});
    }
    ::closedir(fds);
  }
  ::closedir(procs);
  return index;
}

}  // namespace nodeagent::logc
