// ufw, as the join-prep firewall check needs it. On a node where ufw is
// enabled, its rules live in iptables chains (ufw-user-input and friends)
// that ufw rewrites; the operator thinks (and a fix must act) in `ufw allow`
// rules. So this unit reads `ufw status verbose` (read-only; it needs root),
// evaluates its user rules the way ufw orders them (first match wins, then
// the default incoming policy), and says which `ufw allow` commands would
// open what is missing. Rules it cannot judge (application profiles, a
// source address when the control plane's is unknown) make the verdict
// `unknown`, naming the rule. ufw's before.rules (established, ICMP, DHCP)
// do not decide a new TCP/UDP connection to a port and are not read.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "firewall/packet.h"
#include "nodeagent/host.h"
#include "nodeagent/params.h"
#include "nodeagent/result.h"

namespace nodeagent::join_prep {

/// One row of `ufw status verbose`'s rule table.
struct UfwRule {
  int line = 0;          ///< line in the output (for messages)
  std::string text;      ///< the row as printed
  std::string action;    ///< "allow", "deny", "reject", "limit"
  std::string direction; ///< "in", "out", "fwd"
  bool v6 = false;       ///< a "(v6)" row
  std::string to_address;    ///< "" = any
  std::vector<PortRange> to_ports;  ///< empty = every port
  std::string interface;     ///< "on eth0"; "" = any
  std::string proto;         ///< "" = any; "tcp", "udp", "esp", "ah", "gre", "igmp", "ipv6"
  std::string app;           ///< an application profile ("OpenSSH"): not evaluated
  std::string from_address;  ///< "" = any
  std::vector<PortRange> from_ports;
  std::string from_app;
  std::string comment;
};

struct UfwState {
  bool installed = false;  ///< ufw exists
  bool active = false;     ///< "Status: active"
  std::string default_incoming;  ///< "deny", "allow", "reject" ("" when inactive)
  std::vector<UfwRule> rules;
};

/// Runs `ufw status verbose` (read-only; root needed). A missing ufw is
/// installed=false; any failure (not root: "You need to be root") is an
/// error quoting the command's stderr.
Result<UfwState> ReadUfw(Host& host);
/// The parser, for the tests; errors name the line.
Result<UfwState> ParseUfwStatus(std::string_view text);

/// ufw's verdict for a new connection to `port` (every port of its range):
/// the first rule matching family, interface, protocol, port and source
/// decides; else the default incoming policy. Rules that cannot be judged
/// for this packet (an application profile, a source or interface that the
/// packet does not name) make it unknown, naming the rule. manager "ufw",
/// rule = the row as printed or "default deny (incoming)".
RuleVerdict EvaluateUfw(const UfwState& state, const Packet& packet, const RequiredPort& port);

/// The `ufw allow` commands that open `ports` from `from` ("" = any
/// address; else an address or prefix): `ufw allow 6443/tcp`, `ufw allow
/// 30000:32767/tcp`, or `ufw allow proto tcp from 10.0.0.0/8 to any port
/// 6443`. ufw knows no IPIP (its protocols are tcp, udp, ah, esp, gre, ipv6
/// and igmp): an IPIP port gets no step and the fix's warning says how to
/// add it (/etc/ufw/before.rules). Idempotent: ufw skips an existing rule.
Fix UfwAllowPorts(const std::vector<RequiredPort>& ports, std::string_view from);

}  // namespace nodeagent::join_prep
