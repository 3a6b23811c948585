// Who may use the control socket, decided from the kernel's record of the
// peer (SO_PEERCRED, SO_PEERGROUPS): no NSS lookup on the daemon's loop.
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>

#include "daemon/control_protocol.h"

using namespace nodeagent;

TEST_CASE("unbounded_input: peer credentials carry the peer's supplementary groups (SO_PEERGROUPS)") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  PeerCredentials peer;
  REQUIRE(GetPeerCredentials(fds[0], peer));
  CHECK(peer.pid == ::getpid());
  CHECK(peer.uid == ::geteuid());
  std::vector<gid_t> mine(static_cast<size_t>(::getgroups(0, nullptr)));
  mine.resize(static_cast<size_t>(::getgroups(static_cast<int>(mine.size()), mine.data())));
  std::sort(mine.begin(), mine.end());
  std::sort(peer.groups.begin(), peer.groups.end());
  CHECK(peer.groups == mine);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("unbounded_input: group membership is judged from the peer's groups, without a passwd or group lookup") {
  // A uid no passwd database knows: only the credentials can make it a member.
  PeerCredentials member{1234, 54321, 54321, {100, 4242}};
  CHECK(Authorize(member, Access::kRead, 4242).empty());
  CHECK_FALSE(Authorize(member, Access::kChange, 4242).empty());
  PeerCredentials primary{1234, 54321, 4242, {}};
  CHECK(Authorize(primary, Access::kRead, 4242).empty());
  PeerCredentials stranger{1234, 54321, 54321, {100}};
  CHECK_FALSE(Authorize(stranger, Access::kRead, 4242).empty());
  CHECK_FALSE(Authorize(member, Access::kRead, -1).empty());  // no such group: root only
  PeerCredentials root{1, 0, 0, {}};
  CHECK(Authorize(root, Access::kChange, -1).empty());
}

TEST_CASE("unbounded_input: control connections are capped per uid and for all non-root users, root apart") {
  ConnectionTable table(ConnectionLimits{2, 3, 2});
  std::string why;
  CHECK(table.TryOpen(1000));
  CHECK(table.TryOpen(1000));
  CHECK_FALSE(table.TryOpen(1000, &why));
  CHECK(why == "uid 1000 has 2 connections open (at most 2 per user)");
  CHECK(table.TryOpen(1001));
  CHECK_FALSE(table.TryOpen(1002, &why));  // all non-root slots taken
  CHECK(why == "users other than root have 3 connections open (at most 3 together)");
  CHECK(table.open(1002) == 0);
  // Root's allowance is its own.
  CHECK(table.TryOpen(0));
  CHECK(table.TryOpen(0));
  CHECK_FALSE(table.TryOpen(0));
  table.Close(1000);
  CHECK(table.open(1000) == 1);
  CHECK(table.TryOpen(1002));
  CHECK(table.open_non_root() == 3);
}
