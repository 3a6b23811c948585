// An iptables-legacy rule set (`iptables-legacy-save`, `ip6tables-legacy-save`
// output) as the kernel would apply it to one new inbound connection: raw
// PREROUTING, mangle PREROUTING, mangle INPUT and filter INPUT in that order,
// policies, user chains with jump, goto and RETURN, -m conntrack/--state
// (a new connection is NEW, or UNTRACKED after a raw NOTRACK), -p,
// --dport/--dports (multiport, ranges), -s/-d with prefixes, -i with `+`,
// `!` everywhere, and the targets ACCEPT, DROP, REJECT; LOG, MARK and the
// other non-terminating targets continue. Anything else (an -m match it does
// not know, ipset sets) is `unknown` for that rule; when the verdict does not
// depend on it (both ways end the same) it is still known, else the verdict
// is `unknown` quoting the line: never a guess. It also plans the insert
// that opens a port (`iptables-legacy -I CHAIN N ...` before the rule that
// decides) and the same line in the saved rules file when that file is what
// the kernel runs (see PlanIptablesOpen).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "firewall/packet.h"
#include "nodeagent/host.h"
#include "nodeagent/result.h"

namespace nodeagent::join_prep {

/// One rule to insert: `-t table -I chain position` + args.
struct IptablesInsert {
  std::string table;
  std::string chain;
  int position = 1;               ///< 1-based, as `-I CHAIN N`
  std::vector<std::string> args;  ///< "-p" "tcp" "-m" "tcp" "--dport" "6443" "-j" "ACCEPT"
};

class IptablesRuleset {
 public:
  /// `save` is iptables-save's output; `manager` is "iptables-legacy" or
  /// "ip6tables-legacy" (the family follows it). InvalidArgument names the
  /// line it cannot parse. Empty output (no table loaded) is an empty set.
  static Result<IptablesRuleset> Parse(std::string_view save, std::string manager);
  /// Whether raw/mangle PREROUTING, mangle INPUT or filter INPUT hold any
  /// rule or a policy other than ACCEPT.
  bool FiltersInput() const;
  /// The kernel's verdict for `packet`; a packet of the other family is
  /// accepted (note says this rule set does not see it).
  RuleVerdict Evaluate(const Packet& packet) const;
  /// Who filters input here: "ufw" for rules jumping to ufw-*/ufw6-* chains
  /// (and a DROP policy beside them), manager() for the others; empty when
  /// FiltersInput() is false.
  std::vector<std::string> InputManagers() const;
  const std::string& manager() const;
  int family() const;
  /// The same tables, chains, policies and rules (counters and the order of
  /// tables aside; protocol names and numbers compare equal; a table with
  /// only empty ACCEPT chains counts as not there).
  bool SameRules(const IptablesRuleset& other) const;
  /// A copy with `insert` done, as the kernel would hold it after the command.
  Result<IptablesRuleset> WithInsert(const IptablesInsert& insert) const;

  /// The inserts that make every packet of `packets` accepted, each an
  /// ACCEPT for all of `port` placed just before the rule (or policy) that
  /// decides now, in the built-in chain the decision was reached from.
  /// Empty when they are accepted already. An error (naming the rule) when
  /// a verdict is unknown or the inserts do not lead to accept.
  Result<std::vector<IptablesInsert>> PlanOpen(const RequiredPort& port, const std::vector<Packet>& packets) const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

/// The command for an insert: {"iptables-legacy", "-t", "filter", "-I", "INPUT", "3", "-p", ...}.
std::vector<std::string> IptablesInsertArgv(const std::string& manager, const IptablesInsert& insert);

/// `save_text` (a rules file in iptables-save format) with the insert's
/// `-A CHAIN args` line put where `-I CHAIN N` puts the rule. InvalidArgument
/// naming `path` when the table or chain is not in it.
Result<std::string> InsertIntoSaveFile(std::string_view save_text, const IptablesInsert& insert, std::string_view path);

/// The files the distributions restore at boot: Debian's iptables-persistent
/// (/etc/iptables/rules.v4, rules.v6) and RHEL's iptables-services
/// (/etc/sysconfig/iptables, ip6tables).
std::vector<std::string> IptablesPersistFiles(int family);

/// One port to open: the port (range) and the packets that must pass
/// (its first and last port).
struct IptablesOpenRequest {
  RequiredPort port;
  std::vector<Packet> packets;
};

/// The fix for the legacy rule set `running`, one step list per request,
/// planned in order (a later list assumes the earlier ones applied): one
/// `iptables-legacy -I` per insert and, for each persist file that exists
/// and holds the same rules as `running` (it is what the kernel loaded),
/// the same lines added to it (a diff in the plan). A persist file that
/// differs, or none at all, makes the fix runtime only: `warning` then says
/// which lines to persist where. An error when a port cannot be opened this
/// way (an unknown verdict).
Result<std::vector<std::vector<FixStep>>> PlanIptablesOpen(const FileSystem& files, const IptablesRuleset& running,
                                                           const std::vector<IptablesOpenRequest>& requests,
                                                           std::string* warning);

}  // namespace nodeagent::join_prep
