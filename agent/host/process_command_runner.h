// The real CommandRunner, on Boost.Process v2. Commands run with argv only
// (never through a shell), in their own process group so that a timeout kills
// everything they started (SIGTERM, then SIGKILL after a grace period). Being
// in their own group also puts them out of reach of the daemon killing a
// run's worker group, so a runner built with the run's cancel flag watches it
// and stops the command's group the same way once the run is cancelled, and
// the command gets SIGKILL should the worker die first (PR_SET_PDEATHSIG).
// A command's output is bounded (OutputLimits): a command that prints a
// gigabyte costs its reader a few MiB, never the gigabyte.
#pragma once

#include <cstddef>

#include "nodeagent/host.h"

namespace nodeagent {

/// How much of a command's output is kept, per stream (stdout, stderr). Past
/// head + tail bytes the middle is dropped: the result keeps the first
/// `head_bytes` and the last `tail_bytes`, with a line "[... N bytes
/// truncated ...]" between them, and CommandResult::output_truncated is set.
/// A line handed to CommandSpec::on_line is cut at `max_line_bytes` (with a
/// "[... line cut at N bytes ...]" marker); the rest of that line is skipped.
/// Default: 1 MiB + 1 MiB per stream (4 MiB in all), lines of 64 KiB.
struct OutputLimits {
  size_t head_bytes = 1024 * 1024;
  size_t tail_bytes = 1024 * 1024;
  size_t max_line_bytes = 64 * 1024;
};

class ProcessCommandRunner : public CommandRunner {
 public:
  /// `kill_grace`: time between SIGTERM and SIGKILL on timeout.
  /// `cancelled` (may be null; read with atomic_ref, may be set from a signal
  /// handler): stop commands once it is true.
  /// `limits`: how much output is kept (see OutputLimits).
  explicit ProcessCommandRunner(std::chrono::milliseconds kill_grace = std::chrono::seconds(2),
                                const bool* cancelled = nullptr, OutputLimits limits = {})
      : kill_grace_(kill_grace), cancelled_(cancelled), limits_(limits) {}
  Result<CommandResult> Run(const CommandSpec& spec) override;

 private:
  bool Cancelled() const;
  std::chrono::milliseconds kill_grace_;
  const bool* cancelled_;
  OutputLimits limits_;
};

/// Finds `name` on PATH (or returns it when it contains a slash). Empty when
/// not found or not executable.
std::string FindExecutable(const std::string& name);

}  // namespace nodeagent
