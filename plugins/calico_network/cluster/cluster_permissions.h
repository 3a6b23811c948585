// The Kubernetes permissions the cluster units need, as KubePermission rows
// for the calico-network action's table (nodeagent/kube_permission.h), kept
// beside the units that make the calls so that a new call changes this
// table too. Rows for Calico's two usual namespaces; the patch is granted in
// kube-system only, since a calico-system DaemonSet belongs to
// tigera/operator and is never written to. The action's table leaves the
// patch out (conf/rbac-calico-fix.yaml grants it on its own).
#pragma once

#include "nodeagent/kube_permission.h"

namespace nodeagent::calico {

// Cluster-wide where the object may be in calico-system: a Role there would
// make conf/rbac.yaml fail to apply on a manifest install, which has no such
// namespace (and drain already reads DaemonSets and pods cluster-wide).
// ConfigMaps only in kube-system: a configMapKeyRef for the method is a
// manifest install's (calico-config); the operator renders plain values.
inline constexpr KubePermission kClusterReadPermissions[] = {
    Cluster("get", "apps", "daemonsets",
            "calico-node's IP_AUTODETECTION_METHOD, IP6_..., IP, IP6 (kube-system, or calico-system for the operator)"),
    Cluster("get", "operator.tigera.io", "installations",
            "operator installs: Installation default's spec.calicoNetwork.nodeAddressAutodetectionV4/V6"),
    InNamespace("kube-system", "get", "", "configmaps", "env values given by configMapKeyRef"),
    Cluster("get list", "", "nodes",
            "this Node's InternalIP and projectcalico.org/IPv4Address; the other nodes' BGP addresses"),
    Cluster("list", "", "pods", "this node's calico-node pod and its readiness"),
    Cluster("list", "", "events", "the calico-node pod's readiness-probe failures"),
};
static_assert(HasValidKubePermissions(kClusterReadPermissions));

/// Only with allow_cluster_changes = true.
inline constexpr KubePermission kClusterFixPermissions[] = {
    InNamespace("kube-system", "patch", "apps", "daemonsets",
                "set IP_AUTODETECTION_METHOD on calico-node (every calico-node pod restarts)"),
};
static_assert(HasValidKubePermissions(kClusterFixPermissions));

}  // namespace nodeagent::calico
