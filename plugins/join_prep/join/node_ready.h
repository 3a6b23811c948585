// Waiting, after `kubeadm join` returned, until the cluster shows this node
// as Ready: the Node object exists and its Ready condition is True. A join
// that succeeded leaves the kubelet running but not yet Ready (typically
// "container runtime network not ready" until the CNI pods run on it), so the
// wait shows the Node's conditions as progress while it lasts, keeps going
// through "not found yet" and passing API errors, and gives up at its
// timeout, on cancellation, or at once when the API refuses access (403).
// Time comes from the context's clock, so tests run it on a FakeClock.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "nodeagent/action.h"
#include "nodeagent/kube.h"

namespace nodeagent::join_prep {

struct NodeReadiness {
  bool ready = false;
  /// The last state seen, as shown in progress ("Ready=True", "not found yet").
  std::string state;
  std::chrono::milliseconds waited{0};
  int polls = 0;

  nlohmann::json ToJson() const;
};

/// How a Node's status reads: "Ready=True", "Ready=False (KubeletNotReady:
/// container runtime network not ready ...)", "no Ready condition yet", plus
/// the pressure conditions that are True ("; DiskPressure=True"). Bounded.
std::string DescribeNodeConditions(const nlohmann::json& node);
/// Whether the Node's Ready condition has status "True".
bool IsNodeReady(const nlohmann::json& node);

/// Polls GET /api/v1/nodes/NODE every `interval` until it is Ready (then
/// the readiness), `timeout` passes (kTimeout naming the last state), the
/// run is cancelled (kCancelled) or the API refuses access (kPermissionDenied).
Result<NodeReadiness> WaitNodeReady(ActionContext& ctx, KubeClient& kube, const std::string& node,
                                    std::chrono::milliseconds timeout,
                                    std::chrono::milliseconds interval = std::chrono::seconds(2));

/// The same with the run's own client, taken from ctx.Kube() at each poll
/// until it can be made: an agent configured with the kubelet's kubeconfig
/// (/etc/kubernetes/kubelet.conf, written by the join) gets its client only
/// once that file exists. Until then the state is "no Kubernetes client yet".
Result<NodeReadiness> WaitNodeReady(ActionContext& ctx, const std::string& node, std::chrono::milliseconds timeout,
                                    std::chrono::milliseconds interval = std::chrono::seconds(2));

}  // namespace nodeagent::join_prep
