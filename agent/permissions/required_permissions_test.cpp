// Declared permission tables: the loader's check, resolving namespaces from
// parameters, merging rows of several actions and tasks.
#include "permissions/required_permissions.h"

#include <catch2/catch.hpp>

using namespace nodeagent;

namespace {

constexpr ParamSpec kParams[] = {
    {"lock_namespace", ParamType::kString, "\"kube-system\"", "where the lock lives"},
    {"no_default", ParamType::kString, "", "a namespace without default"},
    {.name = "count", .type = ParamType::kInt, .default_value = "1", .doc = "n", .range = IntRange(1, 5)},
};

constexpr KubePermission kTable[] = {
    Cluster("get patch", "", "nodes", "cordon"),
    Cluster("create", "", "pods/eviction"),
    InNamespace("default", "create", "", "events"),
    InParamNamespace("lock_namespace", "get update", "coordination.k8s.io", "leases"),
};
static_assert(HasValidKubePermissions(kTable));

// What the compile-time check refuses.
constexpr KubePermission kUnknownVerb[] = {Cluster("get fetch", "", "pods")};
constexpr KubePermission kRepeatedVerb[] = {Cluster("get get", "", "pods")};
constexpr KubePermission kNoVerb[] = {Cluster(" ", "", "pods")};
constexpr KubePermission kUpperResource[] = {Cluster("get", "", "Pods")};
constexpr KubePermission kTwoSlashes[] = {Cluster("get", "", "pods/a/b")};
constexpr KubePermission kClusterWithNs[] = {{"get", "", "pods", KubeScope::kCluster, "default"}};
constexpr KubePermission kNamespacedWithout[] = {{"get", "", "pods", KubeScope::kNamespace, ""}};
static_assert(!HasValidKubePermissions(kUnknownVerb) && !HasValidKubePermissions(kRepeatedVerb) &&
              !HasValidKubePermissions(kNoVerb) && !HasValidKubePermissions(kUpperResource) &&
              !HasValidKubePermissions(kTwoSlashes) && !HasValidKubePermissions(kClusterWithNs) &&
              !HasValidKubePermissions(kNamespacedWithout));

std::vector<std::string> Described(const std::vector<ResourceAttributes>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(DescribePermission(r));
  return out;
}

}  // namespace

TEST_CASE("CheckKubePermissionTable accepts a good table and names the bad row") {
  CHECK(CheckKubePermissionTable(kTable, kParams).ok());
  CHECK(CheckKubePermissionTable({}, {}).ok());

  struct Case {
    KubePermission row;
    std::string message;
  };
  const Case cases[] = {
      {Cluster("get fetch", "", "pods"),
       "permission 1 (get fetch pods): verbs must be one or more of get list watch create update patch delete "
       "deletecollection, each once, separated by spaces (got \"get fetch\")"},
      {Cluster("get", "Apps", "daemonsets"),
       "permission 1 (get daemonsets.Apps): resource and group take lowercase letters, digits, '-' and '.', and the "
       "resource at most one \"/subresource\" (got resource \"daemonsets\", group \"Apps\")"},
      {{"get", "", "pods", KubeScope::kCluster, "x"}, "permission 1 (get pods): a cluster-wide row takes no namespace"},
      {InNamespace("Kube_System", "get", "", "pods"),
       "permission 1 (get pods): \"Kube_System\" is not a namespace name (lowercase letters, digits and '-', at most "
       "63)"},
      {InParamNamespace("nope", "get", "", "pods"),
       "permission 1 (get pods): its namespace comes from parameter 'nope', which the action does not have"},
      {InParamNamespace("count", "get", "", "pods"),
       "permission 1 (get pods): its namespace comes from parameter 'count', which is of type integer, not string"},
  };
  for (const Case& c : cases) {
    Status st = CheckKubePermissionTable({&c.row, 1}, kParams);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message() == c.message);
  }
}

TEST_CASE("ResolveKubePermissions: one row per verb, namespace from the task or the parameter's default") {
  auto defaults = ResolveKubePermissions(kTable, kParams, nullptr);
  REQUIRE(defaults.ok());
  CHECK(Described(*defaults) == std::vector<std::string>{
                                    "get nodes", "patch nodes", "create pods/eviction", "create events in default",
                                    "get leases.coordination.k8s.io in kube-system",
                                    "update leases.coordination.k8s.io in kube-system"});

  Params task;
  task.Set("lock_namespace", std::string("ops"));
  auto configured = ResolveKubePermissions(kTable, kParams, &task);
  REQUIRE(configured.ok());
  CHECK(DescribePermission((*configured)[4]) == "get leases.coordination.k8s.io in ops");

  task.Set("lock_namespace", std::string("Not A Namespace"));
  auto bad = ResolveKubePermissions(kTable, kParams, &task);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message() == "lock_namespace: \"Not A Namespace\" is not a namespace name");

  const KubePermission no_default[] = {InParamNamespace("no_default", "get", "", "configmaps")};
  auto missing = ResolveKubePermissions(no_default, kParams, nullptr);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message() == "no_default: has no default namespace; set it in the task");
}

TEST_CASE("CollectPermissions merges actions and tasks and names who needs each row") {
  ActionInfo drain;
  drain.name = "drain";
  drain.params.assign(std::begin(kParams), std::end(kParams));
  drain.permissions = {Cluster("get patch", "", "nodes"), Cluster("create", "", "pods/eviction")};
  ActionInfo reboot;
  reboot.name = "reboot";
  reboot.params = drain.params;
  reboot.permissions.assign(std::begin(kTable), std::end(kTable));
  ActionInfo quiet;  // declares nothing: adds nothing
  quiet.name = "log-cleanup";

  Params ops;
  ops.Set("lock_namespace", std::string("ops"));
  Params same;
  same.Set("lock_namespace", std::string("kube-system"));
  auto rows = CollectPermissions({&drain, &quiet, &reboot}, {{"nightly", &reboot, ops}, {"weekly", &reboot, same}});
  REQUIRE(rows.ok());
  std::vector<std::string> got;
  for (const auto& r : *rows) {
    std::string who;
    for (const auto& w : r.needed_by) who += (who.empty() ? "" : ",") + w;
    got.push_back(DescribePermission(r.what) + " <- " + who);
  }
  CHECK(got == std::vector<std::string>{
                   "get nodes <- agentctl status,drain,reboot",
                   "patch nodes <- drain,reboot",
                   "create pods/eviction <- drain,reboot",
                   "create selfsubjectaccessreviews.authorization.k8s.io <- agentctl kube check",
                   "get events in default <- nodeagent (Node Events)",
                   "list events in default <- agentctl status",
                   "create events in default <- nodeagent (Node Events),reboot",
                   "patch events in default <- nodeagent (Node Events)",
                   "get leases.coordination.k8s.io in kube-system <- agentctl status,reboot",
                   "update leases.coordination.k8s.io in kube-system <- reboot",
                   "get leases.coordination.k8s.io in ops <- reboot (task nightly)",
                   "update leases.coordination.k8s.io in ops <- reboot (task nightly)",
               });
}
