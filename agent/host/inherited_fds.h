// Closing inherited file descriptors in a freshly forked child. Boost 1.81's
// Process v2 means to close everything but a whitelist, but its close_all
// compares each whitelisted fd with itself and leaves the gaps between them
// open, so a daemon's listening socket and client connections leaked into
// every command and worker. Called from on_exec_setup, before execve.
#pragma once

#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/system/error_code.hpp>

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

/// A Boost.Process v2 initializer for children the agent starts: closes
/// inherited fds, puts the child in its own process group (so a timeout kills
/// everything it started) and, with `death_signal`, has it signalled when the
/// parent dies. Pass it last, after process_stdio.
struct ChildProcessSetup {
  int death_signal = 0;
  template <typename Launcher, typename Path>
  boost::system::error_code on_exec_setup(Launcher& launcher, const Path&, const char* const*) {
    CloseInheritedFds(launcher.fd_whitelist);  // Boost 1.81's own close_all leaves gaps
    ::setpgid(0, 0);
    if (death_signal) ::prctl(PR_SET_PDEATHSIG, death_signal);
    return {};
  }
};

}  // namespace nodeagent
