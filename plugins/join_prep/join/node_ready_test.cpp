// WaitNodeReady on a FakeClock against a KubeClient whose GetNode answers
// from a script (not found, NotReady with the kubelet's reason, Ready), one
// answer per poll: it must wait exactly as long as the script says, show
// each state as progress, and stop at its timeout, on cancellation or on 403.
#include "join/node_ready.h"

#include <catch2/catch.hpp>

#include "testing/fake_action_context.h"

namespace nodeagent::join_prep {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json NodeWith(const std::string& ready_status, const std::string& reason = "", const std::string& message = "",
              json extra_conditions = json::array()) {
  json conditions = extra_conditions;
  conditions.push_back({{"type", "Ready"}, {"status", ready_status}, {"reason", reason}, {"message", message}});
  return {{"metadata", {{"name", "n1"}}}, {"status", {{"conditions", conditions}}}};
}

/// GetNode answers the next scripted reply per call (the last one repeats);
/// everything else is unsupported.
class ScriptedNodeClient : public KubeClient {
 public:
  std::vector<KubeResult<json>> replies;
  std::vector<std::string> asked;
  std::function<void()> on_get;

  KubeResult<json> GetNode(const std::string& name) override {
    asked.push_back(name);
    if (on_get) on_get();
    size_t i = std::min(asked.size() - 1, replies.size() - 1);
    return replies[i];
  }
  KubeResult<json> Request(const KubeRequest&) override { return No(); }
  KubeResult<json> GetVersion() override { return No(); }
  KubeResult<json> ListNodes(const ListOptions&) override { return No(); }
  KubeResult<json> PatchNode(const std::string&, const json&, PatchType) override { return No(); }
  KubeResult<json> ListPods(const std::string&, const ListOptions&) override { return No(); }
  KubeResult<json> GetPod(const std::string&, const std::string&) override { return No(); }
  KubeResult<json> DeletePod(const std::string&, const std::string&, const DeleteOptions&) override { return No(); }
  KubeResult<json> EvictPod(const std::string&, const std::string&, const DeleteOptions&) override { return No(); }
  KubeStatus Watch(const WatchRequest&, const WatchCallback&, const std::atomic<bool>*) override {
    return KubeStatus(Internal("fake: no watch"));
  }
  KubeResult<json> GetLease(const std::string&, const std::string&) override { return No(); }
  KubeResult<json> CreateLease(const std::string&, const json&) override { return No(); }
  KubeResult<json> UpdateLease(const std::string&, const json&) override { return No(); }
  KubeResult<json> DeleteLease(const std::string&, const std::string&, const std::string&) override { return No(); }
  KubeResult<json> CreateEvent(const EventSpec&) override { return No(); }
  KubeResult<json> GetDaemonSet(const std::string&, const std::string&) override { return No(); }
  KubeResult<json> PatchDaemonSet(const std::string&, const std::string&, const json&, PatchType) override {
    return No();
  }
  KubeResult<json> ListPodDisruptionBudgets(const std::string&) override { return No(); }
  KubeResult<AccessDecision> CheckAccess(const ResourceAttributes&) override {
    return KubeResult<AccessDecision>(Internal("fake"));
  }

