// The run state machine, transition by transition: each legal event and what
// it makes the supervisor do, and every illegal one left without effect.
#include "daemon/run_state.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

using namespace nodeagent;

namespace {

/// A machine walked to `state` by legal events.
RunStateMachine In(RunState state) {
  RunStateMachine m;
  if (state == RunState::kStarting) return m;
  m.Advance(RunEvent::kWorkerStarted);
  if (state == RunState::kStopping) m.Advance(RunEvent::kCancelRequested);
  if (state == RunState::kDraining) m.Advance(RunEvent::kWorkerExited);
  if (state == RunState::kEnded) {
    m.Advance(RunEvent::kStdoutClosed);
    m.Advance(RunEvent::kStderrClosed);
    m.Advance(RunEvent::kWorkerExited);
  }
  REQUIRE(m.state() == state);
  return m;
}

const std::vector<RunEvent> kAllEvents = {RunEvent::kWorkerStarted, RunEvent::kCancelRequested, RunEvent::kTimedOut,
                                          RunEvent::kStopGraceOver, RunEvent::kWorkerExited,    RunEvent::kStdoutClosed,
                                          RunEvent::kStderrClosed};

}  // namespace

TEST_CASE("run state: legal transitions and their effects") {
  struct Case {
    RunState from;
    RunEvent event;
    RunState to;
    RunEffect effect;
  };
  const std::vector<Case> cases = {
      {RunState::kStarting, RunEvent::kWorkerStarted, RunState::kRunning, RunEffect::kNone},
      {RunState::kRunning, RunEvent::kCancelRequested, RunState::kStopping, RunEffect::kTerminateWorker},
      {RunState::kRunning, RunEvent::kTimedOut, RunState::kStopping, RunEffect::kTerminateWorker},
      {RunState::kRunning, RunEvent::kWorkerExited, RunState::kDraining, RunEffect::kNone},
      {RunState::kRunning, RunEvent::kStdoutClosed, RunState::kRunning, RunEffect::kNone},
      {RunState::kRunning, RunEvent::kStderrClosed, RunState::kRunning, RunEffect::kNone},
      {RunState::kStopping, RunEvent::kCancelRequested, RunState::kStopping, RunEffect::kTerminateWorker},
      {RunState::kStopping, RunEvent::kTimedOut, RunState::kStopping, RunEffect::kTerminateWorker},
      {RunState::kStopping, RunEvent::kStopGraceOver, RunState::kStopping, RunEffect::kKillWorker},
      {RunState::kStopping, RunEvent::kWorkerExited, RunState::kDraining, RunEffect::kNone},
      {RunState::kStopping, RunEvent::kStdoutClosed, RunState::kStopping, RunEffect::kNone},
      {RunState::kDraining, RunEvent::kStdoutClosed, RunState::kDraining, RunEffect::kNone},
      {RunState::kDraining, RunEvent::kStderrClosed, RunState::kDraining, RunEffect::kNone},
  };
  for (const Case& c : cases) {
    INFO(RunStateName(c.from) << " + " << RunEventName(c.event));
    RunStateMachine m = In(c.from);
    auto effect = m.Advance(c.event);
    REQUIRE(effect.has_value());
    CHECK(*effect == c.effect);
    CHECK(m.state() == c.to);
  }
}

TEST_CASE("run state: the run ends once the worker exited and both streams closed, in any order") {
  const std::vector<std::vector<RunEvent>> orders = {
      {RunEvent::kWorkerExited, RunEvent::kStdoutClosed, RunEvent::kStderrClosed},
      {RunEvent::kWorkerExited, RunEvent::kStderrClosed, RunEvent::kStdoutClosed},
      {RunEvent::kStdoutClosed, RunEvent::kWorkerExited, RunEvent::kStderrClosed},
      {RunEvent::kStdoutClosed, RunEvent::kStderrClosed, RunEvent::kWorkerExited},
      {RunEvent::kStderrClosed, RunEvent::kStdoutClosed, RunEvent::kWorkerExited},
      {RunEvent::kStderrClosed, RunEvent::kWorkerExited, RunEvent::kStdoutClosed},
  };
  for (const auto& order : orders) {
    RunStateMachine m = In(RunState::kRunning);
    int ended = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      auto effect = m.Advance(order[i]);
      REQUIRE(effect.has_value());
      if (*effect == RunEffect::kEndRun) ++ended;
      if (i + 1 < order.size()) CHECK(m.state() != RunState::kEnded);
    }
    CHECK(ended == 1);
    CHECK(m.state() == RunState::kEnded);
    CHECK(m.stop_reason() == StopReason::kNone);
  }
}

