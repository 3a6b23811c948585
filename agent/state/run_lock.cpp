#include "state/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "host/local_file_system.h"

namespace nodeagent {

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

RunLock::~RunLock() { Release(); }

void RunLock::Release() {
  if (fd_ >= 0) {
    if (::ftruncate(fd_, 0) != 0) {
    }
    ::close(fd_);  // releases the flock
    fd_ = -1;
  }
}

nlohmann::json RunLock::Holder(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  bool free = ::flock(fd, LOCK_SH | LOCK_NB) == 0;
  ::close(fd);
  if (free) return nullptr;
  auto text = ReadWholeFile(path);
  if (!text) return nlohmann::json::object();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

Result<RunLock> RunLock::TryAcquire(const std::string& path, const nlohmann::json& holder) {
  auto slash = path.find_last_of('/');
  if (slash != std::string::npos) {
    Status st = MakeDirsReal(path.substr(0, slash), 0750);
    if (!st.ok()) return st.error();
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) return ErrnoError("opening lock " + path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err != EWOULDBLOCK) return ErrnoError("locking " + path, err);
    auto text = ReadWholeFile(path);
    nlohmann::json h = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
    std::string who = "another run";
    if (h.is_object()) {
      who = "run " + h.value("run_id", "?") + " (" + h.value("action", "?") +
            (h.value("task", "").empty() ? "" : ", task " + h.value("task", "")) + ", pid " +
            std::to_string(h.value("pid", 0)) + ")";
    }
    return Error(ErrorCode::kConflict, who + " is in progress");
  }
  std::string content = holder.dump();
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, content.data(), content.size(), 0) < 0) {
    // The lock is held all the same; only the holder description is missing.
  }
  RunLock lock;
  lock.fd_ = fd;
  lock.path_ = path;
  return lock;
}

}  // namespace nodeagent
