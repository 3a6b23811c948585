#include "reboot_blockers.h"

#include <catch2/catch.hpp>

#include "fake_kube_client.h"

using namespace nodeagent;
using namespace nodeagent::drain;

namespace {

class FakeHttpClient : public HttpClient {
 public:
  HttpResponse answer;
  std::vector<std::string> urls, bodies;
  Result<HttpResponse> Send(const HttpRequest& r) override {
    urls.push_back(r.url);
    if (r.method != "GET") bodies.push_back(r.body);
    return answer;
  }
};

std::string Alerts(std::initializer_list<std::pair<const char*, const char*>> alerts) {
  nlohmann::json a = nlohmann::json::array();
  for (auto [name, state] : alerts) a.push_back({{"labels", {{"alertname", name}}}, {"state", state}});
  return nlohmann::json{{"status", "success"}, {"data", {{"alerts", a}}}}.dump();
}

}  // namespace

TEST_CASE("Prometheus blocker: firing alerts matching the regex block", "[blockers]") {
  struct Case {
    const char* name;
    std::string body;
    std::string regex;
    bool blocked;
  } cases[] = {
      {"no alerts", Alerts({}), "", false},
      {"any firing alert blocks with an empty regex", Alerts({{"Watchdog", "firing"}}), "", true},
      {"pending alerts do not block", Alerts({{"NodeDown", "pending"}}), "", false},
      {"non-matching firing alert does not block", Alerts({{"Watchdog", "firing"}}), "Node.*", false},
      {"matching firing alert blocks", Alerts({{"Watchdog", "firing"}, {"NodeDiskFull", "firing"}}), "Node.*", true},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      FakeHttpClient http;
      http.answer = {200, c.body};
      PrometheusBlocker b(http, "http://prom:9090/", c.regex);
      auto r = b.Check();
      REQUIRE(r);
      CHECK(r->blocked == c.blocked);
      CHECK(http.urls == std::vector<std::string>{"http://prom:9090/api/v1/alerts"});
      if (c.blocked) CHECK(r->why.find("firing") != std::string::npos);
    }
  }
  SECTION("an unreachable or broken Prometheus is an error (callers block)") {
    FakeHttpClient http;
    http.answer = {503, ""};
    CHECK_FALSE(PrometheusBlocker(http, "http://prom", "").Check().ok());
    http.answer = {200, "not json"};
    CHECK_FALSE(PrometheusBlocker(http, "http://prom", "").Check().ok());
  }
}

TEST_CASE("pod blocker: a running pod matching the selector on the node blocks", "[blockers]") {
  FakeKubeClient kube;
  PodBlocker b(kube, "node-1", "app=etl");
  auto r = b.Check();
  REQUIRE(r);
  CHECK_FALSE(r->blocked);
  CHECK(kube.last_pod_list.field_selector == "spec.nodeName=node-1");
  CHECK(kube.last_pod_list.label_selector == "app=etl");
  kube.pods["items"].push_back({{"metadata", {{"name", "done"}, {"namespace", "b"}}}, {"status", {{"phase", "Succeeded"}}}});
  CHECK_FALSE(b.Check()->blocked);
  kube.pods["items"].push_back({{"metadata", {{"name", "etl-1"}, {"namespace", "b"}}}, {"status", {{"phase", "Running"}}}});
  r = b.Check();
  CHECK(r->blocked);
  CHECK(r->why.find("b/etl-1") != std::string::npos);
}

