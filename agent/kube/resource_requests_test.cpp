// ResourcePath and CheckRequestPath (include/nodeagent/kube.h) keep names in
// their segment, and the typed calls send what the API expects.
#include "kube/resource_requests.h"

#include <catch2/catch.hpp>

using namespace nodeagent;
using namespace nodeagent::kube;
using json = nlohmann::json;

namespace {

KubeResourceRef Ref(std::string group, std::string resource, std::string ns = "", std::string name = "",
                    std::string sub = "") {
  KubeResourceRef r;
  r.group = std::move(group);
  r.resource = std::move(resource);
  r.ns = std::move(ns);
  r.name = std::move(name);
  r.subresource = std::move(sub);
  return r;
}

}  // namespace

TEST_CASE("ResourcePath builds core, group, namespaced and cluster-scoped paths") {
  struct Case {
    KubeResourceRef ref;
    std::string path;
  };
  KubeResourceRef installation = Ref("operator.tigera.io", "installations", "", "default");
  KubeResourceRef beta = Ref("policy", "poddisruptionbudgets", "kube-system");
  beta.version = "v1beta1";
  std::vector<Case> cases = {
      {Ref("crd.projectcalico.org", "ippools"), "/apis/crd.projectcalico.org/v1/ippools"},
      {Ref("crd.projectcalico.org", "ippools", "", "default-ipv4-ippool"),
       "/apis/crd.projectcalico.org/v1/ippools/default-ipv4-ippool"},
      {installation, "/apis/operator.tigera.io/v1/installations/default"},
      {Ref("", "configmaps", "kube-system", "kubeadm-config"), "/api/v1/namespaces/kube-system/configmaps/kubeadm-config"},
      {Ref("", "pods"), "/api/v1/pods"},
      {Ref("", "pods", "default", "web-1", "eviction"), "/api/v1/namespaces/default/pods/web-1/eviction"},
      {Ref("apps", "daemonsets", "calico-system", "calico-node"), "/apis/apps/v1/namespaces/calico-system/daemonsets/calico-node"},
      {beta, "/apis/policy/v1beta1/namespaces/kube-system/poddisruptionbudgets"},
      // Characters a name may have but a path may not carry raw are encoded.
      {Ref("rbac.authorization.k8s.io", "clusterroles", "", "system:node"),
       "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Anode"},
      {Ref("", "configmaps", "default", "a?b#c d"), "/api/v1/namespaces/default/configmaps/a%3Fb%23c%20d"},
  };
  for (const Case& c : cases) {
    auto p = ResourcePath(c.ref);
    INFO(c.path);
    REQUIRE(p.ok());
    CHECK(*p == c.path);
    CHECK(CheckRequestPath(*p).ok());
  }
}

TEST_CASE("ResourcePath refuses parts that could leave their segment") {
  struct Case {
    KubeResourceRef ref;
    std::string says;
  };
  KubeResourceRef bad_version = Ref("apps", "daemonsets");
  bad_version.version = "v1/../v2";
  std::vector<Case> cases = {
      {Ref("", "configmaps", "default", ".."), "name \"..\" may not be \"..\""},
      {Ref("", "configmaps", "default", "."), "may not be \".\""},
      {Ref("", "configmaps", "default", "../secrets/x"), "may not contain '/'"},
      {Ref("", "configmaps", "default", "a%2Fb"), "may not contain '%'"},
      {Ref("", "configmaps", "default", std::string("a\nb")), "control characters"},
      {Ref("", "configmaps", "default", std::string(254, 'a')), "longer than 253"},
      {Ref("", "configmaps", "../kube-system", "x"), "namespace"},
      {Ref("", "configmaps", "Default", "x"), "namespace"},
      {Ref("crd.projectcalico.org?x=1", "ippools"), "group"},
      {Ref("", "ippools/x"), "resource"},
      {Ref("", "Pods"), "resource"},
      {Ref("", ""), "resource"},
      {bad_version, "version"},
      {Ref("", "pods", "default", "", "eviction"), "needs an object name"},
      {Ref("", "pods", "default", "p", "a/b"), "subresource"},
  };
  for (const Case& c : cases) {
    auto p = ResourcePath(c.ref);
    INFO(c.says);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().code() == ErrorCode::kInvalidArgument);
    CHECK(p.error().message().find(c.says) != std::string::npos);
  }
}

