// The control socket's protocol, shared by the daemon and agentctl: one JSON
// request per connection, on one line; answers are JSON lines. A run streams
// {"type":"log"|"progress"} lines and ends with {"type":"result"}; every
// other request gets one line. Who may ask what is decided from the peer's
// credentials (SO_PEERCRED), never from anything the client says.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nodeagent {

inline constexpr size_t kMaxRequestBytes = 64 * 1024;
inline constexpr int kRequestReadTimeoutMs = 5000;

/// What a request needs: reading state, or changing the node. Each op's is in
/// its row of the daemon's table (control_operations.h).
enum class Access { kRead, kChange };

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  /// The peer's supplementary groups when it connected (SO_PEERGROUPS).
  std::vector<gid_t> groups;
};

/// Reads SO_PEERCRED and SO_PEERGROUPS (Linux 4.13+) of a connected unix
/// socket: the kernel's record of who connected, so no NSS lookup (LDAP,
/// sssd) ever runs on the daemon's event loop. False without SO_PEERCRED;
/// `groups` stays empty when the kernel has no SO_PEERGROUPS.
bool GetPeerCredentials(int fd, PeerCredentials& out);

/// Root may do everything; members of `group_gid` (by the peer's primary or
/// supplementary groups, the same test the kernel made to let it open the
/// 0660 socket) may read; nobody else. `group_gid` < 0 when the group does
/// not exist. Returns an empty string when allowed, else the reason.
std::string Authorize(const PeerCredentials& peer, Access access, long group_gid);

/// Caps on open control connections. Each costs the daemon a descriptor,
/// and any local user may connect (the socket refuses non-members only when
/// they open it, root decides after reading SO_PEERCRED): without caps one
/// user could exhaust the daemon's descriptors. Root has an allowance of its
/// own, so root's `agentctl status` still answers while others hold theirs.
struct ConnectionLimits {
  int per_uid = 32;        // any one non-root uid
  int all_non_root = 128;  // all non-root uids together
  int root = 256;
};

/// Counts open control connections by uid against ConnectionLimits.
class ConnectionTable {
 public:
  explicit ConnectionTable(ConnectionLimits limits = {}) : limits_(limits) {}
  /// Counts a new connection of `uid`. False, counting nothing, when a cap
  /// is reached; `why` then says which.
  bool TryOpen(uid_t uid, std::string* why = nullptr);
  /// Ends a connection TryOpen counted.
  void Close(uid_t uid);
  int open(uid_t uid) const;
  int open_non_root() const { return non_root_; }

 private:
  ConnectionLimits limits_;
  std::map<uid_t, int> by_uid_;
  int non_root_ = 0;
};

/// Error line: {"type":"error","code":..,"error":..}.
nlohmann::json ErrorReply(const std::string& code, const std::string& message);

}  // namespace nodeagent
