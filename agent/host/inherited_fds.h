// Closing inherited file descriptors in a freshly forked child. Boost 1.81's
// Process v2 means to close everything but a whitelist, but its close_all
// compares each whitelisted fd with itself and leaves the gaps between them
// open, so a daemon's listening socket and client connections leaked into
// every command and worker. Called from on_exec_setup, before execve.
#pragma once

#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <vector>

namespace nodeagent {

/// Closes every fd >= 3 that is not in `keep` (async-signal-safe apart from
/// the sort of a tiny vector the parent built).
inline void CloseInheritedFds(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  int from = 3;
  for (int fd : keep) {
    if (fd < from) continue;
    if (fd > from) ::syscall(SYS_close_range, from, fd - 1, 0);
    from = fd + 1;
  }
  ::syscall(SYS_close_range, from, INT_MAX, 0);
}

}  // namespace nodeagent
