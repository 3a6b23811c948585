// Which TCP ports something already listens on, read from the kernel's
// tables (<root>/proc/net/tcp and tcp6) rather than by binding the port as
// kubeadm's Port-N check does: a plan may only look, and a bind would race
// the service it is meant to find. A listener on any address of the port
// makes kubeadm's bind to ":port" fail, so any LISTEN entry counts.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/host.h"

namespace nodeagent::join_prep {

/// Port -> the local addresses listening on it ("0.0.0.0", "::1"...).
using Listeners = std::map<int, std::vector<std::string>>;

/// The LISTEN (state 0A) entries of one /proc/net/tcp[6] text, at most
/// kMaxProcNetTcpLines lines. InvalidArgument naming `source`:line for a
/// malformed line.
Result<Listeners> ParseProcNetTcp(std::string_view text, bool ipv6, const std::string& source);
inline constexpr size_t kMaxProcNetTcpLines = 200000;

/// Both tables through the seam. /proc/net/tcp6 missing (IPv6 disabled) is
/// fine; /proc/net/tcp missing or unreadable is an error naming it.
Result<Listeners> ReadListeners(const FileSystem& files);

}  // namespace nodeagent::join_prep
