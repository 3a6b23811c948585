// What the cluster knows of this node, for `agentctl status`: whether it is
// schedulable or cordoned (and whether by us: drain-and-reboot's
// nodeagent.io/ annotations), the Node conditions whose type starts with
// "NodeAgent", who holds the reboot lock's Lease slots, and the last Events
// the agent posted about the node. Read-only (nodes get, leases get, events
// list), each part on its own, so one refused or failing read is a line in
// the answer and the others are still shown. It runs in `nodeagent-runner
// ctl`, where the Kubernetes client lives; agentctl renders the JSON.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeagent/kube.h"

namespace nodeagent {

struct ClusterViewInputs {
  std::string node_name;
  /// The reboot lock's Lease slots: (namespace, name) each.
  std::vector<std::pair<std::string, std::string>> lock_slots;
  /// Where the agent posts the node's Events (drain-and-reboot: "default").
  std::string events_namespace = "default";
  size_t max_events = 10;
};

/// {node, schedulable, cordoned_by: "nodeagent"|"other"|null, nodeagent_run:
/// {run_id, action, phase, since}|null, conditions: [{type, status, reason,
/// message, since}], reboot_lock: [{namespace, name, holder, ours, renewed}],
/// events: [{time, type, reason, message, count}] (newest first), errors:
/// ["what: why"]}. Never fails: what could not be read is in `errors`; after
/// the API server cannot be reached the remaining reads are not tried.
nlohmann::json ReadClusterView(KubeClient& kube, const ClusterViewInputs& in);

/// The lock slots drain-and-reboot uses with `lock_namespace`, `lock_name`
/// and `concurrency` (its defaults for those empty or 0; at most 100 slots).
std::vector<std::pair<std::string, std::string>> RebootLockSlots(std::string ns, std::string prefix, int64_t concurrency);

}  // namespace nodeagent
