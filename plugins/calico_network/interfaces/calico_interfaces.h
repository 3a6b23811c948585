// Calico's own interfaces on this node, read as data, and what is wrong with
// them. A tunnel whose MTU leaves no room for the encapsulation header
// (tunl0 at 1500 over a 1500 eth1) drops or fragments every full-size
// pod-to-pod packet between nodes: small requests work, large ones hang. A
// tunl0 that exists while every IP pool says ipipMode Never (or the reverse)
// means the node and the cluster disagree about IPIP. This unit reads the
// tunnels (tunl0, vxlan.calico, vxlan-v6.calico, wireguard.cali, wg-v6.cali)
// through the host seam's NetworkInfo, compares each MTU with the underlying
// interface's minus Calico's overhead for that encapsulation, and compares
// tunl0 and the VXLAN devices with the IP pools read from the cluster.
//
// Calico's numbers and names come from projectcalico/calico at 87c15906:
// felix/dataplane/linux/int_dataplane.go (ipipMTUOverhead 20,
// vxlanMTUOverhead 50, vxlanV6MTUOverhead 70, wireguardMTUOverhead 60,
// wireguardV6MTUOverhead 80; ConfigureDefaultMTUs subtracts them from the host
// MTU), felix/dataplane/linux/dataplanedefs/dataplane_defs.go and
// felix/config/config_params.go (device names), and for the pools
// api/pkg/apis/projectcalico/v3/ippool.go with
// libcalico-go/lib/backend/k8s/resources/ippool.go (IPPoolV3ToV1: an unset
// ipipMode or vxlanMode is Never) and felix/calc/encapsulation_resolver.go
// (every pool counts, disabled ones too).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nodeagent/network.h"
#include "nodeagent/result.h"

namespace nodeagent::calico {

/// An IPPool as far as the interfaces care.
struct IpPoolView {
  std::string name;        ///< metadata.name
  std::string cidr;        ///< spec.cidr as given
  bool ipv6 = false;       ///< the CIDR's family
  std::string ipip_mode;   ///< "Always", "CrossSubnet" or "Never" (unset reads as Never)
  std::string vxlan_mode;  ///< same values
  bool disabled = false;   ///< spec.disabled (still counts for encapsulation, as in Felix)
  /// The pool carries the APIv1 field spec.ipip ({enabled, mode}). Calico v3
  /// never reads it (its validation refused it; the field left the v3 type
  /// in 2026): only ipipMode counts, so it is reported, not honoured.
  bool legacy_ipip = false;

  bool UsesIpip() const { return ipip_mode != "Never"; }
  bool UsesVxlan() const { return vxlan_mode != "Never"; }
};

/// Parses a crd.projectcalico.org/v1 IPPoolList (also a projectcalico.org/v3
/// one: the spec is the same). InvalidArgument naming the pool for a missing
/// name or cidr, a CIDR that does not parse, or a mode that is not Always,
/// CrossSubnet or Never; TooLarge over 1000 pools.
Result<std::vector<IpPoolView>> ParseIpPools(const nlohmann::json& list);

/// One of Calico's interfaces, present or not.
struct CalicoInterface {
  std::string name;  ///< "tunl0", "vxlan.calico", "vxlan-v6.calico", "wireguard.cali", "wg-v6.cali"
  bool exists = false;
  bool up = false;  ///< administratively up (IFF_UP)
  uint32_t mtu = 0;
  std::string kind;                    ///< as the kernel says: "ipip", "vxlan", "wireguard", "tun"...
  std::vector<std::string> addresses;  ///< "10.244.1.0/32", in the kernel's order
  LinkStats stats;
  std::string encapsulation;  ///< "IPIP", "VXLAN", "VXLAN IPv6", "WireGuard", "WireGuard IPv6"
  uint32_t overhead = 0;      ///< Calico's MTU overhead for it (20, 50, 70, 60, 80)

