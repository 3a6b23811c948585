// The generated RBAC manifest grants exactly the rows it was made from, in
// valid RBAC objects, and conf/rbac.yaml is what the shipped plugins declare
// (that comparison is the ctest `rbac_yaml_is_generated`, see CMakeLists.txt).
#include "permissions/rbac_manifest.h"

#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <set>
#include <tuple>

using namespace nodeagent;

namespace {

// verb, group, resource[/sub], namespace ("" for the ClusterRole)
using Row = std::tuple<std::string, std::string, std::string, std::string>;

std::set<Row> Granted(const std::string& manifest) {
  std::set<Row> got;
  auto docs = YAML::LoadAll(manifest);
  std::set<std::string> roles, bindings;
  for (const auto& d : docs) {
    std::string kind = d["kind"].as<std::string>();
    CHECK(d["apiVersion"].as<std::string>() == "rbac.authorization.k8s.io/v1");
    CHECK(d["metadata"]["name"].as<std::string>() == "nodeagent");
    std::string ns = d["metadata"]["namespace"] ? d["metadata"]["namespace"].as<std::string>() : "";
    if (kind == "ClusterRole" || kind == "Role") {
      CHECK((kind == "Role") == !ns.empty());
      roles.insert(kind + "/" + ns);
      for (const auto& rule : d["rules"]) {
        REQUIRE(rule["apiGroups"].size() == 1);
        for (const auto& r : rule["resources"])
          for (const auto& v : rule["verbs"])
            got.insert({v.as<std::string>(), rule["apiGroups"][0].as<std::string>(), r.as<std::string>(), ns});
      }
    } else {
      REQUIRE((kind == "ClusterRoleBinding" || kind == "RoleBinding"));
      CHECK((kind == "RoleBinding") == !ns.empty());
      CHECK(d["roleRef"]["kind"].as<std::string>() == (kind == "RoleBinding" ? "Role" : "ClusterRole"));
      CHECK(d["roleRef"]["name"].as<std::string>() == "nodeagent");
      CHECK(d["roleRef"]["apiGroup"].as<std::string>() == "rbac.authorization.k8s.io");
      CHECK(d["subjects"][0]["kind"].as<std::string>() == "Group");
      CHECK(d["subjects"][0]["name"].as<std::string>() == kRbacGroup);
      bindings.insert(d["roleRef"]["kind"].as<std::string>() + "/" + ns);
    }
  }
  CHECK(roles == bindings);  // every role bound, no binding without its role
  return got;
}

}  // namespace

TEST_CASE("RbacManifest grants exactly its rows: ClusterRole for cluster-wide, a Role per namespace") {
  ActionInfo a;
  a.name = "reboot";
  a.params = {{"lock_namespace", ParamType::kString, "\"kube-system\"", "ns"}};
  a.permissions = {Cluster("get patch", "", "nodes"), Cluster("create", "", "pods/eviction"),
                   Cluster("list", "crd.projectcalico.org", "ippools"), InNamespace("default", "create", "", "events"),
                   InParamNamespace("lock_namespace", "get create", "coordination.k8s.io", "leases")};
  ActionInfo b;
  b.name = "cordon";
  b.permissions = {Cluster("patch get", "", "nodes")};
  auto rows = CollectPermissions({&a, &b}, {});
  REQUIRE(rows.ok());
  std::string manifest = RbacManifest(*rows);

  std::set<Row> want;
  for (const auto& r : *rows)
    want.insert({r.what.verb, r.what.group, r.what.resource + (r.what.subresource.empty() ? "" : "/" + r.what.subresource),
                 r.what.ns});
  CHECK(Granted(manifest) == want);
  CHECK(want.size() == 11);  // cordon's rows merge with reboot's; the core's Events add get and patch events, agentctl status list events

  // One rule per resource, verbs in the canonical order, the actions named.
  CHECK(manifest.find("  # agentctl status, cordon, reboot\n  - apiGroups: [\"\"]\n    resources: [nodes]\n    verbs: [get, patch]\n") !=
        std::string::npos);
  CHECK(manifest.find("kind: Role\nmetadata:\n  name: nodeagent\n  namespace: kube-system\n") != std::string::npos);
  // The same rows give the same bytes.
  CHECK(RbacManifest(*rows) == manifest);
}

TEST_CASE("RbacManifest of the core alone: access reviews and what agentctl status reads") {
  auto rows = CollectPermissions({}, {});
  REQUIRE(rows.ok());
  std::string manifest = RbacManifest(*rows);
  CHECK(Granted(manifest) == std::set<Row>{{"create", "authorization.k8s.io", "selfsubjectaccessreviews", ""},
                                           {"get", "", "nodes", ""},
                                           {"list", "", "events", "default"},
                                           {"get", "coordination.k8s.io", "leases", "kube-system"}});
  CHECK(manifest.find("kind: Role\nmetadata:\n  name: nodeagent\n  namespace: default\n") != std::string::npos);
}
