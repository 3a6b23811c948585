// calico-network's checks by stable id, so a failing one can be alerted on
// by name: the core's metrics turn `data.checks` ([{id, status}], the shape
// join-prep writes) into `nodeagent_check_failing{action,check}`. Findings
// keep their subjects (a pod, a file:line, an interface); the id says which
// of a fixed, bounded set of questions the finding answers. A check fails on
// a warning or an error, passes when it ran without one, and is skipped when
// what it needs could not be read (no NetworkManager, no cluster).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeagent/action.h"

namespace nodeagent::calico {

/// Every id, in the order the action asks them (README, "Check ids").
inline constexpr std::string_view kCheckIds[] = {
    "nm-config-parse",      // NetworkManager can load its configuration
    "nm-unmanaged-specs",   // the merged configuration keeps every nm_specs interface unmanaged
    "nm-device-managed",    // no present Calico device is managed by NetworkManager now
    "cluster-read",         // the Node, the calico-node DaemonSet, the IP pools, the server version are readable
    "autodetect-method",    // the autodetected address is the Node's InternalIP (and the fix, if planned, picks it)
    "tunnel-mtu",           // each tunnel's MTU fits the underlying interface's
    "tunnel-state",         // tunl0, vxlan.calico, wireguard.cali are up when the pools or WireGuard use them
    "pool-modes",           // the IP pools' ipipMode/vxlanMode are ones Calico v3 reads
    "calico-node-ready",    // this node's calico-node pod exists and is Ready
    "bgp-port",             // the BGP port answers on every peer
    "versions-support",     // the Calico/Kubernetes pair is in the support table
};

/// The checks of one pass over the node.
class CheckTally {
 public:
  /// The check ran (it passes unless a warning or an error is added to it).
  void Ran(std::string_view id);
  /// Appends `finding` to `findings` as a result of check `id` (it ran).
  void Add(std::vector<Finding>& findings, std::string_view id, Finding finding);
  /// Counts `severity` for check `id` (it ran) without a finding.
  void Count(std::string_view id, Severity severity);
  /// [{id, status: "pass"|"fail"|"skipped", severity: "error"|"warning" when failing}],
  /// one per kCheckIds entry, in that order.
  nlohmann::json ToJson() const;

 private:
  std::map<std::string, Severity, std::less<>> worst_;  // ran checks: the worst severity seen
};

}  // namespace nodeagent::calico
