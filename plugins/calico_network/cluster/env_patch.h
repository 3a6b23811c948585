// The fix for a wrong autodetection method: change one env variable of the
// calico-node container. For a manifest install that is a JSON patch
// (RFC 6902) of the DaemonSet, guarded by a `test` of the entry as it was
// read (or of the whole env list when the variable is absent), so an edit
// made in between makes the API server refuse the patch (422) instead of
// silently overwriting it. The plan says that every calico-node pod
// restarts (the DaemonSet's rolling update). An operator-managed DaemonSet
// is never written to: tigera/operator would put its own value back, so
// for operator installs the fix is the `kubectl patch installation default`
// command OperatorPatchCommand prints, which sets the one method and nulls
// the others (the operator refuses an Installation with more than one,
// "no more than one node address autodetection method can be specified
// per-family", tigera/operator pkg/controller/installation/validation.go).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cluster/calico_install.h"
#include "nodeagent/kube.h"
#include "nodeagent/network.h"
#include "nodeagent/result.h"

namespace nodeagent::calico {

struct EnvPatchPlan {
  /// True when the variable already has this literal value: nothing to send.
  bool unchanged = false;
  /// The RFC 6902 operations (send with PatchType::kJson).
  nlohmann::json patch;
  /// "set IP_AUTODETECTION_METHOD=interface=eth1 on daemonset kube-system/calico-node:
  /// every calico-node pod restarts (rolling update)".
  std::string description;
  /// Change::objects entry: "kube:daemonsets/kube-system/calico-node".
  std::string object;
  std::string ns;
  std::string name;
};

/// Plans setting `variable` to `value` in the calico-node container of the
/// DaemonSet `install` describes. A value given through valueFrom is
/// replaced by a plain value (the whole entry is replaced). The value of an
/// *_AUTODETECTION_METHOD variable must parse (ParseAutodetectionMethod).
/// Errors: not found, no calico-node container, operator-managed (naming
/// the kubectl command to use instead), a bad value.
Result<EnvPatchPlan> PlanEnvPatch(const CalicoInstall& install, std::string_view variable, std::string_view value);

/// Sends the plan's patch. kConflict with "changed since it was read" when
/// the guard fails (422/409); other errors wrapped with the call. Returns
/// the patched DaemonSet.
Result<nlohmann::json> ApplyEnvPatch(KubeClient& client, const EnvPatchPlan& plan);

/// The command that sets `method` (an IP_AUTODETECTION_METHOD value) for
/// `family` on an operator install:
///   kubectl patch installation default --type=merge -p '{"spec":{"calicoNetwork":
///     {"nodeAddressAutodetectionV4":{"interface":"eth1","firstFound":null,...}}}}'
/// kInvalidArgument when `method` does not parse.
Result<std::string> OperatorPatchCommand(AddressFamily family, std::string_view method);

/// The merge patch inside that command.
Result<nlohmann::json> OperatorMergePatch(AddressFamily family, std::string_view method);

}  // namespace nodeagent::calico
