// An nftables rule set (`nft -j list ruleset`) as the kernel would apply it to
// one new inbound connection: every base chain of type filter on the
// ingress hook of the packet's device (netdev, inet), then the prerouting
// and input hooks (across all tables of families inet, ip, ip6; ip only for
// IPv4 packets, ip6 only for IPv6) in hook then priority order (equal
// priorities in listing order, which is the order they were created in),
// where an accept ends only that base chain and a later one may still drop;
// policies; jump, goto, return and continue; ct state of a new connection;
// meta l4proto / ip protocol / ip6 nexthdr / meta nfproto; tcp/udp/th dport
// as a value, a range, an anonymous set and a named set (intervals too),
// verdict maps; ip/ip6 saddr and daddr with prefixes, ranges and sets;
// iifname (with wildcards)/iif; tcp flags; concatenations; iptables-nft's
// comment match and REJECT target. Counters, log, comments and marks are
// ignored; nat chains are not read. A match that cannot be decided for this packet (an unknown
// source address, a limit, `meta skuid`) is tried both ways: the verdict is
// the one every outcome agrees on, else `unknown` naming the rule. A
// statement it does not know makes the verdict `unknown`: never a guess.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "firewall/packet.h"
#include "nodeagent/result.h"

namespace nodeagent {
class CommandRunner;
}

namespace nodeagent::join_prep {

/// The most rules, chains and sets a rule set may hold before Parse refuses it.
inline constexpr size_t kMaxNftObjects = 100000;

/// Where a verdict was reached, for the fix: the base chain whose run
/// decided, and the rule in that base chain that led there (the deciding
/// rule itself, or the jump/goto into the user chain that decided; 0 when
/// the base chain's policy decided).
struct NftDecision {
  RuleVerdict verdict;
  std::string base_family;
  std::string base_table;
  std::string base_chain;
  int64_t base_rule_handle = 0;
  std::string base_rule;  ///< that rule's text
  /// Every rule whose match could not be decided for this packet and that
  /// was tried both ways ("inet filter input: ip saddr 10.0.0.1 accept").
  std::vector<std::string> undecided;
};

/// A parsed rule set. Parse once, evaluate many packets.
class NftRuleset {
 public:
  /// From the JSON of `nft -j list ruleset`. InvalidArgument when it is not
  /// that shape (the message says where: "nftables[3].rule.expr: ...").
  static Result<NftRuleset> Parse(const nlohmann::json& doc);
  /// Same, with `listing` (`nft -a list ruleset`, its stdout then its
  /// stderr) giving each rule's text by handle, so verdicts quote rules
  /// exactly as nft prints them, the devices of ingress chains, and which
  /// tables iptables-nft manages. A listing
  /// that does not parse only loses the quotes (rules are then rendered from JSON).
  static Result<NftRuleset> Parse(const nlohmann::json& doc, std::string_view listing);
  /// Whether any base filter chain on prerouting/input has a rule or a policy
  /// other than accept (the rule set filters inbound traffic at all).
  bool FiltersInput() const;
  /// The kernel's verdict for `packet` (manager "nftables").
  RuleVerdict Evaluate(const Packet& packet) const;
  /// The verdict and where it was reached.
  NftDecision Decide(const Packet& packet) const;

  /// Whether the text listing marked the table as iptables-nft's ("managed
  /// by iptables-nft, do not touch!"): its rules are iptables rules, fixed
  /// with iptables, not nft.
  bool ManagedByIptablesNft(const std::string& family, const std::string& table) const;
  /// Whether the listing named any table iptables-nft manages.
  bool HasIptablesNftTables() const;
  /// The same rule set with the tables iptables-nft manages left out of
  /// every verdict: their rules use xt matches whose options nft's JSON
  /// does not carry, so they are judged from `iptables-nft-save` instead
  /// (an accept or drop there is a base chain of its own either way).
  NftRuleset WithoutIptablesNftTables() const;

  /// A copy with a rule (its JSON `expr` array as `nft -j` prints it, and
  /// its text) added to a chain before the rule with `before_handle` (0: at
  /// the end), as `nft insert rule ... position H` / `nft add rule` would;
  /// the new rule gets a fresh handle. InvalidArgument when the chain or the
  /// handle is missing.
  Result<NftRuleset> WithRule(const std::string& family, const std::string& table, const std::string& chain,
                              int64_t before_handle, const nlohmann::json& expr, const std::string& text) const;

  struct Impl;
 private:
  std::shared_ptr<const Impl> impl_;
};

/// Reads the host's rule set: `nft -j list ruleset` (read-only), and
/// `nft -a list ruleset` for the rules' text. An error names the command and
/// its stderr, or where the JSON is not the expected shape. `doc`, when
/// given, gets the JSON document read.
Result<NftRuleset> ReadNftRuleset(CommandRunner& commands, nlohmann::json* doc = nullptr);

/// `nft -a list ruleset` text mapped to rule text by (family, table, handle).
std::map<std::tuple<std::string, std::string, int64_t>, std::string> ParseNftListing(std::string_view listing);

/// Which manager owns the table/chain a verdict names: "firewalld" for its
/// tables (`inet firewalld`, `ip firewalld`, `ip6 firewalld`), "ufw" for
/// ufw's chains (`ufw-*`, `ufw6-*`, seen through iptables-nft), else
/// "nftables" (rules the operator wrote, which the nft fix may change).
std::string NftOwner(const std::string& family, const std::string& table, const std::string& chain);

}  // namespace nodeagent::join_prep
