#include <catch2/catch.hpp>

#include "ctl/agentctl_cli.h"
#include "ctl/output.h"

using namespace nodeagent;
using json = nlohmann::json;

TEST_CASE("audit --since takes a duration back from now or a time with its zone") {
  const int64_t now = 1'796'551'200'000;  // 2026-12-06T10:00:00Z
  CHECK(*ParseSince("2h", now) == now - 2 * 3'600'000);
  CHECK(*ParseSince("1d", now) == now - 86'400'000);
  CHECK(*ParseSince("2026-12-06T10:00:00Z", now) == now);
  CHECK(*ParseSince("2026-12-06T10:00:00.250Z", now) == now + 250);
  CHECK(*ParseSince("2026-12-06T11:30:00+01:30", now) == now);
  CHECK(*ParseSince("2026-12-06T08:00:00-02:00", now) == now);
  for (const char* bad : {"yesterday", "2026-12-06", "2026-12-06T10:00:00", "2026-12-06T10:00:00+1", ""}) {
    INFO(bad);
    auto r = ParseSince(bad, now);
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find("2026-12-06T10:00:00Z") != std::string::npos);
  }
}

TEST_CASE("audit table says what changed in a few words") {
  json file = {{"kind", "file"}, {"op", "write"}, {"path", "/etc/x"}, {"sha256_before", nullptr},
               {"sha256_after", "0123456789abcdef0123"}, {"reported_by", "core"}};
  CHECK(AuditWhat(file) == "write /etc/x sha256 - -> 0123456789ab");
  json cmd = {{"kind", "command"}, {"op", "run"}, {"argv", {"/usr/sbin/swapoff", "-a"}}, {"exit_code", 0}};
  CHECK(AuditWhat(cmd) == "/usr/sbin/swapoff -a -> exit 0");
  json kube = {{"kind", "kube"}, {"op", "evict"}, {"resource", "pods"}, {"namespace", "web"}, {"name", "p1"},
               {"subresource", "eviction"}};
  CHECK(AuditWhat(kube) == "evict pods/web/p1 (eviction)");
  json reported = {{"kind", "file"}, {"op", "delete"}, {"target", "/var/log/a.log"},
                   {"objects", {"file:/var/log/a.log"}}, {"reported_by", "action"}};
  CHECK(AuditWhat(reported) == "delete /var/log/a.log [file:/var/log/a.log] (reported by the action)");
  json answer = {{"entries", {cmd}}, {"left_off", 3}};
  std::string table = RenderAudit(answer);
  CHECK(table.find("TIME") == 0);
  CHECK(table.find("/usr/sbin/swapoff -a -> exit 0") != std::string::npos);
  CHECK(table.find("(3 older entries left out") != std::string::npos);
  CHECK(RenderAudit(json{{"entries", json::array()}}).find("(no changes recorded)") != std::string::npos);
}
