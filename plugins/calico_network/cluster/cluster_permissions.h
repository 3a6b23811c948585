// The Kubernetes permissions the cluster units need, as KubePermission rows
// for the calico-network action's table (nodeagent/kube_permission.h), kept
// beside the units that make the calls so that a new call changes this
// table too. Rows for Calico's two usual namespaces; the patch is granted in
// kube-system only, since a calico-system DaemonSet belongs to
// tigera/operator and is never written to.
#pragma once

#include "nodeagent/kube_permission.h"

namespace nodeagent::calico {

inline constexpr KubePermission kClusterReadPermissions[] = {
    InNamespace("kube-system", "get", "apps", "daemonsets", "read calico-node's IP_AUTODETECTION_METHOD, IP6_..., IP, IP6"),
    InNamespace("calico-system", "get", "apps", "daemonsets", "read the operator-rendered calico-node env"),
    Cluster("get", "operator.tigera.io", "installations",
            "operator installs: Installation default's spec.calicoNetwork.nodeAddressAutodetectionV4/V6"),
    InNamespace("kube-system", "get", "", "configmaps", "env values given by configMapKeyRef"),
    InNamespace("calico-system", "get", "", "configmaps", "env values given by configMapKeyRef"),
    Cluster("get list", "", "nodes",
            "this Node's InternalIP and projectcalico.org/IPv4Address; the other nodes' BGP addresses"),
    InNamespace("kube-system", "list", "", "pods", "this node's calico-node pod and its readiness"),
    InNamespace("calico-system", "list", "", "pods", "this node's calico-node pod and its readiness"),
    InNamespace("kube-system", "list", "", "events", "the calico-node pod's readiness-probe failures"),
    InNamespace("calico-system", "list", "", "events", "the calico-node pod's readiness-probe failures"),
};
static_assert(HasValidKubePermissions(kClusterReadPermissions));

/// Only with allow_cluster_changes = true.
inline constexpr KubePermission kClusterFixPermissions[] = {
    InNamespace("kube-system", "patch", "apps", "daemonsets",
                "set IP_AUTODETECTION_METHOD on calico-node (every calico-node pod restarts)"),
};
static_assert(HasValidKubePermissions(kClusterFixPermissions));

}  // namespace nodeagent::calico
