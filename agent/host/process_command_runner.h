// The real CommandRunner, on Boost.Process v2. Commands run with argv only
// (never through a shell), in their own process group so that a timeout kills
// everything they started (SIGTERM, then SIGKILL after a grace period). Being
// in their own group also puts them out of reach of the daemon killing a
// run's worker group, so a runner built with the run's cancel flag watches it
// and stops the command's group the same way once the run is cancelled, and
// the command gets SIGKILL should the worker die first (PR_SET_PDEATHSIG).
#pragma once

#include "nodeagent/host.h"

namespace nodeagent {

class ProcessCommandRunner : public CommandRunner {
 public:
  /// `kill_grace`: time between SIGTERM and SIGKILL on timeout.
  /// `cancelled` (may be null; read with atomic_ref, may be set from a signal
  /// handler): stop commands once it is true.
  explicit ProcessCommandRunner(std::chrono::milliseconds kill_grace = std::chrono::seconds(2),
                                const bool* cancelled = nullptr)
      : kill_grace_(kill_grace), cancelled_(cancelled) {}
  Result<CommandResult> Run(const CommandSpec& spec) override;

 private:
  bool Cancelled() const;
  std::chrono::milliseconds kill_grace_;
  const bool* cancelled_;
};

/// Finds `name` on PATH (or returns it when it contains a slash). Empty when
/// not found or not executable.
std::string FindExecutable(const std::string& name);

}  // namespace nodeagent
