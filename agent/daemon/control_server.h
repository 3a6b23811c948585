// The control socket: a unix stream socket (0660 root:nodeagent, or 0600 when
// the group does not exist) on the daemon's event loop. It accepts
// connections under the ConnectionTable's caps, reads one request line per
// connection (bounded in size and time), learns the peer from SO_PEERCRED and
// hands the line to the ControlDispatcher, whose table decides who may ask
// what. Answers go back through a ReplyStream that queues lines so a slow
// client never blocks the loop (progress is dropped for a lagging reader, a
// reader far behind is disconnected). What each op does is not its business.
#pragma once

#include <memory>
#include <string>

#include "daemon/control_dispatcher.h"
#include "nodeagent/result.h"

namespace boost::asio {
class io_context;
}

namespace nodeagent {

class ControlServer {
 public:
  ControlServer(boost::asio::io_context& io, ControlDispatcher dispatcher);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  /// Binds and listens on `path` (creating its folder), owned by root and
  /// `group` (0660) or root alone (0600) when that group does not exist. A
  /// socket a crashed daemon left is replaced; fails (kAlreadyExists) when a
  /// live daemon answers on it, (kIo) when it cannot listen.
  Status Listen(const std::string& path, const std::string& group);
  /// Starts accepting; each request is answered on the loop.
  void Start();
  /// Stops accepting (connections already open are still answered).
  void Close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nodeagent
