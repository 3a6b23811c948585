// The plan-phase guards on the generic calls: KubeClient::Request and
// HttpClient::Send let GET through while planning and refuse every other
// method, naming what was refused; outside the plan phase all pass.
#include "runner/plan_phase_guard.h"

#include <catch2/catch.hpp>

using namespace nodeagent;
using json = nlohmann::json;

namespace {

// Records Request calls; every other call is unused here.
class RecordingKube : public KubeClient {
 public:
  std::vector<std::string>* calls;
  explicit RecordingKube(std::vector<std::string>* c) : calls(c) {}
  KubeResult<json> Request(const KubeRequest& r) override {
    calls->push_back(r.method + " " + r.path);
    return json::object();
  }
  KubeResult<json> GetVersion() override { return No(); }
  KubeResult<json> GetNode(const std::string&) override { return No(); }
  KubeResult<json> ListNodes(const ListOptions&) override { return No(); }
  KubeResult<json> PatchNode(const std::string&, const json&, PatchType) override { return No(); }
  KubeResult<json> ListPods(const std::string&, const ListOptions&) override { return No(); }
  KubeResult<json> GetPod(const std::string&, const std::string&) override { return No(); }
  KubeResult<json> DeletePod(const std::string&, const std::string&, const DeleteOptions&) override { return No(); }
  KubeResult<json> EvictPod(const std::string&, const std::string&, const DeleteOptions&) override { return No(); }
  KubeStatus Watch(const WatchRequest&, const WatchCallback&, const std::atomic<bool>*) override {
    return KubeStatus();
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
  KubeResult<AccessDecision> CheckAccess(const ResourceAttributes&) override { return AccessDecision{}; }

 private:
  static KubeResult<json> No() { return KubeResult<json>(Internal("unused")); }
};

class RecordingHttp : public HttpClient {
 public:
  std::vector<std::string>* calls;
  explicit RecordingHttp(std::vector<std::string>* c) : calls(c) {}
  Result<HttpResponse> Send(const HttpRequest& r) override {
    calls->push_back(r.method + " " + r.url);
    return HttpResponse{200, ""};
  }
};

}  // namespace

TEST_CASE("dry_run_is_enforced: the generic Kubernetes request only reads while planning") {
  std::vector<std::string> calls;
  PlanPhaseFlag planning{true};
  auto kube = GuardKubeClient(std::make_unique<RecordingKube>(&calls), planning);
  const std::string ippools = "/apis/crd.projectcalico.org/v1/ippools";
  CHECK(kube->Request(KubeRequest::Get(ippools)).ok());
  auto patch = kube->Request(KubeRequest::Patch("/apis/apps/v1/namespaces/calico-system/daemonsets/calico-node",
                                                {{"spec", json::object()}}, PatchType::kStrategicMerge));
  REQUIRE_FALSE(patch.ok());
  CHECK(patch.error().code() == ErrorCode::kPermissionDenied);
  CHECK(patch.error().message().starts_with(
      "refused while planning: PATCH /apis/apps/v1/namespaces/calico-system/daemonsets/calico-node"));
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    KubeRequest r = KubeRequest::Get(ippools);
    r.method = method;
    INFO(method);
    CHECK_FALSE(kube->Request(r).ok());
  }
  CHECK(calls == std::vector<std::string>{"GET " + ippools});

  planning = false;
  CHECK(kube->Request(KubeRequest::Delete(ippools + "/default-ipv4-ippool")).ok());
  CHECK(calls.back() == "DELETE " + ippools + "/default-ipv4-ippool");
}

TEST_CASE("dry_run_is_enforced: the HTTP client only GETs while planning, and a refusal hides the URL's path") {
  std::vector<std::string> calls;
  PlanPhaseFlag planning{true};
  auto http = GuardHttpClient(std::make_unique<RecordingHttp>(&calls), planning);
  HttpRequest get;
  get.url = "http://prom:9090/api/v1/alerts";
  get.headers = {{"Authorization", "Bearer s3cret"}};
  CHECK(http->Send(get).ok());
  HttpRequest put = get;
  put.method = "PUT";
  put.url = "https://hooks.example/T0/B0/token";
  auto refused = http->Send(put);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message().starts_with("refused while planning: PUT to https://hooks.example/"));
  CHECK(refused.error().message().find("token") == std::string::npos);
  CHECK(refused.error().message().find("s3cret") == std::string::npos);
  CHECK_FALSE(http->Post("https://hooks.example/x", "{}", "application/json", std::chrono::seconds(1)).ok());
  CHECK(calls == std::vector<std::string>{"GET http://prom:9090/api/v1/alerts"});
}
