// The long-running agent. One thread runs an asio event loop that sleeps until
// the next due task or the next request (no polling). This class is the
// wiring: it loads the config, schedules tasks, resumes or closes runs a
// crash or reboot interrupted, reloads its config on SIGHUP, stops on SIGTERM,
// talks to systemd (READY, STATUS, WATCHDOG, STOPPING) and keeps the history.
// The control socket is a ControlServer driven by one table of operations
// (control_operations.h); each run's worker process (`nodeagent-runner
// worker`, see worker.h), so a crashing or hanging plugin cannot take the
// daemon down, is watched by a RunSupervisor (run_supervisor.h) that enforces
// its timeout on the whole process group and says when the run ended.
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
