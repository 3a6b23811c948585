// agentctl's side of the control socket: connect, send one request, read
// JSON lines until the daemon closes. Plain POSIX sockets, so a status round
// trip costs a connect, a write and a read.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "nodeagent/result.h"

namespace nodeagent {

/// Sends `request` to the daemon at `socket_path`; calls `on_line` for each
/// line received until the connection closes or `on_line` returns false.
/// kUnavailable when the daemon cannot be reached (message says why and what
/// to try: --local, systemctl status nodeagent).
Status CallDaemon(const std::string& socket_path, const nlohmann::json& request,
                  const std::function<bool(const nlohmann::json&)>& on_line);

/// Convenience: the first line of the answer.
Result<nlohmann::json> CallDaemonOnce(const std::string& socket_path, const nlohmann::json& request);

}  // namespace nodeagent
