// The long-running agent. One thread runs an asio event loop that sleeps until
// the next due task or the next request (no polling): it serves the control
// socket, starts each run in a worker process (`nodeagent-runner worker`,
// see worker.h) so a crashing or hanging plugin cannot take it down, enforces
// timeouts on the worker's whole process group, keeps the history, resumes or
// closes runs a crash or reboot interrupted, reloads its config on SIGHUP, and
// talks to systemd (READY, STATUS, WATCHDOG, STOPPING).
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace nodeagent {

struct DaemonOptions {
  std::string config_path;
  std::optional<std::string> config_text;  // embedded demo config instead of a file
  bool allow_missing_config = false;
  std::string worker_exe;  // absolute path of nodeagent-runner, run as `worker`
  /// `nodeagent --demo`: every task enabled (runs are dry runs anyway, as the
  /// demo config sets agent.demo) and each one run once right at start.
  bool demo_showcase = false;
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions options);
  ~Daemon();
  /// Runs until SIGTERM/SIGINT. Returns the process exit code (2 for a bad
  /// config at start, 1 for other start-up failures).
  int Run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nodeagent
