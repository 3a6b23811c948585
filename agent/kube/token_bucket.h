// The client-side rate limit (QPS and burst), so that a drain of a hundred
// pods or a reconnect storm does not hammer the API server. A classic token
// bucket on the Clock seam's monotonic time: `burst` requests go at once, then
// `qps` per second.
#pragma once

#include <chrono>
#include <mutex>

#include "nodeagent/host.h"

namespace nodeagent::kube {

class TokenBucket {
 public:
  /// qps <= 0 disables the limit. burst < 1 is treated as 1.
  TokenBucket(double qps, int burst, Clock& clock);

  /// Takes one token and returns how long the caller must wait before using
  /// it (0 when one was available). Reservations queue up fairly.
  std::chrono::milliseconds Reserve();
  /// Reserve() and sleep it off. False when `cancelled` fired first.
  bool Acquire(const bool* cancelled = nullptr);

 private:
  double qps_;
  double burst_;
  Clock& clock_;
  std::mutex mu_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace nodeagent::kube
