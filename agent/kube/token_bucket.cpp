#include "kube/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace nodeagent::kube {

TokenBucket::TokenBucket(double qps, int burst, Clock& clock)
    : qps_(qps), burst_(std::max(1, burst)), clock_(clock), tokens_(burst_), last_(clock.Monotonic()) {}

std::chrono::milliseconds TokenBucket::Reserve() {
  if (qps_ <= 0) return std::chrono::milliseconds(0);
  std::lock_guard<std::mutex> lock(mu_);
  auto now = clock_.Monotonic();
  double elapsed = std::chrono::duration<double>(now - last_).count();
  if (elapsed > 0) {
    tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
    last_ = now;
  }
  tokens_ -= 1;  // may go negative: that debt is the wait
  if (tokens_ >= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(-tokens_ / qps_ * 1000.0)));
}

bool TokenBucket::Acquire(const bool* cancelled) {
  auto wait = Reserve();
  if (wait.count() == 0) return true;
  return clock_.SleepFor(wait, cancelled);
}

}  // namespace nodeagent::kube
