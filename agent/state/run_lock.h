// Mutual exclusion between runs, across processes: one run per task, and one
// disruptive action (drain, reboot, join) at a time on the node. Built on
// flock(2) so that a crashed holder releases its lock with its last fd, and
// so that the daemon and `agentctl --local` exclude each other too. The lock
// file names its holder, so a refused request can say which run is in the way.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "nodeagent/result.h"

namespace nodeagent {

class RunLock {
 public:
  RunLock() = default;
  RunLock(RunLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) { other.fd_ = -1; }
  RunLock& operator=(RunLock&& other) noexcept;
  ~RunLock();

  /// Takes the lock at `path` without waiting and records `holder` in it.
  /// kConflict (message naming the current holder's run) when taken.
  static Result<RunLock> TryAcquire(const std::string& path, const nlohmann::json& holder);
  /// Reads who holds it; null when free.
  static nlohmann::json Holder(const std::string& path);

  bool held() const { return fd_ >= 0; }
  void Release();

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace nodeagent
