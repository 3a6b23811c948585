#include "cluster/calico_pod.h"

#include <catch2/catch.hpp>

#include "testing/fake_kube_client.h"

namespace nodeagent::calico {
namespace {

using nlohmann::json;

constexpr const char* kPods = "GET /api/v1/namespaces/kube-system/pods";
constexpr const char* kEvents = "GET /api/v1/namespaces/kube-system/events";

json Pod(bool ready, int restarts) {
  return {{"metadata", {{"name", "calico-node-x7k2p"}, {"namespace", "kube-system"}}},
          {"status",
           {{"phase", "Running"},
            {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})},
            {"containerStatuses",
             json::array({{{"name", "calico-node"},
                           {"ready", ready},
                           {"restartCount", restarts},
                           {"state", {{"running", json::object()}}},
                           {"lastState", {{"terminated", {{"reason", "Error"}}}}}}})}}}};
}

json Unhealthy(const std::string& message, const std::string& when, const std::string& pod = "calico-node-x7k2p") {
  return {{"reason", "Unhealthy"},
          {"type", "Warning"},
          {"message", message},
          {"count", 7},
          {"lastTimestamp", when},
          {"involvedObject", {{"kind", "Pod"}, {"name", pod}, {"namespace", "kube-system"}}}};
}

TEST_CASE("a calico-node pod that is not Ready: its newest readiness failure and restart count") {
  FakeKubeClient kube;
  kube.Answer(kPods, {{"items", json::array({Pod(false, 3)})}});
  kube.Answer(kEvents,
              {{"items", json::array({
                             Unhealthy("Readiness probe failed: calico/node is not ready: BIRD is not ready: BGP not "
                                       "established with 192.168.56.12",
                                       "2026-12-06T20:10:00Z"),
                             Unhealthy("Readiness probe failed: calico/node is not ready: felix is not ready",
                                       "2026-12-06T20:00:00Z"),
                             Unhealthy("Liveness probe failed: x", "2026-12-06T20:20:00Z"),
                             Unhealthy("Readiness probe failed: other pod", "2026-12-06T20:30:00Z", "calico-node-zzz"),
                         })}});
  auto v = ReadCalicoPod(kube, "kube-system", "worker-1");
  REQUIRE(v.ok());
  CHECK(v->found);
  CHECK(v->name == "calico-node-x7k2p");
  CHECK_FALSE(v->ready);
  CHECK(v->restart_count == 3);
  CHECK(v->terminated_reason == "Error");
  CHECK(v->readiness_message ==
        "Readiness probe failed: calico/node is not ready: BIRD is not ready: BGP not established with 192.168.56.12");
  CHECK(v->readiness_time == "2026-12-06T20:10:00Z");
  CHECK(v->readiness_count == 7);

  auto pods = kube.SentTo(kPods).at(0);
  CHECK(FakeKubeClient::Query(pods, "labelSelector") == "k8s-app=calico-node");
  CHECK(FakeKubeClient::Query(pods, "fieldSelector") == "spec.nodeName=worker-1");
  CHECK(FakeKubeClient::Query(pods, "limit") == "10");
  auto events = kube.SentTo(kEvents).at(0);
  CHECK(FakeKubeClient::Query(events, "fieldSelector") == "involvedObject.name=calico-node-x7k2p,reason=Unhealthy");
  CHECK(FakeKubeClient::Query(events, "limit") == "100");
}

TEST_CASE("a Ready pod: no Events read") {
  FakeKubeClient kube;
  kube.Answer(kPods, {{"items", json::array({Pod(true, 0)})}});
  auto v = ReadCalicoPod(kube, "kube-system", "worker-1");
  REQUIRE(v.ok());
  CHECK(v->ready);
  CHECK(kube.SentTo(kEvents).empty());
}

TEST_CASE("no pod, an unreadable Events list, an API error") {
  FakeKubeClient kube;
  kube.Answer(kPods, {{"items", json::array()}});
  auto none = ReadCalicoPod(kube, "kube-system", "worker-1");
  REQUIRE(none.ok());
  CHECK_FALSE(none->found);

  kube.Answer(kPods, {{"items", json::array({Pod(false, 1)})}});
  kube.Fail(kEvents, 403, "Forbidden");
  auto no_events = ReadCalicoPod(kube, "kube-system", "worker-1");
  REQUIRE(no_events.ok());
  CHECK(no_events->readiness_message.empty());
  CHECK_THAT(no_events->events_problem, Catch::Contains("reading Events"));

  kube.Fail(kPods, 500, "InternalError");
  auto failed = ReadCalicoPod(kube, "kube-system", "worker-1");
  REQUIRE_FALSE(failed.ok());
  CHECK_THAT(failed.error().message(), Catch::Contains("listing calico-node pods on worker-1"));
}

}  // namespace
}  // namespace nodeagent::calico

namespace nodeagent::calico {
namespace {

TEST_CASE("a pod being replaced is passed over for its successor") {
  FakeKubeClient kube;
  json old = Pod(false, 9);
  old["metadata"]["name"] = "calico-node-aaaaa";
  old["metadata"]["deletionTimestamp"] = "2026-12-06T20:00:00Z";
  kube.Answer(kPods, {{"items", json::array({old, Pod(true, 0)})}});
  auto v = ReadCalicoPod(kube, "kube-system", "worker-1");
  REQUIRE(v.ok());
  CHECK(v->name == "calico-node-x7k2p");
  CHECK(v->ready);
}

TEST_CASE("ill-typed fields read as empty, never throw") {
  json pod = {{"metadata", {{"name", 5}}},
              {"status", {{"conditions", "x"}, {"containerStatuses", json::array({"x", {{"name", "calico-node"}, {"restartCount", "3"}}})}}}};
  json events = {{"items", json::array({1, {{"reason", "Unhealthy"}, {"involvedObject", "x"}}})}};
  CalicoPodView v;
  REQUIRE_NOTHROW(v = DescribeCalicoPod(pod, events));
  CHECK(v.restart_count == 0);
  CHECK(v.readiness_message.empty());
}

}  // namespace
}  // namespace nodeagent::calico
