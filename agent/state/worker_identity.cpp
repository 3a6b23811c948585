#include "state/worker_identity.h"

#include "host/local_file_system.h"
#include "host/local_host.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <vector>

namespace nodeagent {

namespace {

/// A small /proc file, trimmed; "" when unreadable.
std::string ReadProcFile(const std::string& path) {
  auto text = ReadWholeFile(path, 4096);
  return text ? Trim(*text) : "";
}

/// Field 22 (starttime) of a /proc/PID/stat text; -1 when malformed. The
/// command name (field 2) may hold spaces and parentheses: fields are
/// counted after its last ')'.
int64_t StartTicksOf(const std::string& stat) {
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return -1;
  }
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(field.c_str(), &end, 10);
  if (errno != 0 || end == field.c_str() || *end != '\0' || v < 0) return -1;
  return v;
}

std::string ExeOf(pid_t pid) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string exe(buf, static_cast<size_t>(n));
  const std::string deleted = " (deleted)";
  if (exe.size() > deleted.size() && exe.ends_with(deleted)) exe.resize(exe.size() - deleted.size());
  return exe;
}

std::string RealPathOf(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return path;
  return buf;
}

}  // namespace

std::string KernelBootId() { return ReadProcFile("/proc/sys/kernel/random/boot_id"); }

Result<WorkerIdentity> ReadWorkerIdentity(pid_t pid) {
  if (pid == 0) pid = ::getpid();
  std::string stat = ReadProcFile("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return NotFound("no process " + std::to_string(pid));
  int64_t ticks = StartTicksOf(stat);
  if (ticks < 0) return Error(ErrorCode::kIo, "cannot parse /proc/" + std::to_string(pid) + "/stat");
  return WorkerIdentity{pid, ticks, KernelBootId()};
}

bool KillIfOurWorker(const WorkerIdentity& recorded, const std::string& expected_exe, std::string& why) {
  if (recorded.pid <= 1 || recorded.start_ticks <= 0 || recorded.kernel_boot_id.empty()) {
    why = "the record does not say which process its worker was (start time and boot unknown)";
    return false;
  }
  if (recorded.kernel_boot_id != KernelBootId()) {
    why = "the worker ran in another boot";
    return false;
  }
  const pid_t pid = static_cast<pid_t>(recorded.pid);
  // The pidfd pins this process: whatever we verify below is about the
  // process the signal will reach, even if the pid is reused meanwhile.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    why = errno == ESRCH ? "no such process" : std::string("pidfd_open: ") + std::strerror(errno);
    return false;
  }
  bool ours = false;
  auto live = ReadWorkerIdentity(pid);
  if (!live) {
    why = "no such process";
  } else if (live->start_ticks != recorded.start_ticks) {
    why = "the pid now belongs to a process started at another time";
  } else if (ExeOf(pid) != RealPathOf(expected_exe)) {
    why = "the pid now runs " + ExeOf(pid) + ", not " + expected_exe;
  } else {
    ours = true;
  }
  if (ours) {
    // Its group first (plugins' children), while the leader is alive and
    // verified: a group id is never reused while a member lives.
    if (::getpgid(pid) == pid) ::kill(-pid, SIGKILL);
    if (::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) != 0) {
      why = std::string("pidfd_send_signal: ") + std::strerror(errno);
      ours = false;
    }
  }
  ::close(pidfd);
  return ours;
}

}  // namespace nodeagent
