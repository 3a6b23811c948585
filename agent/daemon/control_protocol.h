// The control socket's protocol, shared by the daemon and agentctl: one JSON
// request per connection, on one line; answers are JSON lines. A run streams
// {"type":"log"|"progress"} lines and ends with {"type":"result"}; every
// other request gets one line. Who may ask what is decided from the peer's
// credentials (SO_PEERCRED), never from anything the client says.
#pragma once

#include <sys/types.h>

#include <string>

#include <nlohmann/json.hpp>

namespace nodeagent {

inline constexpr size_t kMaxRequestBytes = 64 * 1024;
inline constexpr int kRequestReadTimeoutMs = 5000;

/// What a request needs: reading state, or changing the node.
enum class Access { kRead, kChange };

/// The access an op needs; kChange for unknown ops (they are refused anyway).
Access AccessFor(const std::string& op, const nlohmann::json& request);

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
};

/// Reads SO_PEERCRED of a connected unix socket.
bool GetPeerCredentials(int fd, PeerCredentials& out);

/// Root may do everything; members of `group_gid` may read; nobody else.
/// `group_gid` < 0 when the group does not exist. Returns an empty string when
/// allowed, else the reason.
std::string Authorize(const PeerCredentials& peer, Access access, long group_gid);

/// Error line: {"type":"error","code":..,"error":..}.
nlohmann::json ErrorReply(const std::string& code, const std::string& message);

}  // namespace nodeagent
