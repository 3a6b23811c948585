// Can this node reach the control plane the way `kubeadm join` will, and will
// kubeadm's token discovery accept what it finds? Before the join, and
// without credentials, the check connects to options.endpoint over TCP, does
// an unverified TLS handshake to see the API server's certificate chain,
// fetches the cluster-info ConfigMap anonymously (as kubeadm's discovery
// does) to get the CA kubeadm pins, compares that CA's public-key pin with
// options.ca_cert_hashes, and compares the server's Date with the node's
// clock. Each finding is one CheckResult (ids DiscoveryEndpoint,
// DiscoveryTCP, DiscoveryTLS, DiscoveryClusterInfo, DiscoveryCAChain,
// DiscoveryCAHash, DiscoveryClockSkew: kubeadm has no preflight check of its
// own for these, its discovery simply fails during the join).
#pragma once

#include <string>
#include <vector>

#include "check.h"
#include "discovery/endpoint_probe.h"

namespace nodeagent::join_prep {

/// The API path kubeadm's discovery reads anonymously.
inline constexpr const char* kClusterInfoPath = "/api/v1/namespaces/kube-public/configmaps/cluster-info";
/// A server clock further off than this is a warning (certificates the
/// cluster issues would look not yet valid, or expired).
inline constexpr std::chrono::seconds kMaxClockSkew{60};

/// host and port of an endpoint: "10.0.0.10:6443", "[fd00::10]:6443",
/// "api.example.com:6443". InvalidArgument saying what is wrong (no port, a
/// port out of range, an IPv6 address without brackets).
struct Endpoint {
  std::string host;
  int port = 0;
};
Result<Endpoint> ParseEndpoint(const std::string& text);

/// Every discovery finding, with the real network.
std::vector<CheckResult> CheckDiscovery(const CheckInputs& in);
/// The same through `probe` (a fake in unit tests).
std::vector<CheckResult> CheckDiscovery(const CheckInputs& in, EndpointProbe& probe);

}  // namespace nodeagent::join_prep
