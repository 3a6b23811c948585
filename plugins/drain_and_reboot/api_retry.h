// How drain-and-reboot waits out a slow or failing API server, in one place
// for the lock's waiting loop (lease_lock) and the coordinator's first reads
// and last writes (reboot_coordinator): which failures are worth another try
// and how long to wait before it. The client already retries each call within
// its own budget (agent/kube/retry_policy.h); these are the run's retries
// around it, for an API server that stays away longer than that budget.
#pragma once

#include <chrono>
#include <random>

#include "nodeagent/result.h"

namespace nodeagent::drain {

/// A failure worth waiting out (the API server restarting, 429, 5xx, a
/// timeout, a lost race); anything else (RBAC, a bad request, an object that
/// is gone, an answer too large, a cancelled run) ends the wait.
inline bool WorthWaitingOut(ErrorCode c) {
  return c != ErrorCode::kPermissionDenied && c != ErrorCode::kInvalidArgument && c != ErrorCode::kCancelled &&
         c != ErrorCode::kTooLarge && c != ErrorCode::kNotFound;
}

/// Only a slow, throttled or unreachable API server (a timeout, 5xx or no
/// connection, 429): for reads, where a conflict or a 404 is an answer.
inline bool ServerBusy(ErrorCode c) {
  return c == ErrorCode::kTimeout || c == ErrorCode::kUnavailable || c == ErrorCode::kTooManyRequests;
}

/// The wait before retry number `attempt` (1 = the first): 2^attempt
/// seconds, jittered down to half of that (1-2 s, 2-4 s, 4-8 s, ...).
inline std::chrono::milliseconds RetryWait(int attempt, std::minstd_rand& rng) {
  const auto base = std::chrono::milliseconds(1000LL << attempt);
  return base / 2 + std::chrono::milliseconds(rng() % (base.count() / 2 + 1));
}

}  // namespace nodeagent::drain
