#include "firewall/packet.h"

namespace nodeagent::join_prep {

const char* ProtoName(Proto p) {
  switch (p) {
    case Proto::kTcp: return "tcp";
    case Proto::kUdp: return "udp";
    case Proto::kIpip: return "ipip";
  }
  return "?";
}

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kAccept: return "accept";
    case Verdict::kDrop: return "drop";
    case Verdict::kReject: return "reject";
    case Verdict::kUnknown: return "unknown";
  }
  return "?";
}

}  // namespace nodeagent::join_prep
