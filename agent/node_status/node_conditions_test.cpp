#include "node_status/node_conditions.h"

#include <catch2/catch.hpp>

#include "testing/fake_kube_client.h"

using namespace nodeagent;
using namespace std::chrono;

namespace {

constexpr ConditionSpec kTable[] = {
    {"NodeAgentJoinPrep", "JoinPrepProblem", "JoinPrepPassed", "join preflight"},
    {"NodeAgentSwapEnabled", "SwapEnabled", "SwapDisabled", "swap is off"},
};

const system_clock::time_point kNow{seconds(1'800'000'000)};

}  // namespace

TEST_CASE("a condition table is checked: prefix, CamelCase, unique, bounded") {
  CHECK(CheckConditionTable(kTable).ok());
  struct Case {
    ConditionSpec row;
    const char* why;
  };
  const Case bad[] = {
      {{"CalicoNetwork", "Bad", "Good", ""}, "no NodeAgent prefix"},
      {{"NodeAgent", "Bad", "Good", ""}, "prefix alone"},
      {{"NodeAgent-Calico", "Bad", "Good", ""}, "not CamelCase"},
      {{"NodeAgentCalico", "", "Good", ""}, "empty true reason"},
      {{"NodeAgentCalico", "Bad", "not good", ""}, "false reason with a space"},
  };
  for (const Case& c : bad) {
    INFO(c.why);
    CHECK_FALSE(CheckConditionTable({&c.row, 1}).ok());
  }
  const ConditionSpec twice[] = {kTable[0], kTable[0]};
  CHECK_FALSE(CheckConditionTable(twice).ok());
  std::vector<ConditionSpec> many(kMaxConditionsPerAction + 1, kTable[0]);
  CHECK(CheckConditionTable(many).error().message().find("at most") != std::string::npos);
}

TEST_CASE("error findings hold their condition True, the rest are False") {
  std::vector<Finding> findings = {
      {Severity::kError, "swap", "swap is on: /dev/sda2", "NodeAgentSwapEnabled"},
      {Severity::kWarning, "kernel", "old kernel", ""},  // a warning holds nothing
      {Severity::kError, "swap", "fstab has a swap entry", "NodeAgentSwapEnabled"},
      {Severity::kError, "x", "from elsewhere", "NodeAgentOther"},
  };
  std::vector<std::string> undeclared;
  auto states = EvaluateConditions(kTable, findings, &undeclared);
  REQUIRE(states.size() == 2);
  CHECK(states[0].type == "NodeAgentJoinPrep");
  CHECK(states[0].status == "False");
  CHECK(states[0].reason == "JoinPrepPassed");
  CHECK(states[1].status == "True");
  CHECK(states[1].reason == "SwapEnabled");
  CHECK(states[1].message == "swap: swap is on: /dev/sda2; swap: fstab has a swap entry");
  CHECK(undeclared == std::vector<std::string>{"NodeAgentOther"});

  // No condition named: the first row.
  auto general = EvaluateConditions(kTable, std::vector<Finding>{{Severity::kError, "", "port 10250 in use"}});
  CHECK(general[0].status == "True");
  CHECK(general[0].message == "port 10250 in use");
  CHECK(general[1].status == "False");
}

TEST_CASE("a condition's message is bounded and cut on a UTF-8 boundary") {
  std::vector<Finding> findings;
  for (int i = 0; i < 200; ++i) findings.push_back({Severity::kError, "", "\xc3\xa9\xc3\xa9 problem " + std::to_string(i)});
  auto states = EvaluateConditions(kTable, findings);
  CHECK(states[0].message.size() <= kMaxConditionMessageBytes);
  CHECK(states[0].message.ends_with("..."));
  CHECK(CutUtf8("\xc3\xa9\xc3\xa9\xc3\xa9", 6) == "\xc3\xa9\xc3\xa9\xc3\xa9");
  CHECK(CutUtf8("\xc3\xa9\xc3\xa9\xc3\xa9", 5) == "\xc3\xa9...");
  CHECK(CutUtf8("a\xc3\xa9" "bcd", 5) == "a...");  // "a" and half of a two-byte character: the half goes
}

TEST_CASE("the patch carries only our types and keeps lastTransitionTime while the status holds") {
  nlohmann::json node = {{"status",
                          {{"conditions",
                            {{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", "2020-01-01T00:00:00Z"}},
                             {{"type", "NodeAgentSwapEnabled"}, {"status", "True"},
                              {"lastTransitionTime", "2026-01-01T00:00:00Z"}},
                             {{"type", "NodeAgentJoinPrep"}, {"status", "True"},
                              {"lastTransitionTime", "2026-01-02T00:00:00Z"}}}}}}};
  std::vector<NodeConditionState> states = {{"NodeAgentJoinPrep", "False", "JoinPrepPassed", "ok"},
                                            {"NodeAgentSwapEnabled", "True", "SwapEnabled", "swap on"}};
  nlohmann::json patch = NodeConditionsPatch(states, node, kNow);
  const auto& conds = patch["status"]["conditions"];
  REQUIRE(conds.size() == 2);  // not Ready
  CHECK(patch.size() == 1);
  CHECK(patch["status"].size() == 1);
  CHECK(conds[0]["type"] == "NodeAgentJoinPrep");
  CHECK(conds[0]["lastTransitionTime"] == KubeTimestamp(kNow));  // True -> False: changes now
  CHECK(conds[1]["lastTransitionTime"] == "2026-01-01T00:00:00Z");  // still True: kept
  CHECK(conds[1]["lastHeartbeatTime"] == KubeTimestamp(kNow));
  CHECK(KubeTimestamp(kNow) == "2027-01-15T08:00:00Z");
}

TEST_CASE("SetNodeConditions patches nodes/NAME/status with a strategic merge patch") {
  FakeKubeClient kube;
  kube.Answer("GET /api/v1/nodes/n1", {{"metadata", {{"name", "n1"}}}});
  kube.Answer("PATCH /api/v1/nodes/n1/status", nlohmann::json::object());
  std::vector<NodeConditionState> states = {{"NodeAgentJoinPrep", "True", "JoinPrepProblem", "bad"}};
  auto r = SetNodeConditions(kube, "n1", states, kNow);
  REQUIRE(r.ok());
  CHECK(*r == NodeConditionsOutcome::kSet);
  auto sent = kube.SentTo("PATCH /api/v1/nodes/n1/status");
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].content_type == "application/strategic-merge-patch+json");
  CHECK(sent[0].body["status"]["conditions"][0]["status"] == "True");
}

TEST_CASE("a Node that does not exist is not an error, other failures are") {
  FakeKubeClient kube;
  kube.Fail("GET /api/v1/nodes/n1", 404, "NotFound");
  std::vector<NodeConditionState> states = {{"NodeAgentJoinPrep", "True", "JoinPrepProblem", "bad"}};
  auto r = SetNodeConditions(kube, "n1", states, kNow);
  REQUIRE(r.ok());
  CHECK(*r == NodeConditionsOutcome::kNoNode);
  CHECK(kube.SentTo("PATCH /api/v1/nodes/n1/status").empty());

  FakeKubeClient denied;
  denied.Answer("GET /api/v1/nodes/n1", {{"metadata", {{"name", "n1"}}}});
  denied.Fail("PATCH /api/v1/nodes/n1/status", 403, "Forbidden");
  CHECK_FALSE(SetNodeConditions(denied, "n1", states, kNow).ok());
}
