#include "open_file_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include "linux_dirent.h"

namespace nodeagent::logc {

namespace {

bool IsPid(const char* name) {
  if (*name == 0) return false;
  for (const char* p = name; *p; ++p) {
    if (*p < '0' || *p > '9') return false;
  }
  return true;
}

/// Calls `each(name)` for every entry of the directory `fd` but . and ..;
/// false when reading it failed (errno set).
template <typename Each>
bool ForEachEntry(int fd, std::vector<char>& buffer, Each each) {
  for (;;) {
    long n = ::syscall(SYS_getdents64, fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    for (long off = 0; off < n;) {
      auto* e = reinterpret_cast<LinuxDirent64*>(buffer.data() + off);
      off += e->d_reclen;
      const char* name = e->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      each(name);
    }
  }
}

Error CannotList(const std::string& proc_dir, int err) {
  return ErrnoError("listing open files: cannot read " + proc_dir +
                        " (set skip_open_files=false to clean without this check)",
                    err);
}

}  // namespace

OpenFileIndex::~OpenFileIndex() {
  if (proc_fd_ >= 0) ::close(proc_fd_);
}

OpenFileIndex::OpenFileIndex(OpenFileIndex&& other) noexcept { *this = std::move(other); }

OpenFileIndex& OpenFileIndex::operator=(OpenFileIndex&& other) noexcept {
  if (this != &other) {
    if (proc_fd_ >= 0) ::close(proc_fd_);
    proc_dir_ = std::move(other.proc_dir_);
    proc_fd_ = std::exchange(other.proc_fd_, -1);
    keys_ = std::move(other.keys_);
    processes_ = other.processes_;
    unreadable_ = other.unreadable_;
    descriptors_ = other.descriptors_;
  }
  return *this;
}

Result<OpenFileIndex> OpenFileIndex::Gather(const std::string& proc_dir) {
  Result<OpenFileIndex> index = Open(proc_dir);
  if (!index.ok()) return index;
  if (Status st = index->Read(); !st.ok()) return st.error();
  return index;
}

Result<OpenFileIndex> OpenFileIndex::Open(const std::string& proc_dir) {
  OpenFileIndex index;
  index.proc_dir_ = proc_dir;
  index.proc_fd_ = ::open(proc_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (index.proc_fd_ < 0) return CannotList(proc_dir, errno);
  std::vector<char> buffer(4096);
  if (!ForEachEntry(index.proc_fd_, buffer, [](const char*) {})) return CannotList(proc_dir, errno);
  return index;
}

Status OpenFileIndex::Read(const std::vector<dev_t>& devices) {
  if (proc_fd_ < 0) return CannotList(proc_dir_, EBADF);
  keys_.clear();
  processes_ = unreadable_ = 0;
  descriptors_ = 0;
  if (::lseek(proc_fd_, 0, SEEK_SET) != 0) return CannotList(proc_dir_, errno);
  std::vector<char> pids_buffer(64 * 1024);
  std::vector<std::string> pids;
  if (!ForEachEntry(proc_fd_, pids_buffer, [&](const char* name) {
        if (IsPid(name)) pids.emplace_back(name);
      }))
    return CannotList(proc_dir_, errno);
  // One fstatat per descriptor is the cost; the processes are shared out
  // between threads (one per core, at most 4), each with its own buffer.
  struct Part {
    std::vector<Key> keys;
    int processes = 0, unreadable = 0;
    int64_t descriptors = 0;
  };
  unsigned cores = std::thread::hardware_concurrency();
  const size_t threads = std::clamp<size_t>(std::min<size_t>(cores == 0 ? 1 : cores, pids.size() / 16), 1, 4);
  std::vector<Part> parts(threads);
  std::atomic<size_t> next{0};
  auto read_part = [&](Part& part) {
    std::vector<char> buffer(64 * 1024);
    std::string fd_dir;
    for (size_t i = next.fetch_add(1); i < pids.size(); i = next.fetch_add(1)) {
      fd_dir.assign(pids[i]).append("/fd");
      int fds_fd = ::openat(proc_fd_, fd_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fds_fd < 0) {
        ++part.unreadable;
        continue;
      }
      ++part.processes;
      bool listed = ForEachEntry(fds_fd, buffer, [&](const char* name) {
        ++part.descriptors;
        struct stat st;
        // Follows the link: /proc's magic links lead to the open file itself.
        if (::fstatat(fds_fd, name, &st, 0) != 0 || !S_ISREG(st.st_mode)) return;
        if (!devices.empty() && std::find(devices.begin(), devices.end(), st.st_dev) == devices.end()) return;
        part.keys.push_back(Key{st.st_dev, st.st_ino});
      });
      if (!listed) ++part.unreadable;  // the process ended while it was read
      ::close(fds_fd);
    }
  };
  std::vector<std::thread> workers;
  for (size_t t = 1; t < threads; ++t) workers.emplace_back(read_part, std::ref(parts[t]));
  read_part(parts[0]);
  for (std::thread& w : workers) w.join();
  for (Part& part : parts) {
    keys_.insert(keys_.end(), part.keys.begin(), part.keys.end());
    processes_ += part.processes;
    unreadable_ += part.unreadable;
    descriptors_ += part.descriptors;
  }
  std::sort(keys_.begin(), keys_.end());
  keys_.erase(std::unique(keys_.begin(), keys_.end()), keys_.end());
  keys_.shrink_to_fit();
  return Status::Ok();
}

bool OpenFileIndex::Contains(dev_t dev, ino_t ino) const {
  return std::binary_search(keys_.begin(), keys_.end(), Key{dev, ino});
}

}  // namespace nodeagent::logc
