#include <catch2/catch.hpp>

#include "daemon/metrics_listener.h"

using namespace nodeagent;

namespace {

std::string Ask(const std::string& head, int* renders = nullptr) {
  return AnswerMetricsRequest(head, [renders] {
    if (renders) ++*renders;
    return std::string("nodeagent_up 1\n");
  });
}

}  // namespace

TEST_CASE("GET /metrics answers the exposition text, closed after", "[metrics_listener]") {
  int renders = 0;
  std::string a = Ask("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &renders);
  CHECK(renders == 1);
  CHECK(a.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK_THAT(a, Catch::Contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  CHECK_THAT(a, Catch::Contains("\r\nContent-Length: 15\r\n"));
  CHECK_THAT(a, Catch::Contains("\r\nConnection: close\r\n"));
  CHECK(a.ends_with("\r\n\r\nnodeagent_up 1\n"));
  CHECK(Ask("GET /metrics?name[]=x HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200 OK\r\n"));
}

TEST_CASE("HEAD /metrics has the headers of GET and no body", "[metrics_listener]") {
  std::string a = Ask("HEAD /metrics HTTP/1.1\r\n\r\n");
  CHECK(a.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK_THAT(a, Catch::Contains("\r\nContent-Length: 15\r\n"));
  CHECK(a.ends_with("\r\n\r\n"));
}

TEST_CASE("other paths, methods and malformed heads are refused without rendering", "[metrics_listener]") {
  struct Case {
    const char* head;
    const char* status;
  };
  const Case cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n"},
      {"GET /metricsx HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n"},
      {"POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n"},
      {"DELETE /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n"},
      {"GET /metrics\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
      {"GET /metrics HTTP/2\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
      {"GET  /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
      {" /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
      {"\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
  };
  for (const auto& c : cases) {
    INFO(c.head);
    int renders = 0;
    std::string a = Ask(c.head, &renders);
    CHECK(a.starts_with(c.status));
    CHECK(renders == 0);
    CHECK_THAT(a, Catch::Contains("\r\nConnection: close\r\n"));
  }
  CHECK_THAT(Ask("PUT /metrics HTTP/1.1\r\n\r\n"), Catch::Contains("\r\nAllow: GET, HEAD\r\n"));
}
