// The options of join-prep and join as the checks see them: what role the
// node will have, where the control plane is, which checks to ignore and
// which fixes are allowed. Filled from the actions' parameter table
// (join_params.h); kept apart from that table so each check unit (swap,
// firewall, kernel, runtime, discovery, host) depends on this plain struct
// only and its tests build one by hand.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "nodeagent/params.h"

namespace nodeagent::join_prep {

enum class Role { kWorker, kControlPlane };
enum class Cni { kCalico, kNone };
enum class FirewallFix { kOpenPorts, kReport };

struct JoinOptions {
  Role role = Role::kWorker;
  /// host:port of the API server ("10.0.0.10:6443"); empty when unknown
  /// (join-prep without a join: the control plane's address is then "any").
  std::string endpoint;
  std::vector<std::string> ca_cert_hashes;  ///< "sha256:<64 hex>"
  Cni cni = Cni::kCalico;
  std::vector<PortRange> extra_ports;  ///< TCP ports to check besides the role's
  std::vector<std::string> ignore;     ///< check ids; "all" ignores every check
  /// Fix ids allowed (kFixIds in check.h; the parameter's default lists
  /// them all); empty: none, only report.
  std::vector<std::string> fix;
  FirewallFix firewall_fix = FirewallFix::kOpenPorts;
  /// The CRI socket; empty: the first of containerd's and CRI-O's that exists.
  std::string cri_socket;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds ready_timeout{std::chrono::minutes(10)};
  /// This node's name in the cluster (agent.node_name unless set).
  std::string node_name;
};

}  // namespace nodeagent::join_prep
