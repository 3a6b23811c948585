#include "notify/notifier.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "host/fake_host.h"

using namespace nodeagent;
using namespace std::chrono_literals;

namespace {

/// Answers each POST with the next scripted status (the last one repeats);
/// 0 is a transport error, -1 hangs until the request's timeout, in real
/// time, like a dead webhook behind curl's timeout; -2 hangs until Release().
class FakeHttpClient : public HttpClient {
 public:
  explicit FakeHttpClient(std::vector<long> script) : script_(std::move(script)) {}
  Result<HttpResponse> Send(const HttpRequest& r) override {
    long status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(r);
      status = script_[std::min(requests_.size() - 1, script_.size() - 1)];
    }
    if (status == -1 || status == -2) {
      std::unique_lock<std::mutex> lock(mu_);
      if (status == -1) cv_.wait_for(lock, r.timeout, [&] { return released_; });
      else cv_.wait(lock, [&] { return released_; });
      return Error(ErrorCode::kTimeout, "POST " + RedactUrl(r.url) + ": timed out");
    }
    if (status == 0) return Error(ErrorCode::kUnavailable, "POST " + RedactUrl(r.url) + ": connection refused");
    return HttpResponse{status, ""};
  }
  std::vector<HttpRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::vector<long> script_;
  std::vector<HttpRequest> requests_;
};

NotifyMessage Message(std::string event = "reboot") {
  return {event, "node-1", "20261206T000000Z-abc", "drain-and-reboot", "weekly", "rebooting node node-1",
          std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000))};
}

NotifyTarget Target(std::string url = "https://hooks.example/services/T000/SECRETTOKEN") {
  NotifyTarget t;
  t.name = "chat";
  t.url = std::move(url);
  return t;
}

struct Logged {
  std::mutex mu;
  std::vector<std::string> lines;
  Notifier::LogFn fn() {
    return [this](LogLevel, const std::string& m) {
      std::lock_guard<std::mutex> lock(mu);
      lines.push_back(m);
    };
  }
  std::string all() {
    std::lock_guard<std::mutex> lock(mu);
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
  }
};

}  // namespace

TEST_CASE("generic JSON body carries every field", "[notify]") {
  auto j = nlohmann::json::parse(NotifyBody(NotifyFormat::kJson, Message()));
  CHECK(j["source"] == "nodeagent");
  CHECK(j["event"] == "reboot");
  CHECK(j["node"] == "node-1");
  CHECK(j["run_id"] == "20261206T000000Z-abc");
  CHECK(j["action"] == "drain-and-reboot");
  CHECK(j["task"] == "weekly");
  CHECK(j["message"] == "rebooting node node-1");
  CHECK(j["time"] == "2027-01-15T08:00:00Z");
}

TEST_CASE("Slack body is one text line", "[notify]") {
  auto j = nlohmann::json::parse(NotifyBody(NotifyFormat::kSlack, Message()));
  REQUIRE(j.size() == 1);
  CHECK(j["text"] == "nodeagent drain-and-reboot (task weekly) on node-1: reboot: rebooting node node-1 "
                     "(run 20261206T000000Z-abc)");
}

TEST_CASE("Teams body is a message with one Adaptive Card", "[notify]") {
  auto j = nlohmann::json::parse(NotifyBody(NotifyFormat::kTeams, Message()));
  CHECK(j["type"] == "message");
  REQUIRE(j["attachments"].size() == 1);
  const auto& a = j["attachments"][0];
  CHECK(a["contentType"] == "application/vnd.microsoft.card.adaptive");
  CHECK(a["content"]["type"] == "AdaptiveCard");
  CHECK(a["content"]["body"][1]["text"] == "rebooting node node-1");
  CHECK(a["content"]["body"][2]["facts"][0]["value"] == "node-1");
}

TEST_CASE("a message that is not UTF-8 still makes a body", "[notify]") {
  NotifyMessage m = Message();
  m.message = "bad \xff byte";
  CHECK_NOTHROW(nlohmann::json::parse(NotifyBody(NotifyFormat::kJson, m)));
}

TEST_CASE("events filter: empty and * take all, else only the listed", "[notify]") {
  NotifyTarget t = Target();
  CHECK(TargetTakes(t, "drain"));
  t.events = {"*"};
  CHECK(TargetTakes(t, "anything"));
  t.events = {"reboot", "failure"};
  CHECK(TargetTakes(t, "failure"));
  CHECK_FALSE(TargetTakes(t, "drain"));
}

