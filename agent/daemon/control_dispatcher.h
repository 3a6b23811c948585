// What the control socket does with one request line, apart from the socket:
// parse it, look its op up in one table of operation -> (access it needs,
// handler), authorise the peer against that row, and run the handler. Who
// may ask what and what answers it are one row, so they cannot disagree (they
// used to be an access list and a separate if-chain that had to match). No
// asio here: tests drive it with a fake ReplyStream.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/control_protocol.h"
#include "nodeagent/result.h"

namespace nodeagent {

/// Where a request's answer goes: one line (`last`), or a stream of lines a
/// followed run keeps writing to. Never blocks; a slow reader is the
/// stream's problem (see ControlServer).
class ReplyStream {
 public:
  virtual ~ReplyStream() = default;
  /// Queues one JSON line; after `last` the stream closes once it is written.
  virtual void Send(const nlohmann::json& line, bool last = false) = 0;
};

struct ControlRequest {
  const PeerCredentials& peer;
  const nlohmann::json& body;  // an object with a string "op"
};

/// Answers one request on `out`: Send(.., true) once, or keep `out` to stream.
using ControlHandler = std::function<void(const ControlRequest&, const std::shared_ptr<ReplyStream>& out)>;

struct ControlOperation {
  std::string op;  // the request's "op"
  Access access;   // what the peer must be allowed (Authorize)
  ControlHandler handler;
};

class ControlDispatcher {
 public:
  /// Takes the table. Fails (kInvalidArgument) when an op has two rows or a
  /// row has no handler.
  static Result<ControlDispatcher> Make(std::vector<ControlOperation> table);

  /// The group whose members may read (its gid; < 0: none, root only).
  void set_reader_group(long gid) { reader_group_gid_ = gid; }

  /// Handles one request line from `peer`. A malformed line gets bad_request;
  /// an op the peer may not use gets permission_denied (an op not in the
  /// table needs kChange, so only root learns it is unknown: bad_request);
  /// a handler that throws gets an internal error. Always answers on `out`.
  void Handle(const PeerCredentials& peer, const std::string& line, const std::shared_ptr<ReplyStream>& out) const;

  /// The row of `op`, or nullptr.
  const ControlOperation* Find(const std::string& op) const;
  const std::vector<ControlOperation>& table() const { return table_; }

 private:
  explicit ControlDispatcher(std::vector<ControlOperation> table) : table_(std::move(table)) {}
  std::vector<ControlOperation> table_;
  long reader_group_gid_ = -1;
};

}  // namespace nodeagent