 private:
  static KubeResult<json> No() { return KubeResult<json>(Internal("fake: not supported")); }
};

KubeResult<json> NotFoundReply() { return KubeResult<json>(NotFound("nodes \"n1\" not found"), {404, "NotFound"}); }

bool AnyContains(const std::vector<std::string>& lines, const std::string& text) {
  for (const auto& l : lines)
    if (l.find(text) != std::string::npos) return true;
  return false;
}

TEST_CASE("the node turns Ready after a few polls", "[join]") {
  FakeActionContext ctx;
  ScriptedNodeClient kube;
  kube.replies = {NotFoundReply(), NotFoundReply(),
                  NodeWith("False", "KubeletNotReady",
                           "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady"),
                  NodeWith("True", "KubeletReady", "kubelet is posting ready status")};
  const auto t0 = ctx.clock().Monotonic();
  auto r = WaitNodeReady(ctx, kube, "n1", 10min, 2s);
  REQUIRE(r.ok());
  CHECK(r->ready);
  CHECK(r->polls == 4);
  CHECK(r->state == "Ready=True");
  CHECK(r->waited == 6s);
  CHECK(ctx.clock().Monotonic() - t0 == 6s);  // three sleeps of 2 s
  CHECK(kube.asked == std::vector<std::string>(4, "n1"));
  CHECK(AnyContains(ctx.progress(), "node n1: not found yet (0 s)"));
  CHECK(AnyContains(ctx.progress(),
                    "node n1: Ready=False (KubeletNotReady: container runtime network not ready: NetworkReady=false "
                    "reason:NetworkPluginNotReady) (4 s)"));
  // Logged once per state change, not per poll.
  int not_found_logs = 0;
  for (const auto& l : ctx.logs()) not_found_logs += l == "node n1: not found yet";
  CHECK(not_found_logs == 1);
  CHECK(AnyContains(ctx.logs(), "node n1: Ready=True after 6 s"));
  CHECK(r->ToJson()["polls"] == 4);
}

TEST_CASE("a node that never turns Ready times out with its last state", "[join]") {
  FakeActionContext ctx;
  ScriptedNodeClient kube;
  kube.replies = {NodeWith("False", "KubeletNotReady", "PLEG is not healthy")};
  auto r = WaitNodeReady(ctx, kube, "n1", 9s, 2s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::kTimeout);
  CHECK(r.error().message() == "node n1 not Ready after 9 s: Ready=False (KubeletNotReady: PLEG is not healthy)");
  // Polls at 0, 2, 4, 6, 8 and a last one at exactly 9 s.
  CHECK(kube.asked.size() == 6);
}

TEST_CASE("passing API errors are waited through; 403 ends the wait at once", "[join]") {
  FakeActionContext ctx;
  ScriptedNodeClient kube;
  kube.replies = {KubeResult<json>(Error(ErrorCode::kUnavailable, "GET https://10.0.0.10:6443/api/v1/nodes/n1: "
                                                                  "connection refused"),
                                   {0}),
                  NodeWith("True")};
  auto r = WaitNodeReady(ctx, kube, "n1", 1min, 1s);
  REQUIRE(r.ok());
  CHECK(AnyContains(ctx.progress(), "node n1: API error: GET https://10.0.0.10:6443/api/v1/nodes/n1: connection refused"));

  FakeActionContext ctx2;
  ScriptedNodeClient denied;
  denied.replies = {KubeResult<json>(Error(ErrorCode::kPermissionDenied, "nodes \"n1\" is forbidden"), {403, "Forbidden"})};
  r = WaitNodeReady(ctx2, denied, "n1", 1min, 1s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::kPermissionDenied);
  CHECK(r.error().message().find("get on nodes") != std::string::npos);
  CHECK(denied.asked.size() == 1);
}

TEST_CASE("cancellation stops the wait", "[join]") {
  FakeActionContext ctx;
  ScriptedNodeClient kube;
  kube.replies = {NotFoundReply()};
  kube.on_get = [&] {
    if (kube.asked.size() == 3) ctx.Cancel();
  };
  auto r = WaitNodeReady(ctx, kube, "n1", 10min, 2s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::kCancelled);
  CHECK(r.error().message().find("not found yet") != std::string::npos);
  CHECK(kube.asked.size() == 3);
}

/// A context whose Kube() fails until `available_from` calls were made, as
/// when the agent's kubeconfig (the kubelet's) is written by the join.
class LateClientContext : public FakeActionContext {
 public:
  KubeClient* client = nullptr;
  int available_from = 0;
  int calls = 0;
  Result<KubeClient*> Kube() override {
    if (++calls < available_from)
      return Error(ErrorCode::kNotFound, "/etc/kubernetes/kubelet.conf: no such file");
    return client;
  }
};

TEST_CASE("the run's own client is taken once it can be made", "[join]") {
  LateClientContext ctx;
  ScriptedNodeClient kube;
  kube.replies = {NodeWith("True")};
  ctx.client = &kube;
  ctx.available_from = 3;
  auto r = WaitNodeReady(ctx, "n1", 1min, 1s);
  REQUIRE(r.ok());
  CHECK(r->polls == 3);
  CHECK(kube.asked.size() == 1);
  CHECK(AnyContains(ctx.progress(), "node n1: no Kubernetes client yet (/etc/kubernetes/kubelet.conf: no such file)"));

  LateClientContext never;
  never.available_from = 1000;
  r = WaitNodeReady(never, "n1", 3s, 1s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::kTimeout);
  CHECK(r.error().message().find("no Kubernetes client yet") != std::string::npos);
}

TEST_CASE("DescribeNodeConditions", "[join]") {
  CHECK(DescribeNodeConditions(json::object()) == "no Ready condition yet");
  CHECK(DescribeNodeConditions(NodeWith("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")) ==
        "Ready=Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)");
  CHECK(DescribeNodeConditions(NodeWith("True", "KubeletReady", "ignored when Ready")) == "Ready=True");
  json pressure = json::array({{{"type", "DiskPressure"}, {"status", "True"}},
                               {{"type", "MemoryPressure"}, {"status", "False"}}});
  CHECK(DescribeNodeConditions(NodeWith("False", "KubeletNotReady", "", pressure)) ==
        "Ready=False (KubeletNotReady); DiskPressure=True");
  std::string long_message(500, 'x');
  CHECK(DescribeNodeConditions(NodeWith("False", "", long_message)).size() < 230);
  CHECK_FALSE(IsNodeReady(json::object()));
  CHECK_FALSE(IsNodeReady(NodeWith("False")));
  CHECK(IsNodeReady(NodeWith("True")));
}

}  // namespace
}  // namespace nodeagent::join_prep
