#include "daemon/control_protocol.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>

#include <vector>

namespace nodeagent {

Access AccessFor(const std::string& op, const nlohmann::json& request) {
  if (op == "status" || op == "list" || op == "describe" || op == "history" || op == "logs" || op == "ping" ||
      op == "config-show")
    return Access::kRead;
  // A dry run changes nothing, but it still executes plugin code as root with
  // the caller's parameters: only root may start any run.
  return Access::kChange;
}

bool GetPeerCredentials(int fd, PeerCredentials& out) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  out.pid = cred.pid;
  out.uid = cred.uid;
  out.gid = cred.gid;
  return true;
}

static bool InGroup(uid_t uid, gid_t primary, gid_t group) {
  if (primary == group) return true;
  struct passwd pw;
  struct passwd* result = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) != 0 || !result) return false;
  int n = 64;
  std::vector<gid_t> groups(n);
  if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) {
    groups.resize(n);
    if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) return false;
  }
  for (int i = 0; i < n; ++i)
    if (groups[i] == group) return true;
  return false;
}

std::string Authorize(const PeerCredentials& peer, Access access, long group_gid) {
  if (peer.uid == 0) return "";
  bool member = group_gid >= 0 && InGroup(peer.uid, peer.gid, static_cast<gid_t>(group_gid));
  if (access == Access::kRead) {
    if (member) return "";
    return "uid " + std::to_string(peer.uid) + " may not use the agent: only root and members of the nodeagent group";
  }
  return "uid " + std::to_string(peer.uid) + " may not run actions: only root may change the node" +
         (member ? " (nodeagent group members may read status and history)" : "");
}

nlohmann::json ErrorReply(const std::string& code, const std::string& message) {
  return {{"type", "error"}, {"code", code}, {"error", message}};
}

}  // namespace nodeagent
