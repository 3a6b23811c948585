// Is this machine distinguishable from the cluster's other nodes, and is its
// name free? kubeadm's install guide asks that every node have a unique MAC
// address and product_uuid (cloned VMs often share them), and kubeadm's
// kubelet-start phase refuses to join when a Ready Node of the same name
// already exists. The checks read the DMI product_uuid and the interfaces'
// MACs under the root and, when a cluster client is at hand, list the Nodes
// to find the same name or the same status.nodeInfo.systemUUID (which the
// kubelet takes from product_uuid). Ids are ours: ProductUUID, MACAddress,
// ExistingNode, DuplicateSystemUUID.
#pragma once

#include <string>
#include <vector>

#include "check.h"

namespace nodeagent::join_prep {

/// Lowercased /sys/class/dmi/id/product_uuid, or an error naming the file
/// (InvalidArgument when it holds nothing usable: empty, all zeros).
Result<std::string> ReadProductUuid(const FileSystem& files);

/// "name=mac" of each interface under /sys/class/net but lo, whose address
/// is not all zeros; at most 512 interfaces.
std::vector<std::string> ReadMacAddresses(const FileSystem& files);

/// ProductUUID and MACAddress (warnings).
std::vector<CheckResult> CheckLocalIdentity(const FileSystem& files);

/// ExistingNode (error when a Ready Node has `node_name`, warning when a
/// NotReady one does) and DuplicateSystemUUID (warning), from a list of all
/// Nodes (pages of 500, at most 100 pages). A failed list is one warning
/// saying what could not be checked.
std::vector<CheckResult> CheckClusterIdentity(KubeClient& kube, const std::string& node_name,
                                              const std::string& product_uuid);

}  // namespace nodeagent::join_prep
