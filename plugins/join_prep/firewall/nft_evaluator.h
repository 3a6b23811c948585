// An nftables rule set (`nft -j list ruleset`) as the kernel would apply it to
// one new inbound connection: every base chain on the input hook (filter type,
// across all tables of families inet, ip, ip6) in priority order, where an
// accept ends only that base chain and a later one may still drop; policies;
// jump, goto and return; ct state of a new connection; meta l4proto / ip
// protocol; tcp/udp dport as a value, a range, an anonymous set and a named
// set (intervals too); ip/ip6 saddr and daddr with prefixes and sets;
// iifname/iif. Counters, log, comments and limits are ignored. Anything else
// makes the verdict `unknown`, naming the rule: never a guess.
#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "firewall/packet.h"
#include "nodeagent/result.h"

namespace nodeagent::join_prep {

/// A parsed rule set. Parse once, evaluate many packets.
class NftRuleset {
 public:
  /// From the JSON of `nft -j list ruleset`. InvalidArgument when it is not
  /// that shape (the message says where).
  static Result<NftRuleset> Parse(const nlohmann::json& doc);
  /// Whether any base chain hooks input (the rule set filters inbound traffic at all).
  bool FiltersInput() const;
  /// The kernel's verdict for `packet` (manager "nftables").
  RuleVerdict Evaluate(const Packet& packet) const;

  struct Impl;
 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace nodeagent::join_prep
