// firewalld, as the join-prep firewall check needs it. On a node where
// firewalld runs, the nftables rules are firewalld's own and are rewritten on
// every reload; the operator thinks (and a fix must act) in zones, ports and
// services. So this unit reads firewalld's runtime view through firewall-cmd
// (read-only queries only), says which zone a connection from the control
// plane lands in (a source binding first, then the interface's zone, then
// the default zone: firewalld.zones(5), "Which zone is used for a
// connection?"), whether that zone accepts a required port (its ports,
// protocols, services as their XML definitions on the node say, its
// target), and which firewall-cmd commands would open what is missing. What it
// cannot judge (rich rules that may drop, MAC or ipset sources) it answers
// with `unknown` and the reason, never a guess.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "firewall/packet.h"
#include "nodeagent/host.h"
#include "nodeagent/params.h"
#include "nodeagent/result.h"

namespace nodeagent::join_prep {

/// A port (range) with its protocol as firewalld writes it: "2379-2380/tcp".
struct FirewalldPort {
  PortRange ports;
  std::string protocol;  ///< "tcp", "udp", "sctp", "dccp"
};

/// One zone as `firewall-cmd --zone=Z --list-all` prints it (runtime).
struct FirewalldZone {
  std::string name;
  bool active = false;
  std::string target = "default";  ///< "default", "ACCEPT", "DROP", "%%REJECT%%"
  std::vector<std::string> interfaces;
  std::vector<std::string> sources;   ///< "10.0.0.0/8", "fd00::/64", a MAC, "ipset:NAME"
  std::vector<std::string> services;
  std::vector<FirewalldPort> ports;
  std::vector<std::string> protocols;  ///< "ipencap", "4", "gre"...
  std::vector<FirewalldPort> source_ports;
  std::vector<std::string> rich_rules;
  /// firewalld 2.x "ingress-priority:" (absent before: 0). A zone with a
  /// priority other than 0 may be chosen out of the usual order.
  int ingress_priority = 0;
};

/// A service definition (/etc/firewalld/services/NAME.xml, else
/// /usr/lib/firewalld/services/NAME.xml under the host root), includes
/// resolved.
struct FirewalldService {
  std::string name;
  std::string file;  ///< the file it was read from; "" when none was found
  std::vector<FirewalldPort> ports;
  std::vector<std::string> protocols;
  bool has_destination = false;  ///< limited to a destination address: not judged
  std::string problem;           ///< why it could not be read ("" when it was)
};

struct FirewalldState {
  bool installed = false;  ///< firewall-cmd exists
  bool running = false;    ///< `firewall-cmd --state` said "running"
  std::string default_zone;
  /// The active zones and the default zone, in --get-active-zones order
  /// (the default zone last when it is not active).
  std::vector<FirewalldZone> zones;
  /// The definitions of every service a zone lists, by name.
  std::map<std::string, FirewalldService, std::less<>> services;

  const FirewalldZone* Zone(std::string_view name) const;
};

/// Reads firewalld's runtime state: `firewall-cmd --state`, then (when
/// running) --get-default-zone, --get-active-zones, and --list-all for each
/// of those zones, then the XML of each service they list. All commands are
/// read-only. A missing firewall-cmd is installed=false; exit 252 ("not
/// running") is running=false. Any other failure, and output it cannot
/// parse, is an error naming the command (and the line).
Result<FirewalldState> ReadFirewalld(Host& host);

/// Parsers for the commands' output, exposed for the tests. `command` only
/// names the source in error messages.
Result<std::vector<FirewalldZone>> ParseFirewalldActiveZones(std::string_view text, std::string_view command);
Result<FirewalldZone> ParseFirewalldZone(std::string_view text, std::string_view command);
/// A service's XML (<port>, <protocol>, <include>, <destination>).
Result<FirewalldService> ParseFirewalldService(std::string_view xml, std::string_view file);

/// Which zone a connection arriving on `iifname` from `saddr` belongs to,
/// and why: the first zone (in --get-active-zones order, which is the order
/// of firewalld's nft dispatch chain) with a source containing `saddr`, else
/// the zone `iifname` is bound to, else the default zone. Not certain when
/// `saddr` or `iifname` is unknown and could change the answer, when a
/// source is a MAC or an ipset, or when a zone has an ingress priority.
struct FirewalldZoneMatch {
  std::string zone;
  std::string reason;    ///< "source 10.79.0.0/16", "interface eth0", "default zone"
  bool certain = true;   ///< false: the note says what could change the answer
  std::string note;
};
FirewalldZoneMatch MatchFirewalldZone(const FirewalldState& state, std::string_view iifname, std::string_view saddr);
/// MatchFirewalldZone(...).zone.
std::string ZoneFor(const FirewalldState& state, std::string_view iifname, std::string_view saddr);

/// What `zone` does with a new connection to every port of `port`:
/// accept (a port, protocol or service covers all of it, or target ACCEPT),
/// reject/drop (its target; "default" rejects), or unknown (rich rules that
/// could decide, a service that could not be read). manager "firewalld",
/// chain = the zone, rule = what decided ("port 6443/tcp", "service
/// kube-apiserver", "target default").
RuleVerdict FirewalldZoneVerdict(const FirewalldState& state, std::string_view zone, const RequiredPort& port);
/// FirewalldZoneVerdict(...).verdict == accept.
bool ZoneAllows(const FirewalldState& state, std::string_view zone, const RequiredPort& port);

/// The zone for `packet` (iifname, saddr) and its verdict on `port`; when
/// the zone is not certain, an accept or reject turns into unknown with the
/// match's note.
RuleVerdict EvaluateFirewalld(const FirewalldState& state, const Packet& packet, const RequiredPort& port);

/// The firewall-cmd protocol name for IPIP. firewalld checks protocol names
/// against /etc/protocols, where IP protocol 4 is "ipencap" (firewall-cmd
/// also takes the number).
inline constexpr std::string_view kFirewalldIpipProtocol = "ipencap";

/// Opens `ports` in `zone`: `firewall-cmd --permanent --zone=Z
/// --add-port=6443/tcp --add-port=2379-2380/tcp` for the saved
/// configuration, `firewall-cmd --permanent --zone=Z --add-protocol=ipencap`
/// for IPIP (firewall-cmd refuses --add-protocol beside --add-port), then the
/// same without --permanent for the running firewall. No --reload: a reload
/// would throw away runtime-only changes the operator made. Idempotent
/// (firewalld answers ALREADY_ENABLED with exit 0). Empty `ports`: no steps.
Fix FirewalldOpenPorts(std::string_view zone, const std::vector<RequiredPort>& ports);

}  // namespace nodeagent::join_prep
