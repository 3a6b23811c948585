// The core's one notifier: every action's ActionContext::Notify, and the
// core's own "failure" message, go through it to the `[[notify]]` targets.
// Sending happens on a thread per target, so a slow or dead webhook never
// holds an action longer than one per-message timeout, and never holds the
// other targets. Failed attempts are retried with exponential backoff; what
// could still not be sent is counted (RunRecord::notifications_failed, the
// metric nodeagent_notifications_failed_total). URLs appear only redacted.
//
// Ordering promise (an action about to reboot the node): Notify() returns
// once the first attempt of the message to each target that takes it has
// ended, or after that target's timeout, whichever is first. So a reachable
// webhook has the "reboot" message before the action goes on; retries of a
// failed first attempt continue in the background until Finish().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "nodeagent/action.h"
#include "nodeagent/host.h"
#include "nodeagent/http.h"
#include "nodeagent/result.h"
#include "notify/notify_target.h"

namespace nodeagent {

/// What a notification says; the same fields in every format.
struct NotifyMessage {
  std::string event;  // "drain", "reboot", "uncordon", "failure", ...
  std::string node;
  std::string run_id;
  std::string action;
  std::string task;  // "" for an ad-hoc run
  std::string message;
  std::chrono::system_clock::time_point time;
};

/// The request body for `format`.
std::string NotifyBody(NotifyFormat format, const NotifyMessage& m);
/// True when `target`'s events filter takes `event` (empty or "*": all).
bool TargetTakes(const NotifyTarget& target, std::string_view event);
/// The wait before retry number `retry` (1-based): 1s, 2s, 4s, ... at most 30s.
std::chrono::milliseconds RetryDelay(int retry);

/// At most this many messages wait per target; more are counted as failed.
inline constexpr size_t kMaxQueuedPerTarget = 32;

class Notifier {
 public:
  using LogFn = std::function<void(LogLevel, const std::string&)>;
  /// `http`, `clock` and `log` must outlive the notifier; `log` is called
  /// from the sending threads and never gets a URL, only RedactUrl's form.
  Notifier(std::vector<NotifyTarget> targets, HttpClient& http, Clock& clock, LogFn log);
  /// Finish(0) if not called.
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  /// Queues `m` for every target whose filter takes its event and waits for
  /// the first attempts (see the ordering promise above). Never fails: a
  /// full queue or an attempt that fails is logged and counted.
  void Notify(const NotifyMessage& m);
  /// Stops taking messages, waits up to `grace` for pending ones (retries
  /// included), then gives up on the rest; an attempt in flight still ends
  /// at its own timeout. Returns failed(). Idempotent.
  int Finish(std::chrono::milliseconds grace);
  /// Messages (per target) that could not be sent so far.
  int failed() const;
  bool empty() const { return lanes_.empty(); }

 private:
  struct Delivery {
    uint64_t id = 0;
    std::string event;
    std::string body;
    int attempts = 0;
    std::chrono::steady_clock::time_point due;
  };
  struct Lane {
    NotifyTarget target;
    std::deque<Delivery> pending;
    std::thread thread;
  };
  void Send(Lane& lane);
  std::string Label(const NotifyTarget& t) const;

  HttpClient& http_;
  Clock& clock_;
  LogFn log_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<uint64_t> first_attempt_pending_;
  uint64_t next_id_ = 1;
  int failed_ = 0;
  bool stopping_ = false;
  bool give_up_ = false;  // read with atomic_ref by Clock::SleepFor
  bool joined_ = false;
};

}  // namespace nodeagent
