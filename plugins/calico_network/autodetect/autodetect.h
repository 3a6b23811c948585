// Calico's node IP autodetection, computed the way calico-node does it at
// startup (IP_AUTODETECTION_METHOD / IP6_AUTODETECTION_METHOD), but over the
// host seam's network tables instead of live sockets. calico-network uses it
// to tell, before Calico starts, which address Calico will pick for this node
// and whether that is the Node's InternalIP: a mismatch (Vagrant's NAT eth0
// winning over the cluster network on eth1) is the classic cause of a
// cluster whose pods cannot reach each other across nodes. The rules follow
// calico's node/pkg/lifecycle/startup/autodetection (interfaces.go,
// filtered.go, reachaddr.go, autodetection_methods.go, autodetection_linux.go):
// interfaces are walked from the highest ifindex down, the default exclusion
// regexes are anchored at the start only, only global unicast addresses count
// for first-found/interface/skip-interface/cidr, and the answer is the
// interface's address with its prefix length ("192.168.56.11/24").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/network.h"
#include "nodeagent/result.h"

namespace nodeagent::calico {

enum class AutodetectKind {
  kFirstFound,            ///< "first-found" (also the empty value)
  kInterface,             ///< "interface=REGEX[,REGEX]"
  kSkipInterface,         ///< "skip-interface=REGEX[,REGEX]"
  kCidr,                  ///< "cidr=CIDR[,CIDR]"
  kCanReach,              ///< "can-reach=IP|NAME"
  kKubernetesInternalIp,  ///< "kubernetes-internal-ip"
};

/// A parsed IP_AUTODETECTION_METHOD value.
struct AutodetectionMethod {
  AutodetectKind kind = AutodetectKind::kFirstFound;
  std::vector<std::string> interface_regexes;  ///< kInterface, kSkipInterface
  std::vector<IpPrefix> cidrs;                 ///< kCidr (network form, host bits cleared)
  std::string destination;                     ///< kCanReach: an address or a host name
  std::string text;                            ///< the value as given
};

/// Parses the env value as calico-node does: "" and "first-found" are
/// first-found; lists split on commas with surrounding blanks; a value that
/// starts with "kubernetes-internal-ip" is that method. Errors name the bad
/// part (an unknown method, a regex that does not compile, a bad CIDR, an
/// empty can-reach destination).
Result<AutodetectionMethod> ParseAutodetectionMethod(std::string_view value);

/// Calico's DEFAULT_INTERFACES_TO_EXCLUDE (autodetection_linux.go), used by
/// first-found and skip-interface: "^docker.*", "^cbr.*", ... "^lo" ...
const std::vector<std::string>& DefaultExcludedInterfaces();

/// Go's net.IP.IsGlobalUnicast: not unspecified, loopback, multicast,
/// link-local (169.254/16, fe80::/10) nor 255.255.255.255. Private and ULA
/// addresses count.
bool IsGlobalUnicast(const IpAddress& address);

/// Turns a host name into addresses (can-reach=NAME). The real one uses
/// getaddrinfo; tests use a table.
class NameResolver {
 public:
  virtual ~NameResolver() = default;
  /// The addresses of `name` of `family`, in the resolver's order.
  virtual Result<std::vector<IpAddress>> Resolve(const std::string& name, AddressFamily family) = 0;
};

/// One entry of the Node's status.addresses.
struct NodeAddress {
  std::string type;     ///< "InternalIP", "ExternalIP", "Hostname"...
  std::string address;  ///< "192.168.56.11"
};

/// What Autodetect needs besides the network tables.
struct AutodetectInputs {
  /// The Node's status.addresses; for kubernetes-internal-ip and for the
  /// comparison. `node_known` false means "not running on Kubernetes".
  std::vector<NodeAddress> node_addresses;
  bool node_known = false;
  /// For can-reach=NAME; nullptr makes a name an error.
  NameResolver* resolver = nullptr;
};

/// Calico's choice.
struct Pick {
  std::string interface;  ///< "" when unknown (a kubernetes-internal-ip given with a prefix)
  IpPrefix address;       ///< the interface's address with its prefix length
  std::string why;        ///< one sentence: which method and rule chose it
};

/// The address calico-node would autodetect for `family` with `method`,
/// from `network`'s interfaces, addresses and (can-reach) route lookup.
/// An error says why Calico would find nothing (it then logs a warning and
/// the node gets no address of that family).
Result<Pick> Autodetect(const AutodetectionMethod& method, NetworkInfo& network, AddressFamily family,
                        const AutodetectInputs& inputs);

/// The first InternalIP of `family` in `inputs.node_addresses`, if any.
std::optional<IpAddress> FirstInternalIp(const AutodetectInputs& inputs, AddressFamily family);

/// How the pick compares with the Node's InternalIP.
struct InternalIpComparison {
  bool matches = false;
  std::optional<IpAddress> internal_ip;  ///< nullopt when the Node has none of this family
  std::string internal_ip_interface;     ///< where the InternalIP lives on this node ("" if nowhere)
  /// "" when it matches; otherwise e.g. "first-found picks 10.0.2.15 on
  /// eth0; InternalIP is 192.168.56.11 on eth1; set
  /// IP_AUTODETECTION_METHOD=interface=eth1 or kubernetes-internal-ip".
  /// A suggested interface= or cidr= value is one that Autodetect, run
  /// again on the same tables, picks the InternalIP with.
  std::string suggestion;
  /// The interface= or cidr= value quoted in `suggestion`, "" when none
  /// picks the InternalIP here (kubernetes-internal-ip always would).
  std::string suggested_method;
};

/// Compares `pick` (what `method` chose) with the Node's first InternalIP of
/// `family`. Reads `network` to find the InternalIP's interface and to check
/// the suggested method.
Result<InternalIpComparison> CompareWithInternalIp(const AutodetectionMethod& method, const Pick& pick,
                                                   NetworkInfo& network, AddressFamily family,
                                                   const AutodetectInputs& inputs);

/// Whether calico-node runs autodetection at all for `family` (startup.go,
/// configureIPsAndSubnets): IPv4 when IP=autodetect, or IP is unset and the
/// Calico Node has no BGP IPv4 address yet (so a later change of method does
/// nothing on a node that already has one, unless IP=autodetect, which
/// Calico's manifests set); IPv6 only when IP6=autodetect.
struct AutodetectionUse {
  bool autodetects = false;
  std::string why;  ///< "IP=autodetect", "IP is unset and ...", "IP=10.0.0.5 is given"
};
AutodetectionUse CalicoAutodetects(AddressFamily family, std::string_view ip_env,
                                   std::string_view existing_bgp_address);

/// The env variable name for a family: IP_AUTODETECTION_METHOD or IP6_AUTODETECTION_METHOD.
std::string_view MethodEnvName(AddressFamily family);

}  // namespace nodeagent::calico
