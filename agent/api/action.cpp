#include "nodeagent/action.h"

namespace nodeagent {

const char* RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kOk: return "ok";
    case RunStatus::kChanged: return "changed";
    case RunStatus::kFailed: return "failed";
    case RunStatus::kSkipped: return "skipped";
    case RunStatus::kInterrupted: return "interrupted";
    case RunStatus::kRunning: return "running";
  }
  return "unknown";
}

std::optional<RunStatus> ParseRunStatus(std::string_view name) {
  for (RunStatus s : {RunStatus::kOk, RunStatus::kChanged, RunStatus::kFailed, RunStatus::kSkipped,
                      RunStatus::kInterrupted, RunStatus::kRunning}) {
    if (name == RunStatusName(s)) return s;
  }
  return std::nullopt;
}

const char* SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kError: return "error";
  }
  return "unknown";
}

}  // namespace nodeagent
