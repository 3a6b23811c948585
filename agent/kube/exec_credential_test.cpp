#include "kube/exec_credential.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "host/fake_host.h"

using namespace nodeagent;
using namespace nodeagent::kube;
using namespace std::chrono_literals;

namespace {

CommandResult Output(const std::string& out, int code = 0) {
  CommandResult r;
  r.exit_code = code;
  r.stdout_data = out;
  return r;
}

std::string Credential(const std::string& token, const std::string& expiry) {
  nlohmann::json j = {{"apiVersion", "client.authentication.k8s.io/v1"}, {"kind", "ExecCredential"},
                      {"status", {{"token", token}}}};
  if (!expiry.empty()) j["status"]["expirationTimestamp"] = expiry;
  return j.dump();
}

ExecConfig Plugin() {
  ExecConfig c;
  c.api_version = "client.authentication.k8s.io/v1";
  c.command = "/usr/bin/cred";
  c.args = {"token"};
  c.env = {{"REGION", "eu"}};
  c.provide_cluster_info = true;
  return c;
}

}  // namespace

TEST_CASE("exec credential: cached until expirationTimestamp") {
  FakeClock clock(std::chrono::system_clock::from_time_t(1'800'000'000));  // 2027-01-15T08:00:00Z
  FakeCommandRunner runner;
  int n = 0;
  runner.AnswerWith({"/usr/bin/cred"}, [&](const CommandSpec& spec) -> Result<CommandResult> {
    ++n;
    CHECK(spec.env.at("REGION") == "eu");
    auto info = nlohmann::json::parse(spec.env.at("KUBERNETES_EXEC_INFO"));
    CHECK(info["kind"] == "ExecCredential");
    CHECK(info["spec"]["interactive"] == false);
    CHECK(info["spec"]["cluster"]["server"] == "https://api:6443");
    CHECK(DecodeBase64(info["spec"]["cluster"]["certificate-authority-data"].get<std::string>()) ==
          std::optional<std::string>("CA-PEM\n"));
    return Output(Credential("tok" + std::to_string(n), "2027-01-15T08:10:00Z"));
  });
  ExecCredentialProvider p(Plugin(), "https://api:6443", "CA-PEM\n", runner, clock);
  auto a = p.Get();
  REQUIRE(a.ok());
  CHECK(a->token == "tok1");
  clock.Advance(9min);
  CHECK(p.Get()->token == "tok1");
  CHECK(p.runs() == 1);
  clock.Advance(1min);  // now == expiry: expired
  CHECK(p.Get()->token == "tok2");
  CHECK(p.runs() == 2);
  CHECK(runner.call_lines() == std::vector<std::string>{"/usr/bin/cred token", "/usr/bin/cred token"});
}

TEST_CASE("exec credential: no expiry caches until invalidated") {
  FakeClock clock;
  FakeCommandRunner runner;
  int n = 0;
  runner.AnswerWith({"/usr/bin/cred"}, [&](const CommandSpec&) -> Result<CommandResult> {
    return Output(Credential("t" + std::to_string(++n), ""));
  });
  ExecCredentialProvider p(Plugin(), "https://api", "", runner, clock);
  CHECK(p.Get()->token == "t1");
  clock.Advance(std::chrono::hours(1000));
  CHECK(p.Get()->token == "t1");
  p.Invalidate();
  CHECK(p.Get()->token == "t2");
}

TEST_CASE("exec credential: failures name the plugin, not the secret") {
  FakeClock clock;
  FakeCommandRunner runner;
  SECTION("non-zero exit") {
    CommandResult r = Output("", 3);
    r.stderr_data = "login required\n";
    runner.Answer({"/usr/bin/cred"}, r);
    ExecCredentialProvider p(Plugin(), "https://api", "", runner, clock);
    auto got = p.Get();
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().message() == "exec credential plugin /usr/bin/cred: exited with status 3: login required");
  }
  SECTION("not found") {
    ExecCredentialProvider p(Plugin(), "https://api", "", runner, clock);
    auto got = p.Get();
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code() == ErrorCode::kUnavailable);
    CHECK(got.error().message().find("exec credential plugin /usr/bin/cred: cannot run") == 0);
  }
  SECTION("bad output") {
    runner.Answer({"/usr/bin/cred"}, Output("{\"kind\":\"ExecCredential\",\"status\":{\"token\":\"sekrit\","
                                            "\"expirationTimestamp\":\"tomorrow\"}}"));
    ExecCredentialProvider p(Plugin(), "https://api", "", runner, clock);
    auto got = p.Get();
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().message().find("expirationTimestamp \"tomorrow\" is not RFC 3339") != std::string::npos);
    CHECK(got.error().message().find("sekrit") == std::string::npos);
  }
}

TEST_CASE("ExecCredential parsing") {
  struct Case {
    std::string text;
    bool ok;
    std::string want;
  };
  std::vector<Case> cases = {
      {"not json", false, "not an ExecCredential JSON object"},
      {R"({"kind":"Other"})", false, "kind is \"Other\""},
      {R"({"kind":"ExecCredential"})", false, "has no status"},
      {R"({"kind":"ExecCredential","status":{}})", false, "neither token nor clientCertificateData"},
      {R"({"kind":"ExecCredential","status":{"clientCertificateData":"C"}})", false, "needs both"},
      {R"({"kind":"ExecCredential","status":{"clientCertificateData":"C","clientKeyData":"K"}})", true, ""},
      {R"({"kind":"ExecCredential","status":{"token":"T","expirationTimestamp":"2026-01-02T03:04:05Z"}})", true, ""},
  };
  for (const auto& c : cases) {
    auto r = ParseExecCredential(c.text, "plugin");
    INFO(c.text);
    CHECK(r.ok() == c.ok);
    if (!r.ok()) CHECK(r.error().message().find(c.want) != std::string::npos);
  }
}

TEST_CASE("RFC 3339 timestamps") {
  using std::chrono::system_clock;
  auto t = [](const char* s) { return ParseRfc3339(s); };
  CHECK(t("1970-01-01T00:00:00Z") == system_clock::from_time_t(0));
  CHECK(t("2026-01-02T03:04:05Z") == system_clock::from_time_t(1767323045));
  CHECK(t("2026-01-02T05:04:05+02:00") == system_clock::from_time_t(1767323045));
  CHECK(t("2026-01-02T03:04:05.500Z") == system_clock::from_time_t(1767323045) + 500ms);
  CHECK_FALSE(t("2026-01-02").has_value());
  CHECK_FALSE(t("2026-13-02T03:04:05Z").has_value());
  CHECK_FALSE(t("2026-01-02T03:04:05").has_value());
  CHECK_FALSE(t("2026-01-02T03:04:05.Z").has_value());
}