TEST_CASE("retry delays double from 1s up to 30s", "[notify]") {
  CHECK(RetryDelay(1) == 1s);
  CHECK(RetryDelay(2) == 2s);
  CHECK(RetryDelay(3) == 4s);
  CHECK(RetryDelay(5) == 16s);
  CHECK(RetryDelay(6) == 30s);
  CHECK(RetryDelay(10) == 30s);
}

TEST_CASE("a target that fails twice gets the message at the third attempt, after the backoff", "[notify]") {
  FakeHttpClient http({500, 0, 200});
  FakeClock clock;
  Logged log;
  auto start = clock.Monotonic();
  Notifier n({Target()}, http, clock, log.fn());
  n.Notify(Message());
  CHECK(n.Finish(10s) == 0);
  auto reqs = http.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].method == "POST");
  CHECK(reqs[0].content_type == "application/json");
  CHECK(reqs[0].timeout == 5s);
  CHECK(nlohmann::json::parse(reqs[2].body)["event"] == "reboot");
  // 1s then 2s of backoff on the fake clock.
  CHECK(clock.Monotonic() - start >= 3s);
  CHECK(clock.Monotonic() - start < 4s);
  CHECK(log.all().find("sent at attempt 3") != std::string::npos);
}

TEST_CASE("a target that always fails is counted once per message, and its URL token is never logged", "[notify]") {
  FakeHttpClient http({503});
  FakeClock clock;
  Logged log;
  NotifyTarget t = Target();
  t.retries = 2;
  Notifier n({t}, http, clock, log.fn());
  n.Notify(Message("drain"));
  n.Notify(Message("reboot"));
  CHECK(n.Finish(10s) == 2);
  CHECK(http.requests().size() == 6);
  CHECK(log.all().find("failed after 3 attempt(s): HTTP 503") != std::string::npos);
  CHECK(log.all().find("SECRETTOKEN") == std::string::npos);
  CHECK(log.all().find("https://hooks.example") != std::string::npos);
}

TEST_CASE("events a target's filter does not take are not sent to it", "[notify]") {
  FakeHttpClient http({200});
  FakeClock clock;
  Logged log;
  NotifyTarget only_failures = Target("http://a/");
  only_failures.events = {"failure"};
  Notifier n({only_failures, Target("http://b/")}, http, clock, log.fn());
  n.Notify(Message("drain"));
  n.Notify(Message("failure"));
  CHECK(n.Finish(10s) == 0);
  auto reqs = http.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(std::count_if(reqs.begin(), reqs.end(), [](const HttpRequest& r) { return r.url == "http://a/"; }) == 1);
}

TEST_CASE("Notify returns once the first attempt answered", "[notify]") {
  FakeHttpClient http({200});
  FakeClock clock;
  Logged log;
  Notifier n({Target()}, http, clock, log.fn());
  n.Notify(Message());
  // No Finish yet: the promise is that the message is already out.
  CHECK(http.requests().size() == 1);
  CHECK(n.failed() == 0);
}

TEST_CASE("a hanging target holds Notify for its timeout only, and Finish gives up on it", "[notify]") {
  FakeHttpClient http({-1});
  FakeClock clock;
  Logged log;
  NotifyTarget t = Target();
  t.timeout = 300ms;
  t.retries = 5;
  Notifier n({t}, http, clock, log.fn());
  auto start = std::chrono::steady_clock::now();
  n.Notify(Message());
  auto held = std::chrono::steady_clock::now() - start;
  CHECK(held >= 300ms);
  CHECK(held < 2s);
  start = std::chrono::steady_clock::now();
  CHECK(n.Finish(100ms) == 1);
  // The grace, plus at most the attempt in flight.
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(log.all().find("gave up on 1 notification(s)") != std::string::npos);
}

TEST_CASE("a full queue counts what it refuses", "[notify]") {
  FakeHttpClient http({-2});
  FakeClock clock;
  Logged log;
  NotifyTarget t = Target();
  t.timeout = 1ms;
  t.retries = 10;
  Notifier n({t}, http, clock, log.fn());
  for (size_t i = 0; i < kMaxQueuedPerTarget + 3; ++i) n.Notify(Message());
  http.Release();
  int failed = n.Finish(0ms);
  CHECK(failed == static_cast<int>(kMaxQueuedPerTarget) + 3);
  CHECK(log.all().find("already wait for it") != std::string::npos);
}

TEST_CASE("no targets: nothing to send, nothing failed", "[notify]") {
  FakeHttpClient http({200});
  FakeClock clock;
  Logged log;
  Notifier n({}, http, clock, log.fn());
  CHECK(n.empty());
  n.Notify(Message());
  CHECK(n.Finish(0ms) == 0);
  CHECK(http.requests().empty());
}
