// When to try an API call again and how long to wait. Kept apart from the
// HTTP code so that the arithmetic (exponential backoff with jitter, the
// retry budget, Retry-After) is tested directly, and the HTTP-status-to-error
// mapping lives in one table.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "nodeagent/kube.h"
#include "nodeagent/result.h"

namespace nodeagent::kube {

/// Bounds retries of one call. Default: 5 attempts within 30 s, backoff
/// 200 ms doubling up to 5 s.
struct RetryBudget {
  int max_attempts = 5;
  std::chrono::milliseconds max_total{30'000};
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{5'000};
};

/// Wait before retry number `retry` (1 = the first retry): initial * 2^(retry-1)
/// capped at max_backoff, scaled into [50%, 100%] by `jitter` in [0, 1).
std::chrono::milliseconds BackoffDelay(const RetryBudget& budget, int retry, double jitter);

/// Retry-After as delta-seconds ("3"). HTTP dates and junk give nullopt.
std::optional<std::chrono::seconds> ParseRetryAfter(const std::string& value);

/// Worth retrying: 429 and 5xx except 501 (0 = connection failure: always).
bool IsRetryableStatus(int http_status);

/// "Service Unavailable" for 503; "" for unknown codes.
const char* HttpReasonPhrase(int http_status);

/// Maps an HTTP error response (body: a metav1.Status, or anything) to an
/// Error and its detail. `request` is "GET https://.../api/v1/nodes/n1".
/// Message: "<request>: 404 Not Found: nodes \"n1\" not found".
KubeStatus ErrorFromResponse(const std::string& request, int http_status, const std::string& body,
                             std::optional<std::chrono::seconds> retry_after);

/// "2.5s": a duration in messages (give-up errors).
std::string FormatSeconds1(std::chrono::milliseconds d);

/// The ErrorCode for an HTTP status (see KubeErrorDetail).
ErrorCode CodeForHttpStatus(int http_status);

}  // namespace nodeagent::kube
