#include "daemon/control_protocol.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace nodeagent {

bool GetPeerCredentials(int fd, PeerCredentials& out) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  out.pid = cred.pid;
  out.uid = cred.uid;
  out.gid = cred.gid;
  // NGROUPS_MAX is 65536: ask again with the size the kernel names (ERANGE).
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 2; ++attempt) {
    socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
      groups.resize(glen / sizeof(gid_t));
      out.groups = std::move(groups);
      return true;
    }
    if (errno != ERANGE || glen / sizeof(gid_t) > 65536) break;
    groups.resize(glen / sizeof(gid_t));
  }
  return true;  // groups unknown (a kernel before 4.13): only the primary group counts
}

static bool InGroup(const PeerCredentials& peer, gid_t group) {
  return peer.gid == group || std::find(peer.groups.begin(), peer.groups.end(), group) != peer.groups.end();
}

std::string Authorize(const PeerCredentials& peer, Access access, long group_gid) {
  if (peer.uid == 0) return "";
  bool member = group_gid >= 0 && InGroup(peer, static_cast<gid_t>(group_gid));
  if (access == Access::kRead) {
    if (member) return "";
    return "uid " + std::to_string(peer.uid) + " may not use the agent: only root and members of the nodeagent group";
  }
  return "uid " + std::to_string(peer.uid) + " may not run actions: only root may change the node" +
         (member ? " (nodeagent group members may read status and history)" : "");
}

bool ConnectionTable::TryOpen(uid_t uid, std::string* why) {
  int& mine = by_uid_[uid];
  std::string refusal;
  if (uid == 0 && mine >= limits_.root)
    refusal = "root has " + std::to_string(mine) + " connections open (at most " + std::to_string(limits_.root) + ")";
  else if (uid != 0 && mine >= limits_.per_uid)
    refusal = "uid " + std::to_string(uid) + " has " + std::to_string(mine) + " connections open (at most " +
              std::to_string(limits_.per_uid) + " per user)";
  else if (uid != 0 && non_root_ >= limits_.all_non_root)
    refusal = "users other than root have " + std::to_string(non_root_) + " connections open (at most " +
              std::to_string(limits_.all_non_root) + " together)";
  if (!refusal.empty()) {
    if (mine == 0) by_uid_.erase(uid);
    if (why) *why = refusal;
    return false;
  }
  ++mine;
  if (uid != 0) ++non_root_;
  return true;
}

void ConnectionTable::Close(uid_t uid) {
  auto it = by_uid_.find(uid);
  if (it == by_uid_.end()) return;
  if (--it->second == 0) by_uid_.erase(it);
  if (uid != 0) --non_root_;
}

int ConnectionTable::open(uid_t uid) const {
  auto it = by_uid_.find(uid);
  return it == by_uid_.end() ? 0 : it->second;
}

nlohmann::json ErrorReply(const std::string& code, const std::string& message) {
  return {{"type", "error"}, {"code", code}, {"error", message}};
}

}  // namespace nodeagent
