// What the cluster says about this node's addresses, for calico-network's
// comparison with the address Calico autodetects here (autodetect/): the
// Node's status.addresses (InternalIP is what Calico should use), and the
// projectcalico.org/IPv4Address and IPv6Address annotations, which
// calico-node writes on the Node with the address and prefix it chose when
// it last started ("192.168.56.11/24"). With the Kubernetes datastore that
// annotation is the Calico Node's spec.bgp.ipv4Address itself
// (libcalico-go lib/backend/k8s/resources/node.go,
// nodeBgpIpv4AddrAnnotation), so an address set by hand with calicoctl
// shows there too. The other Nodes' addresses are the
// BGP peers whose TCP port 179 the readiness check probes (bgp_probe.h).
// Only reads (GET), through KubeClient.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "autodetect/autodetect.h"
#include "nodeagent/kube.h"
#include "nodeagent/network.h"
#include "nodeagent/result.h"

namespace nodeagent::calico {

/// calico-node's annotations on the Node.
inline constexpr const char* kIpv4AddressAnnotation = "projectcalico.org/IPv4Address";
inline constexpr const char* kIpv6AddressAnnotation = "projectcalico.org/IPv6Address";

struct CalicoNodeView {
  std::string name;
  std::vector<NodeAddress> addresses;  ///< status.addresses, in order (at most 32)
  std::string ipv4_annotation;         ///< "10.0.0.5/24"; "" when absent
  std::string ipv6_annotation;
  std::string kubelet_version;         ///< status.nodeInfo.kubeletVersion
};

/// The pure part: a Node object as stored.
CalicoNodeView DescribeNode(const nlohmann::json& node);

/// GET the Node `node`. kNotFound (wrapped, naming the node) when there is
/// none; other API errors wrapped with the call.
Result<CalicoNodeView> ReadCalicoNode(KubeClient& client, const std::string& node);

/// The BGP addresses of the Nodes in `node_list` other than `self`: the
/// address of calico-node's annotation for `family` without its prefix,
/// else the first InternalIP of that family. Nodes with neither are left
/// out. At most `max` addresses, in list order, without duplicates.
std::vector<IpAddress> PeerAddresses(const nlohmann::json& node_list, std::string_view self,
                                     AddressFamily family = AddressFamily::kIpv4, size_t max = 256);

/// Lists the Nodes (pages of 500, at most `max_nodes` in all) and returns
/// PeerAddresses of them. Errors wrap the list call.
Result<std::vector<IpAddress>> ReadPeerAddresses(KubeClient& client, std::string_view self,
                                                 AddressFamily family = AddressFamily::kIpv4, size_t max = 256);

nlohmann::json ToJson(const CalicoNodeView& node);

}  // namespace nodeagent::calico