TEST_CASE("run state: a timeout outranks a cancel, whichever came first") {
  RunStateMachine cancel_then_timeout = In(RunState::kRunning);
  cancel_then_timeout.Advance(RunEvent::kCancelRequested);
  CHECK(cancel_then_timeout.stop_reason() == StopReason::kCancelled);
  cancel_then_timeout.Advance(RunEvent::kTimedOut);
  CHECK(cancel_then_timeout.stop_reason() == StopReason::kTimedOut);

  RunStateMachine timeout_then_cancel = In(RunState::kRunning);
  timeout_then_cancel.Advance(RunEvent::kTimedOut);
  timeout_then_cancel.Advance(RunEvent::kCancelRequested);
  CHECK(timeout_then_cancel.stop_reason() == StopReason::kTimedOut);

  // The reason survives the end of the run, for the record.
  timeout_then_cancel.Advance(RunEvent::kWorkerExited);
  timeout_then_cancel.Advance(RunEvent::kStdoutClosed);
  CHECK(timeout_then_cancel.Advance(RunEvent::kStderrClosed) == RunEffect::kEndRun);
  CHECK(timeout_then_cancel.stop_reason() == StopReason::kTimedOut);
}

TEST_CASE("run state: illegal events are refused and change nothing") {
  struct Case {
    RunState in;
    std::vector<RunEvent> legal;
  };
  const std::vector<Case> cases = {
      {RunState::kStarting, {RunEvent::kWorkerStarted}},
      {RunState::kRunning,
       {RunEvent::kCancelRequested, RunEvent::kTimedOut, RunEvent::kWorkerExited, RunEvent::kStdoutClosed,
        RunEvent::kStderrClosed}},
      {RunState::kStopping,
       {RunEvent::kCancelRequested, RunEvent::kTimedOut, RunEvent::kStopGraceOver, RunEvent::kWorkerExited,
        RunEvent::kStdoutClosed, RunEvent::kStderrClosed}},
      {RunState::kDraining, {RunEvent::kStdoutClosed, RunEvent::kStderrClosed}},
      {RunState::kEnded, {}},
  };
  for (const Case& c : cases) {
    for (RunEvent event : kAllEvents) {
      if (std::find(c.legal.begin(), c.legal.end(), event) != c.legal.end()) continue;
      INFO(RunStateName(c.in) << " + " << RunEventName(event));
      RunStateMachine m = In(c.in);
      StopReason reason = m.stop_reason();
      CHECK_FALSE(m.Advance(event).has_value());
      CHECK(m.state() == c.in);
      CHECK(m.stop_reason() == reason);
    }
  }
}

TEST_CASE("run state: a stream closes only once, and a second close is refused") {
  RunStateMachine m = In(RunState::kRunning);
  CHECK(m.Advance(RunEvent::kStdoutClosed).has_value());
  CHECK_FALSE(m.Advance(RunEvent::kStdoutClosed).has_value());
  m.Advance(RunEvent::kWorkerExited);
  CHECK(m.state() == RunState::kDraining);
  CHECK_FALSE(m.Advance(RunEvent::kStdoutClosed).has_value());
  CHECK(m.state() == RunState::kDraining);
  CHECK(m.Advance(RunEvent::kStderrClosed) == RunEffect::kEndRun);
}
