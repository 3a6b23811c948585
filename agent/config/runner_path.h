// Where the nodeagent-runner binary is. Everything that needs libcurl (the
// daemon's per-run workers, agentctl's local half) lives in that one binary so
// the resident daemon and the thin agentctl never map it. Both find it the
// same way: relative to their own executable, so a build tree (bin/ holds all
// three) and an install (/usr/sbin, /usr/bin -> /usr/libexec/nodeagent) both
// work without configuration.
#pragma once

#include <string>
#include <vector>

#include "nodeagent/result.h"

namespace nodeagent {

inline constexpr const char* kRunnerName = "nodeagent-runner";

/// This process's executable (/proc/self/exe); empty when it cannot be read.
std::string SelfExe();

/// In order: $NODEAGENT_RUNNER, beside `self_exe`, `self_exe`/../libexec/nodeagent/,
/// /usr/libexec/nodeagent/.
std::vector<std::string> RunnerCandidates(const std::string& self_exe);
/// The first executable candidate for this process (/proc/self/exe), or
/// kNotFound listing where it looked.
Result<std::string> FindRunner();

}  // namespace nodeagent
