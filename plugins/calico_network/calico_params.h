// The parameter table of calico-network and the typed CalicoParams it fills.
// Each row names the member it fills (nodeagent/param_binding.h), so a
// parameter's name, type, default, range and doc are written once and drive
// config validation, `agentctl describe` and the man page.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "nodeagent/params.h"
#include "nodeagent/result.h"

namespace nodeagent::calico {

struct CalicoParams {
  /// NetworkManager device specs that must be unmanaged (Calico's interfaces).
  std::vector<std::string> nm_specs = {"interface-name:cali*",          "interface-name:tunl*",
                                       "interface-name:vxlan.calico",   "interface-name:vxlan-v6.calico",
                                       "interface-name:wireguard.cali", "interface-name:wg-v6.cali"};
  /// Our drop-in's name in /etc/NetworkManager/conf.d.
  std::string nm_file = "calico.conf";
  /// Write the drop-in and reload NetworkManager (false: only report).
  bool fix_network_manager = true;
  /// The IP_AUTODETECTION_METHOD to evaluate instead of the cluster's ("": the cluster's).
  std::string method;
  /// Where calico-node's DaemonSet is looked for, in order.
  std::vector<std::string> namespaces = {"kube-system", "calico-system"};
  std::string daemonset = "calico-node";
  /// Patch the calico-node DaemonSet when the node address Calico picks is wrong.
  bool allow_cluster_changes = false;
  /// The value that patch sets; "suggested" takes this node's suggestion.
  std::string fix_method = "kubernetes-internal-ip";
  /// This node's name in the cluster ("": agent.node_name).
  std::string node_name;
  /// BGP peers' port and how long a connect may take.
  int64_t bgp_port = 179;
  Duration probe_timeout{2000};
  /// The Calico/Kubernetes support table (missing: the built-in copy).
  std::string versions_file = "/usr/share/nodeagent/calico-network/versions.toml";
};

std::span<const ParamSpec> CalicoParamsTable();

/// Fills CalicoParams from validated `params` (a value not given keeps the
/// member's default, which equals the table's: a test checks it); node_name defaults to `default_node`.
Result<CalicoParams> CalicoParamsFromValues(const Params& params, const std::string& default_node);

/// Cross-parameter checks: nm_file a plain *.conf name, the method and
/// fix_method parse as Calico would, namespaces are DNS labels.
Status ValidateCalicoParams(const Params& params);

}  // namespace nodeagent::calico
