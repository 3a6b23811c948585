// The Kubernetes API permissions an action needs, declared once beside its
// parameters. Each ActionSpec carries a table of KubePermission rows; from
// those the core derives everything else: `agentctl kube check` asks the API
// server about exactly these rows (SelfSubjectAccessReview), `agentctl
// describe` lists them, and conf/rbac.yaml (ClusterRole, Roles, bindings) is
// generated from the shipped plugins' tables at build time. No list of
// permissions lives anywhere else, so a plugin that starts calling a new
// resource changes its own table and nothing in the core.
//
//   constexpr KubePermission kMine[] = {
//       Cluster("get patch", "", "nodes", "cordon the node"),
//       Cluster("create", "", "pods/eviction", "evict pods"),
//       InNamespace("default", "create", "", "events", "record Events about the node"),
//       InParamNamespace("lock_namespace", "get create update delete", "coordination.k8s.io", "leases",
//                        "hold the reboot lock"),
//   };
//   static_assert(HasValidKubePermissions(kMine));
#pragma once

#include <iterator>
#include <span>
#include <string_view>

namespace nodeagent {

/// Where a permission applies.
enum class KubeScope {
  /// Everywhere: a cluster-scoped resource (nodes), or a namespaced one in
  /// every namespace (pods on this node, wherever they live). ClusterRole.
  kCluster,
  /// Only in the fixed namespace `KubePermission::ns`. Role there.
  kNamespace,
  /// Only in the namespace that the action's string parameter named
  /// `KubePermission::ns` holds (e.g. "lock_namespace"): `kube check` checks
  /// the namespace each task configures, rbac.yaml grants the default.
  kNamespaceParam,
};

/// One row: these verbs on one resource of one API group, in one scope.
/// Plain data, constexpr-friendly, like ParamSpec.
struct KubePermission {
  /// Space-separated: "get list watch". Known verbs: get list watch create
  /// update patch delete deletecollection.
  std::string_view verbs;
  /// API group: "" for core/v1, "apps", "policy", "coordination.k8s.io",
  /// "crd.projectcalico.org".
  std::string_view group;
  /// Plural resource, with a subresource after a slash: "pods", "pods/eviction".
  std::string_view resource;
  KubeScope scope = KubeScope::kCluster;
  /// kNamespace: the namespace. kNamespaceParam: the parameter's name. Empty
  /// for kCluster.
  std::string_view ns = {};
  /// What the action does with it, for `agentctl describe` and rbac.yaml
  /// comments: "evict the node's pods".
  std::string_view why = {};
};

constexpr KubePermission Cluster(std::string_view verbs, std::string_view group, std::string_view resource,
                                 std::string_view why = {}) {
  return {verbs, group, resource, KubeScope::kCluster, {}, why};
}
constexpr KubePermission InNamespace(std::string_view ns, std::string_view verbs, std::string_view group,
                                     std::string_view resource, std::string_view why = {}) {
  return {verbs, group, resource, KubeScope::kNamespace, ns, why};
}
constexpr KubePermission InParamNamespace(std::string_view param, std::string_view verbs, std::string_view group,
                                          std::string_view resource, std::string_view why = {}) {
  return {verbs, group, resource, KubeScope::kNamespaceParam, param, why};
}

/// The verbs a row may name (RBAC's resource verbs).
inline constexpr std::string_view kKubeVerbs[] = {"get",    "list",  "watch",  "create",
                                                  "update", "patch", "delete", "deletecollection"};

/// True when every row names at least one known verb (each at most once),
/// a resource of lowercase letters, digits, '-' and '.' with at most one
/// "/subresource", a lowercase group, and `ns` exactly when the scope needs
/// one. For static_assert on constexpr tables; the loader checks every table
/// again, and also that a kNamespaceParam row names a string parameter.
constexpr bool HasValidKubePermissions(std::span<const KubePermission> table) {
  auto name_char = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'; };
  for (const KubePermission& p : table) {
    // verbs
    int count = 0;
    bool seen[std::size(kKubeVerbs)] = {};
    std::string_view rest = p.verbs;
    while (!rest.empty()) {
      size_t space = rest.find(' ');
      std::string_view word = rest.substr(0, space);
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
      if (word.empty()) continue;
      bool known = false;
      for (size_t i = 0; i < std::size(kKubeVerbs); ++i) {
        if (kKubeVerbs[i] == word) {
          if (seen[i]) return false;
          seen[i] = known = true;
        }
      }
      if (!known) return false;
      ++count;
    }
    if (count == 0) return false;
    // resource[/subresource]
    if (p.resource.empty() || p.resource.front() == '/' || p.resource.back() == '/') return false;
    int slashes = 0;
    for (char c : p.resource) {
      if (c == '/') ++slashes;
      else if (!name_char(c)) return false;
    }
    if (slashes > 1) return false;
    for (char c : p.group)
      if (!name_char(c)) return false;
    // scope
    if ((p.scope == KubeScope::kCluster) != p.ns.empty()) return false;
  }
  return true;
}

}  // namespace nodeagent
