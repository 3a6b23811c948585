#include "drainer.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace nodeagent::drain {

namespace {

enum class PodState { kPending, kInFlight, kWaiting, kGone };

struct Entry {
  PodRef ref;
  PodState state = PodState::kPending;
  std::chrono::steady_clock::time_point next{};
  int attempts = 0;
  std::string last;  // last refusal or error
};

struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Entry> entries;
  std::map<std::string, size_t> by_key;
  size_t gone = 0;
  bool stop_workers = false;
  bool watch_failed = false;
  std::string denied;  // the first eviction refused as forbidden: ends the drain
  std::string watch_error;

  void MarkGone(size_t i) {
    if (entries[i].state == PodState::kGone) return;
    entries[i].state = PodState::kGone;
    ++gone;
  }
  // A watch event about `obj`: gone when deleted, or replaced by a new UID.
  void Observe(const nlohmann::json& obj, bool deleted) {
    const auto& md = obj.value("metadata", nlohmann::json::object());
    auto it = by_key.find(md.value("namespace", "") + "/" + md.value("name", ""));
    if (it == by_key.end()) return;
    Entry& e = entries[it->second];
    std::string uid = md.value("uid", "");
    if (deleted ? (uid.empty() || uid == e.ref.uid) : (!e.ref.uid.empty() && uid != e.ref.uid)) MarkGone(it->second);
  }
};

}  // namespace

Drainer::Drainer(KubeClient& kube, Clock& clock, DrainerOptions options, DrainLog log,
                 std::function<bool()> should_stop)
    : kube_(kube), clock_(clock), options_(options), log_(std::move(log)), should_stop_(std::move(should_stop)) {}

