// RequiredPermissions, CheckPermissions and conf/rbac.yaml agree.
#include <yaml-cpp/yaml.h>

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

TEST_CASE("CheckPermissions reports exactly the denied permissions") {
  ReviewOnlyClient c;
  auto all = CheckPermissions(c);
  REQUIRE(all.ok());
  CHECK(all->empty());
  CHECK(c.reviews == static_cast<int>(RequiredPermissions().size()));

  c.denied = {"create pods/eviction", "update leases.coordination.k8s.io in kube-system"};
  auto some = CheckPermissions(c);
  REQUIRE(some.ok());
  std::set<std::string> got;
  for (const auto& p : *some) got.insert(DescribePermission(p));
  CHECK(got == c.denied);

  c.fail = Error(ErrorCode::kUnavailable, "down");
  auto failed = CheckPermissions(c);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message() == "checking permission to get nodes: down");
}

TEST_CASE("conf/rbac.yaml grants exactly RequiredPermissions") {
  // verb, group, resource[/sub], namespace ("" for the ClusterRole)
  using Row = std::tuple<std::string, std::string, std::string, std::string>;
  std::set<Row> want, got;
  for (const auto& p : RequiredPermissions())
    want.insert({p.verb, p.group, p.resource + (p.subresource.empty() ? "" : "/" + p.subresource), p.ns});
  auto docs = YAML::LoadAllFromFile(NODEAGENT_SOURCE_DIR "/conf/rbac.yaml");
  bool role = false, binding = false;
  for (const auto& d : docs) {
    std::string kind = d["kind"].as<std::string>();
    if (kind == "ClusterRole" || kind == "Role") {
      role = true;
      CHECK(d["metadata"]["name"].as<std::string>() == "nodeagent");
      std::string ns = kind == "Role" ? d["metadata"]["namespace"].as<std::string>() : "";
      for (const auto& rule : d["rules"])
        for (const auto& g : rule["apiGroups"])
          for (const auto& r : rule["resources"])
            for (const auto& v : rule["verbs"])
              got.insert({v.as<std::string>(), g.as<std::string>(), r.as<std::string>(), ns});
    }
    if (kind == "ClusterRoleBinding" || kind == "RoleBinding") {
      binding = true;
      CHECK(d["roleRef"]["name"].as<std::string>() == "nodeagent");
      CHECK(d["subjects"][0]["kind"].as<std::string>() == "Group");
      CHECK(d["subjects"][0]["name"].as<std::string>() == "nodeagent:nodes");
    }
  }
  CHECK(role);
  CHECK(binding);
  CHECK(got == want);
}
