#include "daemon/control_dispatcher.h"

#include <set>

#include "spdlog/spdlog.h"

namespace nodeagent {

Result<ControlDispatcher> ControlDispatcher::Make(std::vector<ControlOperation> table) {
  std::set<std::string> seen;
  for (const ControlOperation& row : table) {
    if (!seen.insert(row.op).second)
      return Error(ErrorCode::kInvalidArgument, "control operation '" + row.op + "' has two rows");
    if (!row.handler) return Error(ErrorCode::kInvalidArgument, "control operation '" + row.op + "' has no handler");
  }
  return ControlDispatcher(std::move(table));
}

const ControlOperation* ControlDispatcher::Find(const std::string& op) const {
  for (const ControlOperation& row : table_)
    if (row.op == op) return &row;
  return nullptr;
}

void ControlDispatcher::Handle(const PeerCredentials& peer, const std::string& line,
                               const std::shared_ptr<ReplyStream>& out) const {
  nlohmann::json req = nlohmann::json::parse(line, nullptr, false);
  if (req.is_discarded() || !req.is_object() || !req.contains("op") || !req["op"].is_string()) {
    out->Send(ErrorReply("bad_request", "expected one JSON object with an \"op\" on one line"), true);
    return;
  }
  std::string op = req["op"];
  const ControlOperation* row = Find(op);
  // An unknown op needs the most: only root is told it does not exist.
  std::string refusal = Authorize(peer, row ? row->access : Access::kChange, reader_group_gid_);
  if (!refusal.empty()) {
    spdlog::warn("refused '{}' from uid {} (pid {}): {}", op, peer.uid, peer.pid, refusal);
    out->Send(ErrorReply("permission_denied", refusal), true);
    return;
  }
  if (!row) {
    out->Send(ErrorReply("bad_request", "unknown op '" + op + "'"), true);
    return;
  }
  try {
    row->handler(ControlRequest{peer, req}, out);
  } catch (const std::exception& e) {
    spdlog::error("request '{}' failed: {}", op, e.what());
    out->Send(ErrorReply("error", std::string("internal error: ") + e.what()), true);
  }
}

}  // namespace nodeagent
