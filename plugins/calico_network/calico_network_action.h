// The calico-network action: NetworkManager kept off Calico's interfaces,
// Calico's tunnel interfaces, the node address Calico autodetects against the
// Node's InternalIP, this node's calico-node pod and its BGP peers, and the
// Calico/Kubernetes version fit. Each concern is answered by its folder
// (network_manager/, interfaces/, autodetect/, cluster/, versions/); this
// unit asks them in turn, turns their answers into one plan (findings, the
// drop-in's diff, the reload, the DaemonSet patch) and carries it out. A part
// that cannot be read (no nmcli, no kubeconfig, an API error) is a finding;
// the other parts still run.
#pragma once

#include <span>

#include "nodeagent/action.h"

namespace nodeagent::calico {

std::span<const ActionSpec> CalicoNetworkActionSpecs();

}  // namespace nodeagent::calico