TEST_CASE("CheckRequestPath refuses queries, fragments, dot segments and encoded slashes") {
  for (const char* ok : {"/version", "/api/v1/nodes/n1", "/apis/crd.projectcalico.org/v1/ippools",
                         "/api/v1/namespaces/default/configmaps/a%3Fb", "/"}) {
    INFO(ok);
    CHECK(CheckRequestPath(ok).ok());
  }
  for (const char* bad : {"", "api/v1/nodes", "/api/v1/nodes?watch=1", "/api/v1/nodes#x", "/api/v1/../secrets",
                          "/api/v1/./nodes", "/api/v1//nodes", "/api/v1/nodes/", "/api/v1/nodes/a%2F..%2Fb",
                          "/api/v1/nodes/%2E%2E", "/api/v1/nodes/%2e", "/api/v1/nodes/a%zz", "/api/v1/nodes/a%4",
                          "/api/v1/nodes/a b", "/api/v1/nodes/a\r\nHost: x", "/api/v1/nodes/%0A"}) {
    INFO(bad);
    Status s = CheckRequestPath(bad);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code() == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("typed calls are requests to the paths kubectl uses") {
  auto node = requests::GetNode("worker-1");
  REQUIRE(node.ok());
  CHECK(node->method == "GET");
  CHECK(node->path == "/api/v1/nodes/worker-1");

  ListOptions lo;
  lo.field_selector = OnNodeSelector("worker-1");
  lo.limit = 500;
  auto pods = requests::ListPods("", lo);
  REQUIRE(pods.ok());
  CHECK(pods->path == "/api/v1/pods");
  CHECK(pods->query == std::vector<std::pair<std::string, std::string>>{{"labelSelector", ""},
                                                                        {"fieldSelector", "spec.nodeName=worker-1"},
                                                                        {"limit", "500"},
                                                                        {"continue", ""},
                                                                        {"resourceVersion", ""}});

  DeleteOptions o;
  o.grace_period_seconds = 0;
  o.precondition_uid = "uid-1";
  auto evict = requests::EvictPod("default", "web-1", o);
  REQUIRE(evict.ok());
  CHECK(evict->method == "POST");
  CHECK(evict->path == "/api/v1/namespaces/default/pods/web-1/eviction");
  CHECK_FALSE(evict->retry_too_many_requests);
  CHECK(evict->body["kind"] == "Eviction");
  CHECK(evict->body["deleteOptions"]["preconditions"]["uid"] == "uid-1");
  CHECK(evict->body["deleteOptions"]["gracePeriodSeconds"] == 0);

  auto patch = requests::PatchDaemonSet("kube-system", "calico-node", json::object(), PatchType::kStrategicMerge);
  REQUIRE(patch.ok());
  CHECK(patch->method == "PATCH");
  CHECK(patch->content_type == "application/strategic-merge-patch+json");

  auto update = requests::UpdateLease("kube-system", {{"metadata", {{"name", "l"}}}});
  REQUIRE_FALSE(update.ok());
  CHECK(update.error().message().find("resourceVersion is required") != std::string::npos);

  auto bad = requests::GetPod("default", "../../nodes/n1");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("each patch type has its content type") {
  CHECK(std::string(PatchContentType(PatchType::kMerge)) == "application/merge-patch+json");
  CHECK(std::string(PatchContentType(PatchType::kStrategicMerge)) == "application/strategic-merge-patch+json");
  CHECK(std::string(PatchContentType(PatchType::kJson)) == "application/json-patch+json");
  CHECK(std::string(PatchContentType(PatchType::kApply)) == "application/apply-patch+yaml");
}
