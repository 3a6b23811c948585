// Where the daemon's optional metrics listener binds, as an operator writes
// it in `[metrics] listen`: a bare port means loopback (127.0.0.1), and any
// other address only when written so ("0.0.0.0:9779", "[::]:9779"). Only IP
// literals are taken, never a host name: a name would need a resolver (a
// thread in asio) at start and could bind somewhere the operator did not mean.
// The config checks the text with this parser; the daemon binds what it says.
#pragma once

#include <string>
#include <string_view>

#include "nodeagent/result.h"

namespace nodeagent {

struct ListenAddress {
  std::string ip;  // a literal: "127.0.0.1", "::1", "0.0.0.0"
  int port = 0;    // 1 to 65535
  bool ipv6 = false;
  /// "127.0.0.1:9779", "[::1]:9779": as written in the config, for messages.
  std::string ToString() const;
};

/// Parses "PORT", "IPv4:PORT" or "[IPv6]:PORT". Fails (kInvalidArgument)
/// with a message saying what is accepted for anything else.
Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace nodeagent
