// CheckPermissions asks about each wanted row and reports the denied ones.
#include <catch2/catch.hpp>
#include <set>
#include <tuple>

#include "nodeagent/kube.h"

using namespace nodeagent;
using json = nlohmann::json;

namespace {

// Answers only access reviews: denies what is in `denied`.
class ReviewOnlyClient : public KubeClient {
 public:
  std::set<std::string> denied;
  std::optional<Error> fail;
  int reviews = 0;

  KubeResult<AccessDecision> CheckAccess(const ResourceAttributes& a) override {
    ++reviews;
    if (fail) return *fail;
    return AccessDecision{denied.count(DescribePermission(a)) == 0, ""};
  }
  KubeResult<json> Request(const KubeRequest&) override { return No(); }
  KubeResult<json> GetVersion() override { return No(); }
  KubeResult<json> GetNode(const std::string&) override { return No(); }
  KubeResult<json> ListNodes(const ListOptions&) override { return No(); }
  KubeResult<json> PatchNode(const std::string&, const json&, PatchType) override { return No(); }
  KubeResult<json> ListPods(const std::string&, const ListOptions&) override { return No(); }
  KubeResult<json> GetPod(const std::string&, const std::string&) override { return No(); }
  KubeResult<json> DeletePod(const std::string&, const std::string&, const DeleteOptions&) override { return No(); }
  KubeResult<json> EvictPod(const std::string&, const std::string&, const DeleteOptions&) override { return No(); }
  KubeStatus Watch(const WatchRequest&, const WatchCallback&, const std::atomic<bool>*) override {
    return KubeStatus(Internal("no"));
  }
  KubeResult<json> GetLease(const std::string&, const std::string&) override { return No(); }
  KubeResult<json> CreateLease(const std::string&, const json&) override { return No(); }
  KubeResult<json> UpdateLease(const std::string&, const json&) override { return No(); }
  KubeResult<json> DeleteLease(const std::string&, const std::string&, const std::string&) override { return No(); }
  KubeResult<json> CreateEvent(const EventSpec&) override { return No(); }
  KubeResult<json> GetDaemonSet(const std::string&, const std::string&) override { return No(); }
  KubeResult<json> PatchDaemonSet(const std::string&, const std::string&, const json&, PatchType) override { return No(); }
  KubeResult<json> ListPodDisruptionBudgets(const std::string&) override { return No(); }

 private:
  static KubeResult<json> No() { return Error(Internal("not used by this test")); }
};

}  // namespace

static ResourceAttributes Row(const char* verb, const char* group, const char* resource, const char* sub = "",
                       const char* ns = "") {
  ResourceAttributes a;
  a.verb = verb;
  a.group = group;
  a.resource = resource;
  a.subresource = sub;
  a.ns = ns;
  return a;
}

TEST_CASE("CheckPermissions reports exactly the denied permissions") {
  const std::vector<ResourceAttributes> wanted = {
      Row("get", "", "nodes"), Row("create", "", "pods", "eviction"),
      Row("update", "coordination.k8s.io", "leases", "", "kube-system"), Row("list", "policy", "poddisruptionbudgets")};
  ReviewOnlyClient c;
  auto all = CheckPermissions(c, wanted);
  REQUIRE(all.ok());
  CHECK(all->empty());
  CHECK(c.reviews == static_cast<int>(wanted.size()));

  c.denied = {"create pods/eviction", "update leases.coordination.k8s.io in kube-system"};
  auto some = CheckPermissions(c, wanted);
  REQUIRE(some.ok());
  std::set<std::string> got;
  for (const auto& p : *some) got.insert(DescribePermission(p));
  CHECK(got == c.denied);

  c.fail = Error(ErrorCode::kUnavailable, "down");
  auto failed = CheckPermissions(c, wanted);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message() == "checking permission to get nodes: down");
}
