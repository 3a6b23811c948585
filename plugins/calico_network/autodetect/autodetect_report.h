// What calico-network says about the node address: which address each
// autodetection method picks on this node, whether the configured one picks
// the Node's InternalIP, what calico-node uses now (the Node's
// projectcalico.org/IPv4Address annotation, the address BGP peers dial), and
// the setting that fixes a mismatch. It turns autodetect.h's answers into
// findings and the `data.autodetection` object of -o json; the action
// (calico_network_action) feeds it what it read from the cluster.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autodetect.h"
#include "nodeagent/action.h"

namespace nodeagent::calico {

struct AutodetectReportInputs {
  AddressFamily family = AddressFamily::kIpv4;
  std::string method_text;    ///< the IP(6)_AUTODETECTION_METHOD value; "" = Calico's default first-found
  std::string method_source;  ///< where it was read ("DaemonSet kube-system/calico-node env ...")
  std::string ip_env;         ///< IP / IP6 as calico-node sees it ("" unset, "autodetect", "none", an address)
  std::string current_ip;     ///< projectcalico.org/IPv4Address (or IPv6Address): "10.0.0.5/24"; "" unknown
  AutodetectInputs inputs;    ///< the Node's addresses and a resolver
};

struct AutodetectReport {
  nlohmann::json data = nlohmann::json::object();
  std::vector<Finding> findings;
  bool ok = true;  ///< no error: Calico's address is the InternalIP (or nothing to compare)
  std::optional<Pick> pick;             ///< what the configured method picks
  std::optional<IpAddress> internal_ip;
  std::string suggested_method;         ///< interface=/cidr= value that picks the InternalIP here
};

/// Evaluates the configured method and the alternatives (first-found,
/// kubernetes-internal-ip when the Node is known, the suggestion) on
/// `network`. `data`: {family, method, source, autodetects, picks: {METHOD:
/// {interface, address} | {error}}, internal_ip, current_ip, ok, suggestion}.
AutodetectReport ReportAutodetection(NetworkInfo& network, const AutodetectReportInputs& in);

/// The address without its prefix length ("10.0.0.5/24" -> 10.0.0.5).
std::optional<IpAddress> AddressOfCidr(std::string_view text);

}  // namespace nodeagent::calico
