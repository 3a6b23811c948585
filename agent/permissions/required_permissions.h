// Turns the actions' declared KubePermission tables (nodeagent/
// kube_permission.h) into the concrete rows the cluster is asked about and the
// RBAC manifest grants: one verb each, the namespace resolved (a fixed one, or
// the value of the action's namespace parameter in a task, or its default),
// and the actions that need each row. One unit so that `agentctl kube check`,
// `agentctl describe`, `agentctl gen rbac` and the loader's table check agree.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "loader/action_catalog.h"
#include "nodeagent/kube.h"
#include "nodeagent/kube_permission.h"
#include "nodeagent/params.h"
#include "nodeagent/result.h"

namespace nodeagent {

/// The loader's check of one action's table against its parameter table:
/// HasValidKubePermissions, plus a kNamespace row names a valid namespace and
/// a kNamespaceParam row names a string parameter of the action. The error
/// names the row ("permission 3 (get leases): ...").
Status CheckKubePermissionTable(std::span<const KubePermission> table, std::span<const ParamSpec> params);

/// The verbs of a row in the order written: "get list" -> {"get", "list"}.
std::vector<std::string> PermissionVerbs(const KubePermission& row);

/// One row per verb. kNamespaceParam rows take the namespace from `params`
/// when it has the parameter, else from the parameter's default in `specs`.
/// Error when neither gives one, or it is not a valid namespace name (the
/// message names the parameter).
Result<std::vector<ResourceAttributes>> ResolveKubePermissions(std::span<const KubePermission> table,
                                                               std::span<const ParamSpec> specs,
                                                               const Params* params);

/// A resolved row and everyone who needs it.
struct RequiredPermission {
  ResourceAttributes what;
  std::vector<std::string> needed_by;  // sorted: "drain", "drain-and-reboot (task reboot)"
};

/// What the agent itself needs, beside its actions: creating
/// SelfSubjectAccessReviews for `agentctl kube check`.
std::span<const KubePermission> CorePermissions();
/// What `agentctl status` reads of the cluster's view of the node: the Node,
/// nodeagent's Events in "default", the reboot lock's Leases in kube-system
/// (a drain task with another lock_namespace adds its own row).
std::span<const KubePermission> StatusPermissions();

/// What the core uses in a real run to report on this node (node_status/):
/// reading the Node and patching its status for the actions' Node conditions,
/// and creating and counting up Events on it (any run may post one).
std::span<const KubePermission> NodeConditionPermissions();
std::span<const KubePermission> NodeEventPermissions();

/// Collects rows, merging equal ones. Rows come out sorted by namespace
/// (cluster first), group, resource, then verb in kKubeVerbs order.
class PermissionSet {
 public:
  void Add(const ResourceAttributes& what, const std::string& needed_by);
  /// Resolves `table` (see ResolveKubePermissions) and adds every row.
  Status AddTable(std::span<const KubePermission> table, std::span<const ParamSpec> specs, const Params* params,
                  const std::string& needed_by);
  std::vector<RequiredPermission> rows() const;

 private:
  std::vector<RequiredPermission> rows_;
};

/// A task's action and its validated parameters, for CollectPermissions.
struct ConfiguredAction {
  std::string task;
  const ActionInfo* action = nullptr;
  Params params;
};

/// Every permission the agent may use: CorePermissions(),
/// NodeEventPermissions() when there is any action, NodeConditionPermissions()
/// when an action declares conditions, every loaded
/// action with its parameter defaults (what `agentctl run ACTION` uses), and
/// every configured task with its own parameters (labelled "ACTION (task T)"
/// where the task needs a row its action's defaults do not).
Result<std::vector<RequiredPermission>> CollectPermissions(const std::vector<const ActionInfo*>& actions,
                                                           const std::vector<ConfiguredAction>& tasks);

}  // namespace nodeagent
