// Proving that a process is one of our workers before signalling it. A run
// record keeps its worker's pid so that the next start can end a worker a
// killed daemon left behind; but after a reboot, or once that worker ended,
// the pid belongs to somebody else (nginx's "worker process", say), and
// killing its group would take down a stranger. A pid is only ours when the
// kernel boot, the process's start time and its executable all match what
// the record kept when the worker started; the signal then goes through a
// pidfd, so it reaches that process and no other.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "nodeagent/result.h"

namespace nodeagent {

/// Who a worker was, as recorded when it started.
struct WorkerIdentity {
  int64_t pid = 0;
  /// Field 22 of /proc/PID/stat: start time in clock ticks since the boot.
  int64_t start_ticks = 0;
  /// The real kernel's boot id (/proc/sys/kernel/random/boot_id, never under
  /// the agent's root prefix: processes live in the real /proc).
  std::string kernel_boot_id;
};

/// The identity of a live process `pid` (this process for 0). Error when it
/// is gone or /proc cannot be read.
Result<WorkerIdentity> ReadWorkerIdentity(pid_t pid = 0);

/// The running kernel's boot id, trimmed; empty when unreadable.
std::string KernelBootId();

/// Ends the recorded worker and its process group with SIGKILL, but only
/// when `recorded` is provably the same process: same kernel boot, same
/// start time, and its executable is `expected_exe` (after a package upgrade
/// the running file may show as "… (deleted)"). Returns true when it was
/// signalled; false with `why` set when it was left alone (gone, another
/// boot, another process, another program).
bool KillIfOurWorker(const WorkerIdentity& recorded, const std::string& expected_exe, std::string& why);

}  // namespace nodeagent
