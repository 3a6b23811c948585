// The real CommandRunner, on Boost.Process v2. Commands run with argv only
// (never through a shell), in their own process group so that a timeout kills
// everything they started (SIGTERM, then SIGKILL after a grace period).
#pragma once

#include "nodeagent/host.h"

namespace nodeagent {

class ProcessCommandRunner : public CommandRunner {
 public:
  /// `kill_grace`: time between SIGTERM and SIGKILL on timeout.
  explicit ProcessCommandRunner(std::chrono::milliseconds kill_grace = std::chrono::seconds(2))
      : kill_grace_(kill_grace) {}
  Result<CommandResult> Run(const CommandSpec& spec) override;

 private:
  std::chrono::milliseconds kill_grace_;
};

/// Finds `name` on PATH (or returns it when it contains a slash). Empty when
/// not found or not executable.
std::string FindExecutable(const std::string& name);

}  // namespace nodeagent
