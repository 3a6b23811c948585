// The RBAC objects that grant exactly a set of required permissions, as the
// YAML of conf/rbac.yaml: one ClusterRole for the cluster-wide rows, one Role
// per namespace for the rest, each bound to the group "nodeagent:nodes".
// Generated (`agentctl gen rbac`, and at build time from the shipped plugins'
// tables) so that the manifest cannot drift from what the actions declare.
#pragma once

#include <string>
#include <vector>

#include "permissions/required_permissions.h"

namespace nodeagent {

/// The group every node's credentials belong to (the subject of the bindings).
inline constexpr const char* kRbacGroup = "nodeagent:nodes";

/// The manifest: a comment saying how it was made, then the documents in a
/// fixed order (ClusterRole, ClusterRoleBinding, then Role and RoleBinding per
/// namespace in name order); one rule per resource, verbs in kKubeVerbs order,
/// each preceded by a comment naming the actions that need it. The same rows
/// give the same bytes.
std::string RbacManifest(const std::vector<RequiredPermission>& rows);

}  // namespace nodeagent
