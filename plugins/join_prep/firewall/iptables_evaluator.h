// An iptables-legacy rule set (`iptables-legacy-save`, `ip6tables-legacy-save`
// output) as the kernel would apply it to one new inbound connection: the
// filter table's INPUT chain (and raw/mangle PREROUTING when they drop),
// policies, user chains with jump, goto and RETURN, -m conntrack/--state NEW,
// -p, --dport/--dports (multiport), -s/-d with prefixes, -i, and the targets
// ACCEPT, DROP, REJECT. Anything else (an -m match it does not know, ipset
// sets) makes the verdict `unknown`, quoting the line.
#pragma once

#include <memory>
#include <string_view>

#include "firewall/packet.h"
#include "nodeagent/result.h"

namespace nodeagent::join_prep {

class IptablesRuleset {
 public:
  /// `save` is iptables-save's output; `manager` is "iptables-legacy" or
  /// "ip6tables-legacy". InvalidArgument names the line it cannot parse.
  static Result<IptablesRuleset> Parse(std::string_view save, std::string manager);
  /// Whether INPUT has any rule or a policy other than ACCEPT.
  bool FiltersInput() const;
  RuleVerdict Evaluate(const Packet& packet) const;

  struct Impl;
 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace nodeagent::join_prep
