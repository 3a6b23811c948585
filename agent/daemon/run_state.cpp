#include "daemon/run_state.h"

namespace nodeagent {

std::string_view RunStateName(RunState state) {
  switch (state) {
    case RunState::kStarting: return "starting";
    case RunState::kRunning: return "running";
    case RunState::kStopping: return "stopping";
    case RunState::kDraining: return "draining";
    case RunState::kEnded: return "ended";
  }
  return "?";
}

std::string_view RunEventName(RunEvent event) {
  switch (event) {
    case RunEvent::kWorkerStarted: return "worker started";
    case RunEvent::kCancelRequested: return "cancel";
    case RunEvent::kTimedOut: return "timeout";
    case RunEvent::kStopGraceOver: return "kill grace over";
    case RunEvent::kWorkerExited: return "worker exited";
    case RunEvent::kStdoutClosed: return "stdout closed";
    case RunEvent::kStderrClosed: return "stderr closed";
  }
  return "?";
}

RunEffect RunStateMachine::AfterExitOrClose() {
  if (!worker_exited()) return RunEffect::kNone;
  if (stdout_open_ || stderr_open_) {
    state_ = RunState::kDraining;
    return RunEffect::kNone;
  }
  state_ = RunState::kEnded;
  return RunEffect::kEndRun;
}

std::optional<RunEffect> RunStateMachine::Advance(RunEvent event) {
  const bool alive = state_ == RunState::kRunning || state_ == RunState::kStopping;
  switch (event) {
    case RunEvent::kWorkerStarted:
      if (state_ != RunState::kStarting) return std::nullopt;
      state_ = RunState::kRunning;
      return RunEffect::kNone;
    case RunEvent::kCancelRequested:
    case RunEvent::kTimedOut:
      // Asked again while stopping: SIGTERM again and a fresh grace, as before.
      if (!alive) return std::nullopt;
      if (event == RunEvent::kTimedOut) stop_reason_ = StopReason::kTimedOut;
      else if (stop_reason_ == StopReason::kNone) stop_reason_ = StopReason::kCancelled;
      state_ = RunState::kStopping;
      return RunEffect::kTerminateWorker;
    case RunEvent::kStopGraceOver:
      if (state_ != RunState::kStopping) return std::nullopt;
      return RunEffect::kKillWorker;
    case RunEvent::kWorkerExited:
      if (!alive) return std::nullopt;
      state_ = RunState::kDraining;  // the worker has exited; the streams decide the rest
      return AfterExitOrClose();
    case RunEvent::kStdoutClosed:
    case RunEvent::kStderrClosed: {
      bool& open = event == RunEvent::kStdoutClosed ? stdout_open_ : stderr_open_;
      if (!open || !(alive || state_ == RunState::kDraining)) return std::nullopt;
      open = false;
      return AfterExitOrClose();
    }
  }
  return std::nullopt;
}

}  // namespace nodeagent
