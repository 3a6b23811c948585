// Receives a run's live output as it happens: the daemon forwards it to
// followers over the socket, agentctl prints it, a worker streams it back.
#pragma once

#include <string_view>

#include "state/run_record.h"

namespace nodeagent {

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void OnLog(const LogLine& line) = 0;
  virtual void OnProgress(std::string_view message, double fraction) = 0;
};

}  // namespace nodeagent
