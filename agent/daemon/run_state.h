// The life of one run's worker process, as one state and one function that
// advances it. The daemon used to judge a run finished from six booleans
// (exited, stdout and stderr at EOF, timed out, cancelled, stopping) checked
// wherever one of them changed; here every event a run can meet goes through
// RunStateMachine::Advance, which says what to do about it (nothing, SIGTERM
// the worker's group, SIGKILL it, or end the run) or that the event is not
// legal in the current state and is ignored. No I/O: RunSupervisor drives it.
#pragma once

#include <optional>
#include <string_view>

namespace nodeagent {

enum class RunState {
  kStarting,  // created; the worker is not started yet
  kRunning,   // the worker runs
  kStopping,  // asked to stop (cancel, timeout): SIGTERM sent, SIGKILL after the grace
  kDraining,  // the worker exited; its stdout or stderr is not at EOF yet
  kEnded,     // exited, both streams at EOF: "run ended" was emitted, once
};

enum class RunEvent {
  kWorkerStarted,
  kCancelRequested,  // `agentctl cancel`
  kTimedOut,         // the run's timeout passed
  kStopGraceOver,    // the worker outlived the kill grace after SIGTERM
  kWorkerExited,
  kStdoutClosed,
  kStderrClosed,
};

/// Why a run was asked to stop. A timeout outranks a cancel: a run cancelled
/// and then timed out (or the other way round) ends as timed out.
enum class StopReason { kNone, kCancelled, kTimedOut };

/// What the supervisor does after an accepted event.
enum class RunEffect {
  kNone,
  kTerminateWorker,  // SIGTERM to the worker's group, (re)arm the kill grace
  kKillWorker,       // SIGKILL to the worker's group
  kEndRun,           // emit "run ended"
};

std::string_view RunStateName(RunState state);
std::string_view RunEventName(RunEvent event);

class RunStateMachine {
 public:
  RunState state() const { return state_; }
  StopReason stop_reason() const { return stop_reason_; }
  /// True once the worker process has been reaped (kDraining, kEnded).
  bool worker_exited() const { return state_ == RunState::kDraining || state_ == RunState::kEnded; }

  /// Applies `event`. Returns what to do about it, or nullopt when the event
  /// is not legal in the current state (a timeout after the worker exited, a
  /// second exit): the state is then unchanged and the caller logs it.
  std::optional<RunEffect> Advance(RunEvent event);

 private:
  /// kDraining or kEnded once the worker exited, by the streams still open.
  RunEffect AfterExitOrClose();

  RunState state_ = RunState::kStarting;
  StopReason stop_reason_ = StopReason::kNone;
  bool stdout_open_ = true;
  bool stderr_open_ = true;
};

}  // namespace nodeagent
