#include "node_status/node_reporter.h"

#include <catch2/catch.hpp>

#include "host/fake_host.h"
#include "testing/fake_kube_client.h"

using namespace nodeagent;

namespace {

constexpr ConditionSpec kCalico[] = {{"NodeAgentCalicoNetwork", "CalicoNetworkProblem", "CalicoNetworkHealthy", ""}};

struct Fixture {
  FakeKubeClient kube;
  FakeClock clock;
  std::vector<std::string> logged;
  NodeReporter Reporter(bool with_client = true) {
    NodeReporter::KubeSource source;
    if (with_client) source = [this]() -> Result<KubeClient*> { return &kube; };
    else source = []() -> Result<KubeClient*> { return Error(ErrorCode::kNotFound, "no kubeconfig"); };
    return NodeReporter("n1", clock, source, [this](LogLevel, const std::string& m) { logged.push_back(m); });
  }
};

}  // namespace

TEST_CASE("without a kubeconfig the reporter is off and silent, a broken one is said once, never fails") {
  struct Case {
    ErrorCode code;
    size_t lines;
  };
  for (Case c : {Case{ErrorCode::kNotFound, 0}, Case{ErrorCode::kUnavailable, 0}, Case{ErrorCode::kInvalidArgument, 1}}) {
    Fixture f;
    NodeReporter r("n1", f.clock, [&]() -> Result<KubeClient*> { return Error(c.code, "kubeconfig: bad"); },
                   [&](LogLevel, const std::string& m) { f.logged.push_back(m); });
    r.Event(EventType::kNormal, "Cordoned", "x");
    r.SetConditions(kCalico, {});
    r.Event(EventType::kNormal, "Cordoned", "y");
    REQUIRE(f.logged.size() == c.lines);
    if (c.lines) CHECK(f.logged[0] == "Node Events and conditions are off: kubeconfig: bad");
    CHECK(f.kube.sent.empty());
  }
}

TEST_CASE("a failed Event is logged and the run goes on") {
  Fixture f;
  f.kube.Fail("POST /api/v1/namespaces/default/events", 403, "Forbidden", "events is forbidden");
  NodeReporter r = f.Reporter();
  r.Event(EventType::kWarning, "RunFailed", "x");
  REQUIRE(f.logged.size() == 1);
  CHECK(f.logged[0].find("could not post Event NodeagentRunFailed") != std::string::npos);
}

TEST_CASE("conditions for a Node not joined yet are skipped with a note") {
  Fixture f;
  f.kube.Fail("GET /api/v1/nodes/n1", 404, "NotFound");
  NodeReporter r = f.Reporter();
  r.SetConditions(kCalico, std::vector<Finding>{{Severity::kError, "nm", "eth0 managed"}});
  REQUIRE(f.logged.size() == 1);
  CHECK(f.logged[0].find("does not exist") != std::string::npos);
  CHECK(f.logged[0].find("NodeAgentCalicoNetwork=True") != std::string::npos);
}

TEST_CASE("the reports stop once they took the run's budget") {
  // A slow API server: each call takes 15 s of the (fake) clock.
  struct SlowKube : FakeKubeClient {
    FakeClock* clock = nullptr;
    KubeResult<nlohmann::json> Request(const KubeRequest& r) override {
      clock->Advance(std::chrono::seconds(15));
      return FakeKubeClient::Request(r);
    }
  };
  Fixture f;
  SlowKube slow;
  slow.clock = &f.clock;
  slow.Fail("POST /api/v1/namespaces/default/events", 503, "ServiceUnavailable");
  NodeReporter r("n1", f.clock, [&]() -> Result<KubeClient*> { return &slow; },
                 [&](LogLevel, const std::string& m) { f.logged.push_back(m); });
  for (int i = 0; i < 5; ++i) r.Event(EventType::kNormal, "Step", std::to_string(i));
  CHECK(slow.sent.size() == 2);  // 15 s, 30 s: past the 20 s budget, the rest are not sent
  CHECK(f.logged.back().find("are not sent") != std::string::npos);
}

TEST_CASE("the run's own Event: failed, files fixed, or none") {
  std::vector<Change> none;
  std::vector<Change> files = {{"edit", "/etc/fstab", "", "", 0, {"file:/etc/fstab"}}};
  std::vector<Change> other = {{"cordon", "node/n1", "", "", 0, {"kube:nodes/n1"}}};
  auto failed = RunEndEventFor("join-prep", RunStatus::kFailed, "2 checks failed", none);
  REQUIRE(failed);
  CHECK(failed->type == EventType::kWarning);
  CHECK(failed->reason == "RunFailed");
  CHECK(failed->message == "join-prep: 2 checks failed");
  auto fixed = RunEndEventFor("join-prep", RunStatus::kChanged, "swap off", files);
  REQUIRE(fixed);
  CHECK(fixed->reason == "FilesFixed");
  CHECK_FALSE(RunEndEventFor("drain", RunStatus::kChanged, "", other));
  CHECK_FALSE(RunEndEventFor("join-prep", RunStatus::kOk, "", none));
}
