// How Calico is installed in the cluster, and which address autodetection
// method its calico-node pods run with. calico-network compares that method
// with what this node needs (autodetect/), and the fix differs by install:
// a manifest install (the calico-node DaemonSet in kube-system) is fixed by
// patching the DaemonSet's env (env_patch.h); an operator install (the
// DaemonSet in calico-system, rendered by tigera/operator from the
// Installation resource) must never be written to, since the operator
// rewrites it, and the method lives in the Installation's
// spec.calicoNetwork.nodeAddressAutodetectionV4/V6. Everything here only
// reads (GET), through KubeClient.
//
// The operator's rendering of those fields into IP_AUTODETECTION_METHOD
// follows tigera/operator pkg/render/node.go, getAutodetectionMethod: the
// first set of interface, skipInterface, canReach, firstFound (true),
// cidrs (joined with ","), kubernetes (NodeInternalIP) wins; none set means
// IP=none (no autodetection for that family). The operator owns the
// DaemonSet through a controller ownerReference to the Installation
// (apiVersion operator.tigera.io/v1) and annotates the pod template with
// hash.operator.tigera.io/* keys.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeagent/kube.h"
#include "nodeagent/network.h"
#include "nodeagent/result.h"

namespace nodeagent::calico {

/// One env variable of the calico-node container.
struct EnvSetting {
  std::string name;        ///< "IP_AUTODETECTION_METHOD"
  bool present = false;    ///< listed in the container's env
  bool known = false;      ///< the value could be read (literal, or from a ConfigMap key)
  std::string value;       ///< when known
  bool from_value_from = false;  ///< the entry uses valueFrom rather than value
  /// Where the value comes from: "value", "ConfigMap kube-system/calico-config key ip_method",
  /// "fieldRef status.hostIP (cannot be known before the pod runs)".
  std::string source;
  int index = -1;          ///< position in the container's env list (-1: absent)
  nlohmann::json entry;    ///< the env entry as stored (null when absent), for the patch's test op
};

/// The autodetection method in force for one family, and where it comes from.
struct MethodReading {
  bool known = false;  ///< false: valueFrom that cannot be resolved, or an unreadable Installation
  std::string value;   ///< "first-found", "interface=eth1", ... ; "" when autodetection is off
  /// "DaemonSet kube-system/calico-node env IP_AUTODETECTION_METHOD",
  /// "Installation default spec.calicoNetwork.nodeAddressAutodetectionV4",
  /// "unset: Calico's default first-found".
  std::string source;
};

/// What ReadCalicoInstall found.
struct CalicoInstall {
  bool found = false;
  /// When !found: "DaemonSet calico-node not found in kube-system, calico-system".
  std::string not_found;

  std::string ns;
  std::string name;
  std::string resource_version;
  bool operator_managed = false;
  std::string operator_reason;  ///< why it is taken as operator-managed ("" when not)
  int container_index = -1;     ///< of the container named calico-node (-1: none)
  std::string image;
  /// The container's env list as stored (null when it has none), for the patch's test op.
  nlohmann::json env;
  /// IP_AUTODETECTION_METHOD, IP6_AUTODETECTION_METHOD, IP, IP6, in that order.
  std::vector<EnvSetting> settings;

  /// Operator installs: whether Installation "default" was read, and its
  /// spec.calicoNetwork.nodeAddressAutodetectionV4/V6 (null when unset).
  bool installation_read = false;
  nlohmann::json autodetection_v4;
  nlohmann::json autodetection_v6;

  MethodReading method_v4;
  MethodReading method_v6;

  /// Things worth saying that did not stop the read: a ConfigMap that is
  /// missing, an Installation that could not be read, IP given explicitly,
  /// a DaemonSet env that differs from what the Installation asks for.
  std::vector<std::string> notes;

  /// The setting by env name; nullptr if `name` is not one of the four.
  const EnvSetting* Setting(std::string_view name) const;
};

/// The namespaces searched when the caller gives none.
const std::vector<std::string>& DefaultCalicoNamespaces();

/// Finds the DaemonSet `name` in the first of `namespaces` that has it
/// (404 moves on to the next) and reads the rest (ConfigMaps referenced by
/// the four env variables; Installation "default" for operator installs).
/// A DaemonSet found nowhere is not an error: found=false with not_found set.
/// Any other API error on the DaemonSet is an Error naming the call; errors
/// on the ConfigMap or the Installation become notes and an unknown method.
Result<CalicoInstall> ReadCalicoInstall(KubeClient& client, const std::vector<std::string>& namespaces,
                                        std::string_view name = "calico-node");

/// The pure part of ReadCalicoInstall: `daemonset` as stored. ConfigMap
/// references are left unresolved (known=false) here.
CalicoInstall DescribeDaemonSet(const nlohmann::json& daemonset);

/// Why `daemonset` counts as managed by tigera/operator, or "" when it does not.
std::string OperatorOwnership(const nlohmann::json& daemonset);

/// The IP_AUTODETECTION_METHOD value the operator renders from one
/// nodeAddressAutodetection object (see the header comment); "" for null or
/// an object with no method set.
std::string OperatorMethodText(const nlohmann::json& node_address_autodetection);

/// The method in force for `family`, from the settings (and for operator
/// installs the Installation) already in `install`. Sets nothing.
MethodReading EffectiveMethod(const CalicoInstall& install, AddressFamily family);

/// The whole reading as JSON, for the tool and the action's plan data.
nlohmann::json ToJson(const CalicoInstall& install);

}  // namespace nodeagent::calico
