// The cluster's view of the node for `agentctl status`, over a scripted
// cluster: cordoned by us or not, our conditions only, the lock's holder,
// our Events newest first; a failing read is a line, and an unreachable API
// server is asked nothing more.
#include "ctl/cluster_view.h"

#include <catch2/catch.hpp>

#include "ctl/output.h"
#include "testing/fake_kube_client.h"

using namespace nodeagent;
using json = nlohmann::json;

namespace {

json Node(bool cordoned, json annotations = json::object()) {
  return {{"metadata", {{"name", "node-1"}, {"annotations", annotations}}},
          {"spec", {{"unschedulable", cordoned}}},
          {"status",
           {{"conditions", json::array({{{"type", "Ready"}, {"status", "True"}},
                                         {{"type", "NodeAgentCalicoNetwork"},
                                          {"status", "True"},
                                          {"reason", "NodeagentCheckFailing"},
                                          {"message", "nm-device-managed"},
                                          {"lastTransitionTime", "2026-01-01T00:00:00Z"}}})}}}};
}

json Event(const std::string& node, const std::string& component, const std::string& reason, const std::string& time) {
  return {{"involvedObject", {{"kind", "Node"}, {"name", node}}},
          {"source", {{"component", component}}},
          {"reason", reason},
          {"type", "Normal"},
          {"message", reason + " message"},
          {"lastTimestamp", time},
          {"count", 1}};
}

ClusterViewInputs Inputs() {
  ClusterViewInputs in;
  in.node_name = "node-1";
  in.lock_slots = RebootLockSlots("kube-system", "nodeagent-reboot-lock", 2);
  return in;
}

}  // namespace

TEST_CASE("cluster view: cordoned by nodeagent, our conditions, the lock's holder, our events newest first") {
  FakeKubeClient kube;
  kube.Answer("GET /api/v1/nodes/node-1",
              Node(true, {{"nodeagent.io/run-id", "r-1"}, {"nodeagent.io/action", "drain-and-reboot"},
                          {"nodeagent.io/phase", "drain"}, {"nodeagent.io/since", "2026-01-01T00:00:00Z"}}));
  kube.Answer("GET /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/nodeagent-reboot-lock-0",
              {{"spec", {{"holderIdentity", "node-2"}, {"renewTime", "2026-01-01T00:01:00Z"}}}});
  kube.Fail("GET /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/nodeagent-reboot-lock-1", 404, "NotFound");
  kube.Answer("GET /api/v1/namespaces/default/events",
              {{"items", json::array({Event("node-1", "nodeagent", "NodeagentCordoned", "2026-01-01T00:00:01Z"),
                                      Event("node-1", "kubelet", "Starting", "2026-01-01T00:00:03Z"),
                                      Event("node-2", "nodeagent", "NodeagentDrained", "2026-01-01T00:00:04Z"),
                                      Event("node-1", "nodeagent", "NodeagentDrained", "2026-01-01T00:00:02Z")})}});
  json v = ReadClusterView(kube, Inputs());
  CHECK(v["schedulable"] == false);
  CHECK(v["cordoned_by"] == "nodeagent");
  CHECK(v["nodeagent_run"]["run_id"] == "r-1");
  REQUIRE(v["conditions"].size() == 1);
  CHECK(v["conditions"][0]["type"] == "NodeAgentCalicoNetwork");
  REQUIRE(v["reboot_lock"].size() == 2);
  CHECK(v["reboot_lock"][0]["holder"] == "node-2");
  CHECK(v["reboot_lock"][0]["ours"] == false);
  CHECK(v["reboot_lock"][1]["holder"].is_null());
  REQUIRE(v["events"].size() == 2);
  CHECK(v["events"][0]["reason"] == "NodeagentDrained");
  CHECK(v["events"][1]["reason"] == "NodeagentCordoned");
  CHECK(v["errors"].empty());
  auto sent = kube.SentTo("GET /api/v1/namespaces/default/events");
  REQUIRE(sent.size() == 1);
  CHECK(FakeKubeClient::Query(sent[0], "fieldSelector") ==
        "involvedObject.kind=Node,involvedObject.name=node-1,source=nodeagent");

  v["available"] = true;
  v["server"] = "https://api:6443";
  std::string text = RenderClusterView(v);
  CHECK_THAT(text, Catch::Contains("node node-1: cordoned by nodeagent (drain-and-reboot run r-1, phase drain"));
  CHECK_THAT(text, Catch::Contains("condition NodeAgentCalicoNetwork=True (NodeagentCheckFailing): nm-device-managed"));
  CHECK_THAT(text, Catch::Contains("reboot lock kube-system/nodeagent-reboot-lock-0: held by node-2"));
  CHECK_THAT(text, Catch::Contains("reboot lock kube-system/nodeagent-reboot-lock-1: free"));
}

TEST_CASE("cluster view: cordoned by someone else; a refused read is a line, the rest is shown") {
  FakeKubeClient kube;
  kube.Answer("GET /api/v1/nodes/node-1", Node(true));
  kube.Fail("GET /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/nodeagent-reboot-lock-0", 403, "Forbidden",
            "leases is forbidden");
  kube.Fail("GET /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/nodeagent-reboot-lock-1", 404, "NotFound");
  kube.Answer("GET /api/v1/namespaces/default/events", {{"items", json::array()}});
  json v = ReadClusterView(kube, Inputs());
  CHECK(v["cordoned_by"] == "other");
  CHECK(v["nodeagent_run"].is_null());
  REQUIRE(v["errors"].size() == 1);
  CHECK_THAT(v["errors"][0].get<std::string>(), Catch::Contains("lease kube-system/nodeagent-reboot-lock-0"));
  CHECK(v["reboot_lock"].size() == 1);
  CHECK(kube.SentTo("GET /api/v1/namespaces/default/events").size() == 1);
  v["available"] = true;
  CHECK_THAT(RenderClusterView(v), Catch::Contains("cordoned, not by nodeagent"));
}

TEST_CASE("cluster view: an unreachable API server is asked once") {
  FakeKubeClient kube;  // nothing scripted: every call is kUnavailable
  json v = ReadClusterView(kube, Inputs());
  CHECK(v["errors"].size() == 1);
  CHECK(kube.sent.size() == 1);
  CHECK(v["schedulable"].is_null());
}

TEST_CASE("cluster view: no kubeconfig is one line") {
  CHECK(RenderClusterView({{"available", false}, {"message", "no kubeconfig (x)"}}) == "cluster: no kubeconfig (x)\n");
}

TEST_CASE("cluster view: the lock's slots with drain-and-reboot's defaults") {
  auto slots = RebootLockSlots("", "", 0);
  REQUIRE(slots.size() == 1);
  CHECK(slots[0] == std::pair<std::string, std::string>{"kube-system", "nodeagent-reboot-lock-0"});
  CHECK(RebootLockSlots("ns", "l", 1000).size() == 100);
}
