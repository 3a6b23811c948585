#include "host/system_clock.h"

#include <atomic>
#include <thread>

namespace nodeagent {

bool SystemClock::SleepFor(std::chrono::milliseconds d, const bool* cancelled) {
  auto until = std::chrono::steady_clock::now() + d;
  for (;;) {
    if (cancelled && std::atomic_ref<const bool>(*cancelled).load()) return false;
    auto now = std::chrono::steady_clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds(100)));
  }
}

}  // namespace nodeagent