Result<DrainReport> Drainer::Drain(const std::string& node, const std::vector<PodRef>& pods,
                                   const std::string& list_rv) {
  DrainReport report;
  if (pods.empty()) return report;
  auto log = [this](LogLevel l, const std::string& m) {
    if (log_) log_(l, m);
  };
  Shared s;
  for (const auto& p : pods) {
    s.by_key[p.key()] = s.entries.size();
    s.entries.push_back(Entry{p});
  }
  std::atomic<int> calls{0}, refusals{0};

  // One watch on the node's pods tells when each is gone.
  std::atomic<bool> stop_watch{false};
  std::thread watcher([&] {
    WatchRequest req;
    req.resource = WatchResource::kPods;
    req.field_selector = OnNodeSelector(node);
    req.resource_version = list_rv;
    KubeStatus st = kube_.Watch(
        req,
        [&](const WatchEvent& ev) {
          std::lock_guard<std::mutex> lock(s.mu);
          if (ev.type == WatchEventType::kDeleted) {
            s.Observe(ev.object, true);
          } else if (ev.type == WatchEventType::kAdded || ev.type == WatchEventType::kModified) {
            s.Observe(ev.object, false);
          } else if (ev.type == WatchEventType::kRelisted) {
            std::map<std::string, std::string> present;
            for (const auto& item : ev.object.value("items", nlohmann::json::array()))
              present[item["metadata"].value("namespace", "") + "/" + item["metadata"].value("name", "")] =
                  item["metadata"].value("uid", "");
            for (size_t i = 0; i < s.entries.size(); ++i) {
              auto it = present.find(s.entries[i].ref.key());
              if (it == present.end() || it->second != s.entries[i].ref.uid) s.MarkGone(i);
            }
          }
          s.cv.notify_all();
          // Ending as soon as everything is gone saves waiting for the stop poll.
          return !stop_watch.load() && s.gone < s.entries.size();
        },
        &stop_watch);
    if (!st.ok() && !stop_watch.load()) {
      std::lock_guard<std::mutex> lock(s.mu);
      s.watch_failed = true;
      s.watch_error = st.error().message();
      s.cv.notify_all();
    }
  });

  DeleteOptions base;
  if (options_.grace_period_seconds >= 0) base.grace_period_seconds = options_.grace_period_seconds;

  auto worker = [&] {
    std::unique_lock<std::mutex> lock(s.mu);
    for (;;) {
      if (s.stop_workers || !s.denied.empty()) return;
      auto now = clock_.Monotonic();
      Entry* next = nullptr;
      auto soonest = now + std::chrono::milliseconds(200);
      for (auto& e : s.entries) {
        if (e.state != PodState::kPending) continue;
        if (e.next <= now) {
          next = &e;
          break;
        }
        soonest = std::min(soonest, e.next);
      }
      if (!next) {
        if (s.gone == s.entries.size()) return;
        s.cv.wait_until(lock, soonest);
        continue;
      }
      next->state = PodState::kInFlight;
      PodRef ref = next->ref;
      lock.unlock();
      DeleteOptions o = base;
      o.precondition_uid = ref.uid;
      KubeResult<nlohmann::json> r =
          options_.disable_eviction ? kube_.DeletePod(ref.ns, ref.name, o) : kube_.EvictPod(ref.ns, ref.name, o);
      ++calls;
      lock.lock();
      Entry& e = s.entries[s.by_key[ref.key()]];
      if (r.ok()) {
        if (e.state != PodState::kGone) e.state = PodState::kWaiting;
      } else if (r.error().code() == ErrorCode::kNotFound || r.error().code() == ErrorCode::kConflict) {
        s.MarkGone(s.by_key[ref.key()]);  // gone, or a new incarnation under the same name
      } else if (r.error().code() == ErrorCode::kPermissionDenied && e.state != PodState::kGone) {
        // RBAC (403) or the apply-phase guard said no: waiting does not
        // change that, so the drain ends now instead of at drain_timeout.
        e.last = "eviction forbidden: " +
                 (r.detail().status_message.empty() ? r.error().message() : r.detail().status_message);
        e.state = PodState::kPending;
        if (s.denied.empty()) s.denied = "pod " + ref.key() + ": " + e.last;
      } else if (e.state != PodState::kGone) {
        bool refused = r.error().code() == ErrorCode::kTooManyRequests;
        if (refused) ++refusals;
        auto backoff = options_.initial_backoff * (1 << std::min(e.attempts, 10));
        backoff = std::min(backoff, options_.max_backoff);
        if (r.detail().retry_after) backoff = std::max<std::chrono::milliseconds>(*r.detail().retry_after, backoff / 2);
        e.attempts++;
        e.last = (refused ? "eviction refused: " : "eviction failed: ") +
                 (r.detail().status_message.empty() ? r.error().message() : r.detail().status_message);
        e.state = PodState::kPending;
        e.next = clock_.Monotonic() + backoff;
        if (e.attempts == 1 || !refused)
          log(refused ? LogLevel::kInfo : LogLevel::kWarning,
              "pod " + ref.key() + ": " + e.last + " (retrying in " + std::to_string(backoff.count()) + " ms)");
      }
      s.cv.notify_all();
    }
  };
  int n = std::max(1, std::min<int>(options_.max_in_flight, static_cast<int>(pods.size())));
  std::vector<std::thread> workers;
  for (int i = 0; i < n; ++i) workers.emplace_back(worker);

  const auto start = clock_.Monotonic();
  auto poll_waiting = [&](std::unique_lock<std::mutex>& lock) {
    // Fallback when the watch failed: ask for each waiting pod.
    std::vector<PodRef> waiting;
    for (auto& e : s.entries)
      if (e.state == PodState::kWaiting) waiting.push_back(e.ref);
    lock.unlock();
    for (const auto& ref : waiting) {
      auto p = kube_.GetPod(ref.ns, ref.name);
      std::lock_guard<std::mutex> g(s.mu);
      size_t i = s.by_key[ref.key()];
      if (!p.ok() && p.error().code() == ErrorCode::kNotFound) s.MarkGone(i);
      else if (p.ok() && (*p)["metadata"].value("uid", "") != ref.uid) s.MarkGone(i);
    }
    lock.lock();
  };
  auto wait_all = [&](std::chrono::steady_clock::time_point deadline, bool limited) {
    std::unique_lock<std::mutex> lock(s.mu);
    bool warned = false;
    auto last_poll = clock_.Monotonic();
    while (s.gone < s.entries.size()) {
      if (should_stop_ && should_stop_()) {
        report.cancelled = true;
        break;
      }
      if (limited && clock_.Monotonic() >= deadline) {
        report.timed_out = true;
        break;
      }
      if (!s.denied.empty()) break;
      if (s.watch_failed) {
        if (!warned) log(LogLevel::kWarning, "pod watch failed (" + s.watch_error + "); polling waiting pods instead");
        warned = true;
        if (clock_.Monotonic() - last_poll >= std::chrono::seconds(1)) {
          poll_waiting(lock);
          last_poll = clock_.Monotonic();
          continue;
        }
      }
      s.cv.wait_for(lock, std::chrono::milliseconds(100));
    }
  };
  wait_all(start + options_.timeout, options_.timeout.count() > 0);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.stop_workers = true;
    s.cv.notify_all();
  }
  for (auto& t : workers) t.join();

  if (report.timed_out && options_.on_timeout == OnDrainTimeout::kDelete) {
    std::vector<PodRef> rest;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      for (auto& e : s.entries)
        if (e.state != PodState::kGone) rest.push_back(e.ref);
    }
    log(LogLevel::kWarning, "drain timed out with " + std::to_string(rest.size()) +
                                " pod(s) left; on_drain_timeout=delete: deleting them without eviction");
    for (const auto& ref : rest) {
      DeleteOptions o = base;
      o.precondition_uid = ref.uid;
      auto r = kube_.DeletePod(ref.ns, ref.name, o);
      ++calls;
      std::lock_guard<std::mutex> lock(s.mu);
      size_t i = s.by_key[ref.key()];
      if (r.ok()) {
        report.deleted_after_timeout.push_back(ref);
        if (s.entries[i].state != PodState::kGone) s.entries[i].state = PodState::kWaiting;
      } else if (r.error().code() == ErrorCode::kNotFound || r.error().code() == ErrorCode::kConflict) {
        s.MarkGone(i);
      } else {
        s.entries[i].last = "delete failed: " + r.error().message();
      }
    }
    report.timed_out = false;
    wait_all(clock_.Monotonic() + options_.delete_wait, true);
    if (report.timed_out) log(LogLevel::kWarning, "deleted pods did not go within the delete wait");
  }

  stop_watch = true;
  watcher.join();
  for (auto& e : s.entries) {
    if (e.state == PodState::kGone) report.gone.push_back(e.ref);
    else report.remaining.emplace_back(e.ref, e.last.empty() ? std::string("still terminating") : e.last);
  }
  report.eviction_calls = calls;
  report.refusals = refusals;
  report.denied = s.denied;
  return report;
}

}  // namespace nodeagent::drain
