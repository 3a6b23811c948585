#include "kube/retry_policy.h"

#include <catch2/catch.hpp>

using namespace nodeagent;
using namespace nodeagent::kube;
using namespace std::chrono_literals;

TEST_CASE("backoff doubles, caps and jitters") {
  RetryBudget b;  // 200ms initial, 5s cap
  CHECK(BackoffDelay(b, 1, 0.999999) == 199ms);
  CHECK(BackoffDelay(b, 1, 0.0) == 100ms);
  CHECK(BackoffDelay(b, 2, 0.0) == 200ms);
  CHECK(BackoffDelay(b, 3, 0.0) == 400ms);
  CHECK(BackoffDelay(b, 5, 0.0) == 1600ms);
  CHECK(BackoffDelay(b, 6, 0.0) == 2500ms);   // 3.2s capped at 5s, then halved
  CHECK(BackoffDelay(b, 60, 0.0) == 2500ms);  // no overflow
  CHECK(BackoffDelay(b, 60, 1.0) == 5000ms);
  CHECK(BackoffDelay(b, 2, 0.5) == 300ms);
}

TEST_CASE("Retry-After") {
  CHECK(ParseRetryAfter("3") == std::optional<std::chrono::seconds>(3s));
  CHECK(ParseRetryAfter(" 10\r\n") == std::optional<std::chrono::seconds>(10s));
  CHECK_FALSE(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
  CHECK_FALSE(ParseRetryAfter("").has_value());
  CHECK_FALSE(ParseRetryAfter("-1").has_value());
}

TEST_CASE("retryable statuses") {
  for (int s : {0, 429, 500, 502, 503, 504}) CHECK(IsRetryableStatus(s));
  for (int s : {200, 400, 401, 403, 404, 409, 410, 422, 501}) CHECK_FALSE(IsRetryableStatus(s));
}

TEST_CASE("API Status responses become typed errors") {
  struct Case {
    int status;
    std::string body;
    ErrorCode code;
    std::string reason;
    std::string message;
  };
  const std::string req = "GET https://api:6443/api/v1/nodes/n1";
  auto status = [](int code, const std::string& reason, const std::string& msg) {
    return nlohmann::json({{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"}, {"code", code},
                           {"reason", reason}, {"message", msg}})
        .dump();
  };
  std::vector<Case> cases = {
      {404, status(404, "NotFound", "nodes \"n1\" not found"), ErrorCode::kNotFound, "NotFound",
       req + ": 404 Not Found: nodes \"n1\" not found"},
      {409, status(409, "Conflict", "the object has been modified"), ErrorCode::kConflict, "Conflict",
       req + ": 409 Conflict: the object has been modified"},
      {409, status(409, "AlreadyExists", "leases \"l\" already exists"), ErrorCode::kConflict, "AlreadyExists",
       req + ": 409 Conflict: leases \"l\" already exists"},
      {403, status(403, "Forbidden", "nodes \"n1\" is forbidden: User \"u\" cannot get resource \"nodes\""),
       ErrorCode::kPermissionDenied, "Forbidden",
       req + ": 403 Forbidden: nodes \"n1\" is forbidden: User \"u\" cannot get resource \"nodes\""},
      {401, status(401, "Unauthorized", "Unauthorized"), ErrorCode::kPermissionDenied, "Unauthorized",
       req + ": 401 Unauthorized: Unauthorized (credentials rejected: check the kubeconfig's user)"},
      {410, status(410, "Expired", "too old resource version"), ErrorCode::kGone, "Expired",
       req + ": 410 Gone: too old resource version"},
      {422, status(422, "Invalid", "spec.x: Invalid value"), ErrorCode::kInvalidArgument, "Invalid",
       req + ": 422 Unprocessable Entity: spec.x: Invalid value"},
      {400, status(400, "BadRequest", "bad"), ErrorCode::kInvalidArgument, "BadRequest", req + ": 400 Bad Request: bad"},
      {429, status(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget."),
       ErrorCode::kTooManyRequests, "TooManyRequests",
       req + ": 429 Too Many Requests: Cannot evict pod as it would violate the pod's disruption budget."},
      {503, "upstream down\n", ErrorCode::kUnavailable, "", req + ": 503 Service Unavailable: upstream down"},
      {500, "", ErrorCode::kUnavailable, "", req + ": 500 Internal Server Error"},
  };
  for (const Case& c : cases) {
    KubeStatus s = ErrorFromResponse(req, c.status, c.body, std::nullopt);
    INFO(c.message);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code() == c.code);
    CHECK(s.detail().http_status == c.status);
    CHECK(s.detail().reason == c.reason);
    CHECK(s.error().message() == c.message);
  }
}

TEST_CASE("retryAfterSeconds from Status details") {
  std::string body = R"({"kind":"Status","code":429,"reason":"TooManyRequests","details":{"retryAfterSeconds":7}})";
  KubeStatus s = ErrorFromResponse("POST x", 429, body, std::nullopt);
  REQUIRE(s.detail().retry_after);
  CHECK(*s.detail().retry_after == 7s);
  KubeStatus h = ErrorFromResponse("POST x", 429, body, 2s);
  CHECK(*h.detail().retry_after == 2s);  // the header wins
}

TEST_CASE("KubeResult slices into Result") {
  auto f = []() -> Result<int> { return KubeResult<int>(Error(ErrorCode::kGone, "x"), KubeErrorDetail{410}); };
  auto r = f();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::kGone);
  KubeResult<nlohmann::json> ok = nlohmann::json{{"a", 1}};
  CHECK((*ok)["a"] == 1);
}
