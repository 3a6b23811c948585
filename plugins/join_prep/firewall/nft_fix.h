// How to open an nftables rule set to the packets `kubeadm join` and the
// node need, without taking anything else away from the operator's rules:
// in each base chain that drops or rejects a packet, one accept rule goes in
// just before the rule that decided (`nft insert rule ... position H`), or at
// the end of the chain when its policy decided (`nft add rule`). Nothing is
// ever flushed or disabled. Each inserted rule is simulated on the parsed
// rule set and the packet evaluated again, until it is accepted. Chains that
// firewalld or ufw own, and tables iptables-nft manages, are left to those
// tools (the top-level firewall check fixes them through firewall-cmd, ufw,
// iptables). The rules are not written to
// /etc/nftables.conf: an operator's file cannot be edited safely in general,
// so the fix's warning says what to add there and where.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "check.h"
#include "firewall/nft_evaluator.h"
#include "firewall/packet.h"

namespace nodeagent::join_prep {

/// The comment every rule the fix adds carries, so an operator sees whose it is.
inline constexpr const char* kNftFixComment = "nodeagent join-prep";

/// One rule to add for a packet: the words after `nft add rule FAMILY TABLE
/// CHAIN` (nft syntax) and the same rule as `nft -j` prints it.
struct NftAcceptRule {
  std::vector<std::string> words;  ///< {"ip","saddr","10.0.0.1","tcp","dport","6443","accept","comment","\"...\""}
  nlohmann::json expr;
  std::string text;                ///< words joined, as nft prints the rule
};

/// The accept rule for `packet`: `ip saddr S` (or `ip6 saddr`) when the
/// packet's source is known, then `tcp dport P` / `udp dport P` /
/// `meta l4proto ipencap` (IPIP is protocol 4), `accept`, the comment. No
/// `ct state new`: the rule must also pass the connection's later packets
/// in rule sets that accept established traffic nowhere else.
NftAcceptRule NftAcceptRuleFor(const Packet& packet);

/// The rule set file the distribution loads at boot (nftables.service:
/// /etc/nftables.conf on Debian, /etc/sysconfig/nftables.conf on RHEL) and
/// the files it includes, read only to tell the operator where the fix's
/// rules belong: the fix never writes them.
struct NftBootConfig {
  struct File {
    std::string path;
    std::string content;
  };
  std::vector<File> files;  ///< the main file first; empty when there is none
  std::string problem;      ///< an include or a read that failed ("" when none)
};

/// The most files ReadNftBootConfig follows through includes.
inline constexpr size_t kMaxNftConfigFiles = 32;

/// Reads the boot rule set file and its `include`s (plain paths, and a `*`
/// in the last component), at most kMaxNftConfigFiles files, 4 levels deep.
NftBootConfig ReadNftBootConfig(const FileSystem& files);

struct NftFixPlan {
  std::vector<FixStep> steps;  ///< nft insert/add rule commands, in order
  /// Set when some packet still cannot be accepted by these steps: a chain
  /// firewalld or ufw owns, or a table iptables-nft manages (then `owner` is
  /// "firewalld", "ufw" or "iptables-nft"), or an unknown verdict. The
  /// verdicts of those packets are in `blocked`.
  std::string owner;
  std::vector<RuleVerdict> blocked;
  /// What to add to the boot-time rule set file so the change survives a
  /// reboot (the steps act on the running rule set only).
  std::string warning;
  /// Each packet's verdict once the steps are applied (simulated).
  std::vector<RuleVerdict> after;
  /// The rule set with the steps' rules in it, as the evaluator simulated it.
  std::optional<NftRuleset> simulated;
};

/// Plans the rules that make every packet accepted. Steps are planned only
/// for packets the rule set drops or rejects in chains that the operator
/// owns. The warning names, for each rule, the place in `boot` where it
/// belongs ("/etc/nftables.conf:14, before `drop`"), or says that the boot
/// file does not hold the chain or rule that decided.
NftFixPlan PlanNftFix(const NftRuleset& ruleset, const std::vector<Packet>& packets, const NftBootConfig& boot);

/// The Fix (id "firewall") for a plan: its steps and warning. nullopt when it has no steps.
std::optional<Fix> NftFixOf(const NftFixPlan& plan);

}  // namespace nodeagent::join_prep
