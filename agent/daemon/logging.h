// Where the agent's own log lines go: the systemd journal when systemd started
// us, stderr otherwise. Run log lines carry "[action run-id]" in the message.
#pragma once

#include <string>

namespace nodeagent {

/// Sets up spdlog's default logger. `force_stderr` for foreground/demo use.
void SetupLogging(const std::string& level, bool force_stderr);
/// True when stderr goes to the journal or systemd started this process.
bool UnderSystemd();

}  // namespace nodeagent
