#include "node_status/node_event_recorder.h"

#include <catch2/catch.hpp>

#include "host/fake_host.h"
#include "testing/fake_kube_client.h"

using namespace nodeagent;

namespace {

const std::string kName = NodeEventName("n1", "Normal", "NodeagentCordoned", "cordoned by run r1");
const std::string kEvent = "/api/v1/namespaces/default/events/" + kName;

}  // namespace

TEST_CASE("an Event's name depends on its key only, and stays a valid name") {
  CHECK(kName.starts_with("n1.nodeagent."));
  CHECK(kName.size() == std::string("n1.nodeagent.").size() + 16);
  CHECK(NodeEventName("n1", "Normal", "NodeagentCordoned", "cordoned by run r1") == kName);
  CHECK(NodeEventName("n1", "Warning", "NodeagentCordoned", "cordoned by run r1") != kName);
  CHECK(NodeEventName("n1", "Normal", "NodeagentCordone", "dcordoned by run r1") != kName);
  CHECK(NodeEventName("n2", "Normal", "NodeagentCordoned", "cordoned by run r1") != kName);
  std::string long_node(250, 'a');
  CHECK(NodeEventName(long_node, "Normal", "R", "m").size() <= 253);
  CHECK(ObjectNameProblem(NodeEventName(long_node, "Normal", "R", "m")).empty());
}

TEST_CASE("reasons get the Nodeagent prefix once") {
  CHECK(NodeEventReason("Cordoned") == "NodeagentCordoned");
  CHECK(NodeEventReason("NodeagentCordoned") == "NodeagentCordoned");
}

TEST_CASE("the first report creates an Event on the Node, source nodeagent") {
  FakeKubeClient kube;
  FakeClock clock;
  kube.Answer("POST /api/v1/namespaces/default/events", nlohmann::json::object());
  NodeEventRecorder events(kube, clock, "n1");
  auto r = events.Record(EventType::kNormal, "Cordoned", "cordoned by run r1");
  REQUIRE(r.ok());
  CHECK(*r == NodeEventRecorder::Outcome::kCreated);
  auto sent = kube.SentTo("POST /api/v1/namespaces/default/events");
  REQUIRE(sent.size() == 1);
  const auto& e = sent[0].body;
  CHECK(e["metadata"]["name"] == kName);
  CHECK(e["reason"] == "NodeagentCordoned");
  CHECK(e["type"] == "Normal");
  CHECK(e["count"] == 1);
  CHECK(e["involvedObject"] == nlohmann::json{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", "n1"}, {"uid", "n1"}});
  CHECK(e["source"] == nlohmann::json{{"component", "nodeagent"}, {"host", "n1"}});
  CHECK(e["reportingComponent"] == "nodeagent");
}

TEST_CASE("a repeat counts up the existing Event, guarded by its resourceVersion") {
  FakeKubeClient kube;
  FakeClock clock;
  kube.Fail("POST /api/v1/namespaces/default/events", 409, "AlreadyExists");
  kube.Answer("GET " + kEvent, {{"metadata", {{"name", kName}, {"resourceVersion", "41"}}}, {"count", 4}});
  kube.Answer("PATCH " + kEvent, nlohmann::json::object());
  NodeEventRecorder events(kube, clock, "n1");
  auto r = events.Record(EventType::kNormal, "Cordoned", "cordoned by run r1");
  REQUIRE(r.ok());
  CHECK(*r == NodeEventRecorder::Outcome::kCounted);
  auto patches = kube.SentTo("PATCH " + kEvent);
  REQUIRE(patches.size() == 1);
  CHECK(patches[0].body["count"] == 5);
  CHECK(patches[0].body["metadata"]["resourceVersion"] == "41");
  CHECK(patches[0].body.contains("lastTimestamp"));
  CHECK(patches[0].content_type == "application/strategic-merge-patch+json");
}

TEST_CASE("a count that keeps conflicting gives up after 3 tries, other errors at once") {
  FakeKubeClient kube;
  FakeClock clock;
  kube.Fail("POST /api/v1/namespaces/default/events", 409, "AlreadyExists");
  kube.Answer("GET " + kEvent, {{"metadata", {{"resourceVersion", "41"}}}, {"count", 1}});
  kube.Fail("PATCH " + kEvent, 409, "Conflict");
  NodeEventRecorder events(kube, clock, "n1");
  CHECK_FALSE(events.Record(EventType::kNormal, "Cordoned", "cordoned by run r1").ok());
  CHECK(kube.SentTo("PATCH " + kEvent).size() == 3);

  FakeKubeClient denied;
  denied.Fail("POST /api/v1/namespaces/default/events", 403, "Forbidden");
  NodeEventRecorder refused(denied, clock, "n1");
  CHECK_FALSE(refused.Record(EventType::kWarning, "RunFailed", "x").ok());
  CHECK(denied.sent.size() == 1);
}
