// Is calico-node running well on this node, and if not, what does it say?
// A calico-node pod that is not Ready usually says why in its readiness
// probe's failure, which the kubelet records as an Event (reason
// Unhealthy): "Readiness probe failed: calico/node is not ready: BIRD is
// not ready: BGP not established with 192.168.56.12". That message, with
// the restart count and the container's waiting/terminated reason, is what
// calico-network shows; the peers it names are then probed (bgp_probe.h).
// Only reads (GET, bounded lists), through KubeClient.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "nodeagent/kube.h"
#include "nodeagent/result.h"

namespace nodeagent::calico {

struct CalicoPodView {
  bool found = false;
  std::string ns;
  std::string name;
  std::string phase;
  bool ready = false;
  int restart_count = 0;           ///< of the calico-node container
  std::string waiting_reason;      ///< "CrashLoopBackOff", ... ("" when not waiting)
  std::string terminated_reason;   ///< of the last termination, "" when none
  /// The newest "Readiness probe failed" Event message about the pod ("" when none).
  std::string readiness_message;
  std::string readiness_time;      ///< that Event's lastTimestamp (or eventTime)
  int readiness_count = 0;         ///< that Event's count
  std::string events_problem;      ///< why the Events could not be read ("" when they were)
};

/// The pure part: this pod, and its Events (an EventList, may be null).
CalicoPodView DescribeCalicoPod(const nlohmann::json& pod, const nlohmann::json& events);

/// Finds the calico-node pod on `node` in `ns` (labelSelector
/// k8s-app=calico-node, fieldSelector spec.nodeName=NODE, limit 10; one
/// that is not being deleted first) and,
/// when it is not Ready, its Unhealthy Events (limit 100). found=false when
/// no such pod. API errors are wrapped with the call; a failure to read the
/// Events is reported in events_problem, not as an error.
Result<CalicoPodView> ReadCalicoPod(KubeClient& client, const std::string& ns, const std::string& node);

nlohmann::json ToJson(const CalicoPodView& pod);

}  // namespace nodeagent::calico
