#include "notify/notifier.h"

#include <algorithm>
#include <atomic>
#include <ctime>

#include <nlohmann/json.hpp>

namespace nodeagent {

namespace {

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string OneLine(const NotifyMessage& m) {
  return "nodeagent " + m.action + (m.task.empty() ? "" : " (task " + m.task + ")") + " on " + m.node + ": " +
         m.event + ": " + m.message + " (run " + m.run_id + ")";
}

// Teams: a "message" whose one attachment is an Adaptive Card, the payload
// Teams Workflows ("Send webhook alerts to a channel") and the incoming
// webhooks of Office 365 connectors both accept.
nlohmann::json TeamsBody(const NotifyMessage& m) {
  nlohmann::json facts = nlohmann::json::array();
  auto fact = [&](const char* title, const std::string& value) {
    if (!value.empty()) facts.push_back({{"title", title}, {"value", value}});
  };
  fact("Node", m.node);
  fact("Action", m.action);
  fact("Task", m.task);
  fact("Event", m.event);
  fact("Run", m.run_id);
  fact("Time", Rfc3339(m.time));
  nlohmann::json card = {
      {"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
      {"type", "AdaptiveCard"},
      {"version", "1.4"},
      {"body",
       {{{"type", "TextBlock"}, {"text", "nodeagent " + m.event + " on " + m.node}, {"weight", "Bolder"},
         {"wrap", true}},
        {{"type", "TextBlock"}, {"text", m.message}, {"wrap", true}},
        {{"type", "FactSet"}, {"facts", facts}}}}};
  return {{"type", "message"},
          {"attachments",
           {{{"contentType", "application/vnd.microsoft.card.adaptive"}, {"contentUrl", nullptr}, {"content", card}}}}};
}

}  // namespace

std::string NotifyBody(NotifyFormat format, const NotifyMessage& m) {
  constexpr auto kReplace = nlohmann::json::error_handler_t::replace;  // a message is not always UTF-8
  switch (format) {
    case NotifyFormat::kSlack:
      return nlohmann::json{{"text", OneLine(m)}}.dump(-1, ' ', false, kReplace);
    case NotifyFormat::kTeams:
      return TeamsBody(m).dump(-1, ' ', false, kReplace);
    case NotifyFormat::kJson:
      break;
  }
  return nlohmann::json{{"source", "nodeagent"}, {"event", m.event},   {"node", m.node},
                        {"run_id", m.run_id},    {"action", m.action}, {"task", m.task},
                        {"message", m.message},  {"time", Rfc3339(m.time)}}
      .dump(-1, ' ', false, kReplace);
}

bool TargetTakes(const NotifyTarget& target, std::string_view event) {
  if (target.events.empty()) return true;
  return std::any_of(target.events.begin(), target.events.end(),
                     [&](const std::string& e) { return e == "*" || e == event; });
}

std::chrono::milliseconds RetryDelay(int retry) {
  constexpr std::chrono::milliseconds kFirst{1000}, kMost{30'000};
  if (retry <= 1) return kFirst;
  if (retry > 6) return kMost;
  return std::min(kMost, kFirst * (int64_t{1} << (retry - 1)));
}

Notifier::Notifier(std::vector<NotifyTarget> targets, HttpClient& http, Clock& clock, LogFn log)
    : http_(http), clock_(clock), log_(std::move(log)) {
  for (size_t i = 0; i < targets.size(); ++i) {
    auto lane = std::make_unique<Lane>();
    lane->target = std::move(targets[i]);
    if (lane->target.name.empty()) lane->target.name = "notify[" + std::to_string(i) + "]";
    lanes_.push_back(std::move(lane));
  }
  for (auto& lane : lanes_) lane->thread = std::thread([this, l = lane.get()] { Send(*l); });
}

Notifier::~Notifier() { Finish(std::chrono::milliseconds(0)); }

std::string Notifier::Label(const NotifyTarget& t) const { return t.name + " (" + RedactUrl(t.url) + ")"; }

void Notifier::Notify(const NotifyMessage& m) {
  std::vector<uint64_t> waiting;
  std::chrono::milliseconds longest{0};
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return;
  for (auto& lane : lanes_) {
    if (!TargetTakes(lane->target, m.event)) continue;
    if (lane->pending.size() >= kMaxQueuedPerTarget) {
      ++failed_;
      log_(LogLevel::kWarning, "notification " + m.event + " to " + Label(lane->target) + " not sent: " +
                                   std::to_string(kMaxQueuedPerTarget) + " messages already wait for it");
      continue;
    }
    Delivery d{next_id_++, m.event, NotifyBody(lane->target.format, m), 0, clock_.Monotonic()};
    waiting.push_back(d.id);
    first_attempt_pending_.insert(d.id);
    lane->pending.push_back(std::move(d));
    longest = std::max(longest, lane->target.timeout);
  }
  if (waiting.empty()) return;
  cv_.notify_all();
  // Real time on purpose: this bounds how long the action waits, whatever
  // the clock the retries are scheduled on.
  cv_.wait_for(lock, longest + std::chrono::milliseconds(50), [&] {
    return std::none_of(waiting.begin(), waiting.end(),
                        [&](uint64_t id) { return first_attempt_pending_.count(id) > 0; });
  });
}

void Notifier::Send(Lane& lane) {
  const NotifyTarget& t = lane.target;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (lane.pending.empty() && stopping_) return;
    if (give_up_) return;
    if (lane.pending.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto next = std::min_element(lane.pending.begin(), lane.pending.end(),
                                 [](const Delivery& a, const Delivery& b) { return a.due < b.due; });
    auto now = clock_.Monotonic();
    if (next->due > now) {
      // In slices, so a new message's first attempt does not wait behind a
      // retry's backoff for long.
      auto wait = std::min<std::chrono::milliseconds>(
          std::chrono::duration_cast<std::chrono::milliseconds>(next->due - now) + std::chrono::milliseconds(1),
          std::chrono::milliseconds(100));
      lock.unlock();
      clock_.SleepFor(wait, &give_up_);
      lock.lock();
      continue;
    }
    const uint64_t id = next->id;
    const std::string event = next->event;
    HttpRequest req;
    req.method = "POST";
    req.url = t.url;
    req.body = next->body;
    req.content_type = "application/json";
    req.timeout = t.timeout;
    lock.unlock();
    auto r = http_.Send(req);
    std::string problem;
    if (!r) problem = r.error().message();
    else if (r->status < 200 || r->status >= 300) problem = "HTTP " + std::to_string(r->status);
    lock.lock();
    auto it = std::find_if(lane.pending.begin(), lane.pending.end(), [&](const Delivery& d) { return d.id == id; });
    first_attempt_pending_.erase(id);
    if (it != lane.pending.end()) {
      ++it->attempts;
      if (problem.empty()) {
        if (it->attempts > 1)
          log_(LogLevel::kInfo, "notification " + event + " to " + t.name + " sent at attempt " +
                                    std::to_string(it->attempts));
        lane.pending.erase(it);
      } else if (it->attempts > t.retries) {
        ++failed_;
        log_(LogLevel::kWarning, "notification " + event + " to " + Label(t) + " failed after " +
                                     std::to_string(it->attempts) + " attempt(s): " + problem);
        lane.pending.erase(it);
      } else {
        auto delay = RetryDelay(it->attempts);
        it->due = clock_.Monotonic() + delay;
        log_(LogLevel::kWarning, "notification " + event + " to " + Label(t) + ": " + problem + "; retry " +
                                     std::to_string(it->attempts) + " of " + std::to_string(t.retries) + " in " +
                                     std::to_string(delay.count()) + " ms");
      }
    }
    cv_.notify_all();
  }
}

int Notifier::Finish(std::chrono::milliseconds grace) {
  std::unique_lock<std::mutex> lock(mu_);
  if (joined_) return failed_;
  stopping_ = true;
  cv_.notify_all();
  cv_.wait_for(lock, grace, [&] {
    return std::all_of(lanes_.begin(), lanes_.end(), [](const auto& l) { return l->pending.empty(); });
  });
  std::atomic_ref<bool>(give_up_).store(true);
  cv_.notify_all();
  lock.unlock();
  for (auto& lane : lanes_)
    if (lane->thread.joinable()) lane->thread.join();
  lock.lock();
  joined_ = true;
  for (auto& lane : lanes_) {
    if (lane->pending.empty()) continue;
    failed_ += static_cast<int>(lane->pending.size());
    log_(LogLevel::kWarning, "gave up on " + std::to_string(lane->pending.size()) + " notification(s) to " +
                                 Label(lane->target) + " at the end of the run");
    lane->pending.clear();
  }
  return failed_;
}

int Notifier::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

}  // namespace nodeagent
