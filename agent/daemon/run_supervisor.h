// One run's worker process, watched from start to end. The supervisor starts
// `nodeagent-runner worker` in its own process group (SIGTERM to it if the
// daemon dies), hands it the request on stdin, reads its event lines (stdout)
// and its own messages (stderr, logged scrubbed of secrets), bounds both, and
// enforces the run's timeout and the kill grace. Every event goes through a
// RunStateMachine (run_state.h); when the worker has exited and both streams
// are at EOF it emits "run ended" once, with the exit status and why it was
// stopped. What the run's record then says is the daemon's decision.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "daemon/run_state.h"
#include "nodeagent/params.h"
#include "nodeagent/result.h"
#include "runner/secret_scrubber.h"

namespace boost::asio {
class io_context;
}

namespace nodeagent {

/// How a run's worker ended, as the supervisor saw it.
struct RunEnded {
  int native_status = 0;  // waitpid status: WIFEXITED / WIFSIGNALED apply
  StopReason stop_reason = StopReason::kNone;
};

struct RunSupervisorOptions {
  std::string run_id;       // for log lines
  std::string worker_exe;   // absolute path of nodeagent-runner, run as `worker`
  Duration timeout{0};      // the run's timeout: then SIGTERM to the group
  Duration kill_grace{0};   // after a SIGTERM for a cancel or timeout: SIGKILL
  SecretScrubber scrubber;  // applied to what the worker prints on stderr
};

struct RunSupervisorCallbacks {
  /// One complete line of the worker's event stream (stdout), without '\n'.
  /// Lines longer than the cap are dropped (with a warning) and never given.
  std::function<void(const std::string& line)> on_event_line;
  /// Called once, when the run ended (see the header comment).
  std::function<void(const RunEnded&)> on_ended;
};

class RunSupervisor {
 public:
  RunSupervisor(boost::asio::io_context& io, RunSupervisorOptions options, RunSupervisorCallbacks callbacks);
  ~RunSupervisor();
  RunSupervisor(const RunSupervisor&) = delete;
  RunSupervisor& operator=(const RunSupervisor&) = delete;

  /// Starts the worker process. Nothing is read or timed until Supervise().
  /// Fails (kIo) when the worker cannot be started; the supervisor is then unused.
  Status Spawn();
  /// Writes `request` to the worker's stdin, then closes it; starts reading its
  /// streams, waiting for its exit and counting the timeout. Call once after Spawn().
  void Supervise(std::string request);

  /// Cancel (`agentctl cancel`): SIGTERM to the group, SIGKILL after the grace.
  /// Ignored once the worker has exited.
  void Cancel();
  /// SIGTERM / SIGKILL to the worker's group without asking it to stop as a
  /// run (the agent is stopping; the daemon judges the outcome).
  void Terminate();
  void Kill();

  pid_t pid() const;
  RunState state() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with the I/O handlers in flight
};

}  // namespace nodeagent
