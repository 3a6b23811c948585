// join-prep's firewall check: would this node's firewall let the control
// plane reach the ports a node of this role (and this CNI) needs? Every rule
// set the kernel runs on input (nftables, iptables-legacy; firewalld and ufw
// write into one of them) gets the same new-connection packet from the
// control plane's address on the interface that routes back to it; a drop
// in any of them drops, an unknown in any without a drop is unknown. Each
// port that is not accepted is a finding, its fix goes through the manager
// whose rule decided (firewall-cmd, ufw, nft, iptables-legacy), never by
// disabling a firewall or flushing rules. The rule sets and the managers'
// fix steps come in through FirewallSources/FirewallFixers, so the logic is
// tested with fakes and the glue picks the real readers.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "check.h"
#include "firewall/iptables_evaluator.h"
#include "firewall/nft_evaluator.h"
#include "firewall/packet.h"
#include "join_options.h"

namespace nodeagent::join_prep {

/// The ports a node of `options.role` with `options.cni` must accept, and
/// options.extra_ports (TCP); no port twice.
std::vector<RequiredPort> RequiredPorts(const JoinOptions& options);

/// One port to open in a rule set: the port (range), the packets that must
/// pass (its first and last port) and that rule set's verdicts for them.
struct PortOpenRequest {
  RequiredPort port;
  std::vector<Packet> packets;
  std::vector<RuleVerdict> verdicts;
};

/// A rule set the kernel runs on inbound packets (nftables, or one family
/// of iptables-legacy), as the check uses it.
class InputRuleset {
 public:
  virtual ~InputRuleset() = default;
  /// "nftables", "iptables-legacy", "ip6tables-legacy".
  virtual std::string manager() const = 0;
  /// 4 or 6 for a legacy set, 0 for nftables (it sees both).
  virtual int family() const = 0;
  /// The managers whose rules hook input here: "firewalld" (table
  /// firewalld), "ufw" (ufw-* chains), else manager(); empty when nothing
  /// filters input.
  virtual std::vector<std::string> InputManagers() const = 0;
  virtual RuleVerdict Evaluate(const Packet& packet) const = 0;
  /// The steps that let each request's packets pass, one list per request,
  /// planned in order (a later list assumes the earlier ones applied).
  /// `warning` gets what the operator must still do (persist...). An error
  /// says why it cannot be done here.
  virtual Result<std::vector<std::vector<FixStep>>> PlanOpen(const std::vector<PortOpenRequest>& requests,
                                                             std::string* warning) const = 0;
};

/// Where the rule sets and manager states come from. Each rule-set hook
/// returns null when its tool is not installed (then that firewall is not
/// in use), an Error quoting the command and its stderr when the read
/// failed. An empty hook is a source that is not there (null).
struct FirewallSources {
  std::function<Result<std::shared_ptr<const InputRuleset>>()> nftables;
  /// iptables-legacy-save (4) or ip6tables-legacy-save (6).
  std::function<Result<std::shared_ptr<const InputRuleset>>(int family)> iptables_legacy;
  /// iptables-nft-save (4) or ip6tables-nft-save (6): the tables iptables-nft
  /// (and ufw through it) manages inside nftables, whose xt matches nft's
  /// JSON does not carry; the nftables hook leaves those tables out.
  std::function<Result<std::shared_ptr<const InputRuleset>>(int family)> iptables_nft;
  /// Whether firewalld runs / ufw is active; an Error when that cannot be read.
  std::function<Result<bool>()> firewalld_running;
  std::function<Result<bool>()> ufw_active;
};

/// How firewalld and ufw open ports (their own commands, so that their
/// saved configuration keeps the ports). An empty hook: that manager's
/// ports get no fix (the finding's hint says what to run).
struct FirewallFixers {
  /// firewall-cmd --permanent --zone=Z --add-port=... then --reload, in the
  /// zone that takes `packet` (its interface and source).
  std::function<Result<std::vector<FixStep>>(const Packet& packet, const std::vector<RequiredPort>& ports)>
      firewalld_open;
  /// ufw allow P/proto for each (from the packet's source when ufw's rule
  /// should be that narrow).
  std::function<Result<std::vector<FixStep>>(const Packet& packet, const std::vector<RequiredPort>& ports)> ufw_allow;
};

struct FirewallReport {
  std::vector<CheckResult> checks;
  /// [{port, proto, verdict, manager, table, chain, rule}], a range as two
  /// entries (its first and last port); IPIP has port 0.
  nlohmann::json ports = nlohmann::json::array();
};

/// The packet the control plane would send to `port` of this node: from the
/// host part of options.endpoint (a name or none: any source), on the
/// interface that routes to it, to this node's address there.
/// `problem` gets why the interface is unknown, if it is.
Packet ControlPlanePacket(const CheckInputs& in, std::string* problem);

/// The check itself (see the top of this file). Ids: "Firewall-6443-tcp",
/// "Firewall-2379-2380-tcp", "Firewall-ipip" (error for drop/reject,
/// warning for unknown), "FirewallManagers" (more than one at once),
/// "Firewalld" (kubeadm's warning when firewalld is active),
/// "FirewallRead-<manager>" (a rule set that could not be read). Fixes
/// (id kFixFirewall) only with options.firewall_fix == kOpenPorts.
FirewallReport CheckFirewall(const CheckInputs& in, const FirewallSources& sources, const FirewallFixers& fixers);

/// The iptables-legacy rule set as an InputRuleset; its fix persists through
/// `files` (PlanIptablesOpen). `files` must outlive it.
std::shared_ptr<const InputRuleset> LegacyInputRuleset(IptablesRuleset rules, const FileSystem& files);

/// Reads `iptables-legacy-save` / `ip6tables-legacy-save` through the host
/// (read-only). Null when the command is not installed.
Result<std::shared_ptr<const InputRuleset>> ReadLegacyRuleset(Host& host, int family);
/// Same for a backend: "legacy" (iptables-legacy-save) or "nft"
/// (iptables-nft-save); the rule set's manager is "iptables-<backend>"
/// ("ip6tables-..." for 6), which is also the program its fix runs.
Result<std::shared_ptr<const InputRuleset>> ReadIptablesRuleset(Host& host, int family, std::string_view backend);

/// Who filters input in an nftables rule set (`nft -j list ruleset`): for
/// each base chain on the input hook (or a filter chain on prerouting) that
/// has rules or a drop policy, "firewalld" for table firewalld, "ufw" for
/// rules that jump or go to ufw-*/ufw6-* chains (and a drop policy beside
/// them), "nftables" for the rest. Empty when nothing filters input.
std::vector<std::string> NftInputManagers(const nlohmann::json& ruleset);

/// How the nftables fix makes `packets` pass (firewall/nft_fix.h:
/// PlanNftFix + NftFixOf): the steps, or an Error when it cannot (a chain
/// firewalld or ufw owns, an unknown verdict); `warning` gets what to
/// persist. The packets of one call are one port (range): its first and
/// last port.
using NftOpenPlanner = std::function<Result<std::vector<FixStep>>(
    const NftRuleset&, const RequiredPort& port, const std::vector<Packet>& packets, std::string* warning)>;

/// Reads `nft -j list ruleset` through the host (read-only) into an
/// InputRuleset whose fix goes through `planner`. Null when nft is not
/// installed; an Error quoting the command's stderr when it fails, or the
/// place where its JSON is not a rule set. Defined in nft_input_ruleset.cpp
/// (it needs nft_evaluator.cpp linked).
/// `iptables_nft_tables`, when given, gets whether the rule set holds
/// tables iptables-nft manages (those are left out: see iptables_nft).
Result<std::shared_ptr<const InputRuleset>> ReadNftInputRuleset(Host& host, NftOpenPlanner planner,
                                                                std::optional<bool>* iptables_nft_tables = nullptr);

/// The nftables fix (nft_fix.h): one accept rule per port (range) inserted
/// where it takes effect; refused for a rule firewalld or ufw owns, and for
/// an unknown verdict. Its warning says what to persist in the boot file.
NftOpenPlanner RealNftPlanner(const FileSystem& files);
/// The host's rule sets and managers: nftables, iptables-legacy (4 and 6),
/// firewalld (running?), ufw (active?), all read-only. `host` must outlive them.
FirewallSources RealFirewallSources(Host& host);
/// firewalld's and ufw's own commands (firewalld.h, ufw.h), in the zone that
/// takes the packet / from the control plane's address.
FirewallFixers RealFirewallFixers(Host& host);

/// CheckFirewall with RealFirewallSources and RealFirewallFixers.
FirewallReport CheckFirewall(const CheckInputs& in);

}  // namespace nodeagent::join_prep
