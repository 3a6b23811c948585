#include "kube/retry_policy.h"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace nodeagent::kube {

std::chrono::milliseconds BackoffDelay(const RetryBudget& budget, int retry, double jitter) {
  double base = static_cast<double>(budget.initial_backoff.count());
  for (int i = 1; i < retry && base < budget.max_backoff.count(); ++i) base *= 2;
  base = std::min(base, static_cast<double>(budget.max_backoff.count()));
  jitter = std::clamp(jitter, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(base * (0.5 + 0.5 * jitter)));
}

std::optional<std::chrono::seconds> ParseRetryAfter(const std::string& value) {
  size_t b = value.find_first_not_of(" \t");
  size_t e = value.find_last_not_of(" \t\r\n");
  if (b == std::string::npos) return std::nullopt;
  std::string v = value.substr(b, e - b + 1);
  if (v.empty() || v.size() > 9) return std::nullopt;
  for (char c : v)
    if (c < '0' || c > '9') return std::nullopt;
  return std::chrono::seconds(std::stoll(v));
}

std::string FormatSeconds1(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

bool IsRetryableStatus(int s) { return s == 0 || s == 429 || (s >= 500 && s != 501); }

const char* HttpReasonPhrase(int s) {
  switch (s) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
  }
  return "";
}

ErrorCode CodeForHttpStatus(int s) {
  switch (s) {
    case 400:
    case 422: return ErrorCode::kInvalidArgument;
    case 401:
    case 403: return ErrorCode::kPermissionDenied;
    case 404: return ErrorCode::kNotFound;
    case 409: return ErrorCode::kConflict;
    case 410: return ErrorCode::kGone;
    case 429: return ErrorCode::kTooManyRequests;
    case 504: return ErrorCode::kTimeout;
  }
  if (s == 0 || s >= 500) return ErrorCode::kUnavailable;
  return ErrorCode::kInternal;
}

KubeStatus ErrorFromResponse(const std::string& request, int http_status, const std::string& body,
                             std::optional<std::chrono::seconds> retry_after) {
  KubeErrorDetail d;
  d.http_status = http_status;
  d.retry_after = retry_after;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.value("kind", "") == "Status") {
    d.reason = j.value("reason", "");
    d.status_message = j.value("message", "");
    if (!d.retry_after && j.contains("details") && j["details"].is_object() &&
        j["details"].contains("retryAfterSeconds") && j["details"]["retryAfterSeconds"].is_number_integer())
      d.retry_after = std::chrono::seconds(j["details"]["retryAfterSeconds"].get<int64_t>());
  } else if (!body.empty() && body.size() < 200 && body.find('\0') == std::string::npos) {
    d.status_message = body;  // a proxy's plain-text error
    while (!d.status_message.empty() && (d.status_message.back() == '\n' || d.status_message.back() == ' '))
      d.status_message.pop_back();
  }
  std::string msg = request + ": " + std::to_string(http_status);
  if (const char* phrase = HttpReasonPhrase(http_status); *phrase) msg += std::string(" ") + phrase;
  if (!d.status_message.empty()) msg += ": " + d.status_message;
  if (http_status == 401) msg += " (credentials rejected: check the kubeconfig's user)";
  return KubeStatus(Error(CodeForHttpStatus(http_status), msg), d);
}

}  // namespace nodeagent::kube