  /// {name, exists, up, mtu, kind, addresses, errors: {rx_errors, tx_errors,
  /// rx_dropped, tx_dropped}}.
  nlohmann::json ToJson() const;
};

enum class ProblemSeverity { kInfo, kWarning, kError };
/// "info", "warning", "error".
const char* ProblemSeverityName(ProblemSeverity s);

/// Something worth saying about the interfaces. Nothing here is an error
/// today: all of it is a warning or information (the severity exists so the
/// action can map it without string matching).
/// Which of the report's checks a problem belongs to (its id in the
/// action's `data.checks` and the metrics): a tunnel's state against the
/// pools and WireGuard, a tunnel's MTU against the underlying interface, or
/// the pools' own modes.
enum class InterfaceCheck { kTunnelState, kTunnelMtu, kPoolModes };

struct InterfaceProblem {
  ProblemSeverity severity = ProblemSeverity::kWarning;
  std::string subject;  ///< the interface or pool it is about: "tunl0", "pool default-ipv4-ippool"
  std::string message;  ///< what, the numbers, and the fix
  InterfaceCheck check = InterfaceCheck::kTunnelState;
  nlohmann::json ToJson() const;  ///< {severity, subject, message}
};

struct InterfaceReportInputs {
  /// The interface carrying the node's address (from autodetection); "" means
  /// the device of the default route (IPv4, else IPv6; lowest metric).
  std::string underlying;
  /// The cluster's IP pools; nullopt when they could not be read: the pool
  /// comparisons are skipped and an info problem says so.
  std::optional<std::vector<IpPoolView>> pools;
};

struct InterfacesReport {
  /// tunl0 always (exists=false when absent), then the others present, in
  /// the order tunl0, vxlan.calico, vxlan-v6.calico, wireguard.cali, wg-v6.cali.
  std::vector<CalicoInterface> interfaces;
  std::string underlying;       ///< "" when it could not be told
  uint32_t underlying_mtu = 0;  ///< 0 when unknown
  std::vector<InterfaceProblem> problems;
  size_t cali_veths = 0;  ///< links named cali* (one per local pod)

  /// {interfaces: [...], underlying, underlying_mtu, cali_veths, problems: [...]};
  /// underlying is null when unknown.
  nlohmann::json ToJson() const;
  bool HasWarnings() const;
};

/// Reads `net` once (interfaces, addresses, and routes when the underlying
/// interface is not given) and reports. Problems, each tested both ways:
/// - warning: a tunnel's MTU > underlying MTU - overhead (equal is fine),
///   naming the numbers and the setting to lower (FELIX_IPINIPMTU,
///   FELIX_VXLANMTU, FELIX_VXLANMTUV6, FELIX_WIREGUARDMTU, FELIX_WIREGUARDMTUV6);
/// - warning: the given underlying interface does not exist, or there is no
///   default route to find one (the MTU comparison is then skipped);
/// - warning: a present tunnel is down while it is in use (VXLAN and
///   WireGuard devices exist only when Calico uses them; tunl0 when a pool
///   uses IPIP or the pools are unknown);
/// - warning: tunl0 is up or has an address while every pool says ipipMode
///   Never; info when it is down and bare (the kernel makes tunl0 by itself
///   whenever the ipip module is loaded);
/// - warning: a pool uses IPIP (or VXLAN) but tunl0 (vxlan.calico /
///   vxlan-v6.calico) does not exist;
/// - warning: a pool carries the APIv1 spec.ipip field, which Calico ignores;
/// - info: the pools are unknown (comparison skipped);
/// - info: non-zero error or drop counters (totals since the link was made,
///   so one reading cannot say whether they are still rising).
/// Fails only when `net` does (the error is passed on).
Result<InterfacesReport> ReportCalicoInterfaces(NetworkInfo& net, const InterfaceReportInputs& in);

}  // namespace nodeagent::calico
