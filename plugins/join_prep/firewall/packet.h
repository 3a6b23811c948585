// The question every firewall evaluator answers: what verdict would the
// kernel give a new inbound connection (TCP SYN, first UDP datagram, first
// IPIP packet) from the control plane's address to one of this node's
// ports, arriving on the interface that routes back to that address. The
// evaluators (nftables, iptables-legacy) and the managers above them
// (firewalld, ufw) all take this Packet and answer with a RuleVerdict that
// quotes the rule that decided, or `unknown` with the rule they could not
// read, never a guess.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nodeagent/params.h"

namespace nodeagent::join_prep {

enum class Proto { kTcp, kUdp, kIpip };
const char* ProtoName(Proto p);  // "tcp", "udp", "ipip"

/// A port (range) the node must accept, and why ("kubelet API").
struct RequiredPort {
  PortRange ports;  ///< {0, 0} for IPIP (no ports)
  Proto proto = Proto::kTcp;
  std::string why;
};

struct Packet {
  int family = 4;        ///< 4 or 6
  std::string saddr;     ///< the control plane's address; empty: any address (unknown)
  std::string daddr;     ///< this node's address on `iifname`; may be empty
  std::string iifname;   ///< the interface the packet arrives on; empty: unknown
  uint32_t iif = 0;      ///< its ifindex; 0: unknown
  Proto proto = Proto::kTcp;
  uint16_t dport = 0;    ///< 0 for IPIP
  /// For a fix only: the ports the accept rule opens, rule_first to
  /// rule_last (0: dport alone), so one rule opens a whole range
  /// (30000-32767) though only its ends are evaluated. Evaluation ignores them.
  uint16_t rule_first = 0;
  uint16_t rule_last = 0;
  uint16_t sport = 40000;
};

enum class Verdict { kAccept, kDrop, kReject, kUnknown };
const char* VerdictName(Verdict v);  // "accept", "drop", "reject", "unknown"

/// What decided a packet's fate in one rule set.
struct RuleVerdict {
  Verdict verdict = Verdict::kAccept;
  std::string manager;  ///< "nftables", "iptables-legacy", "ip6tables-legacy", "firewalld", "ufw"
  std::string family;   ///< nftables table family ("inet", "ip", "ip6"); "" elsewhere
  std::string table;
  std::string chain;
  /// The deciding rule as nft/iptables-save prints it, or "policy drop";
  /// for unknown, the rule that could not be evaluated.
  std::string rule;
  int64_t handle = 0;   ///< nftables rule handle (0: policy or none)
  std::string note;     ///< why unknown, or other detail
};

}  // namespace nodeagent::join_prep
