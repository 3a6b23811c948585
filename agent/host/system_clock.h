// The real Clock: system and steady clocks, and a sleep that wakes up for
// cancellation. The only place in nodeagent that reads the time of day.
#pragma once

#include "nodeagent/host.h"

namespace nodeagent {

class SystemClock : public Clock {
 public:
  std::chrono::system_clock::time_point Now() override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point Monotonic() override { return std::chrono::steady_clock::now(); }
  bool SleepFor(std::chrono::milliseconds d, const bool* cancelled) override;
};

}  // namespace nodeagent
