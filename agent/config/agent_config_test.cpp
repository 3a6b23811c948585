#include <catch2/catch.hpp>

#include "config/agent_config.h"
#include "host/fake_host.h"
#include "host/local_file_system.h"
#include "host/local_host.h"

using namespace nodeagent;

namespace {

constexpr std::string_view kModes[] = {"fast", "safe"};
const ParamSpec kDemoParams[] = {
    {"paths", ParamType::kStringList, "", "dirs", {}, true},
    {"max_age", ParamType::kDuration, "\"10d\"", "age"},
    {"mode", ParamType::kEnum, "\"safe\"", "mode", kModes},
    {"count", ParamType::kInt, "3", "n"},
};

ActionCatalog DemoCatalog() {
  ActionCatalog c;
  ActionInfo info;
  info.name = "demo";
  info.plugin = "demo";
  info.params.assign(std::begin(kDemoParams), std::end(kDemoParams));
  info.validate = [](const Params& p) -> Status {
    for (const auto& path : p.GetList("paths"))
      if (path == "/") return InvalidArgument("paths: refusing to clean \"/\"");
    return Status::Ok();
  };
  c.Add(info);
  return c;
}

}  // namespace

TEST_CASE("syntax errors name file:line:col") {
  std::vector<ConfigProblem> problems;
  ParseConfigText("[agent]\nroot = \"/\"\nstate_dir = /var\n", "agent.toml", problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].ToString().rfind("agent.toml:3:", 0) == 0);
}

TEST_CASE("unknown keys, wrong types and bad values are errors with their place") {
  std::vector<ConfigProblem> problems;
  RawConfig raw = ParseConfigText(
      "[agent]\nstate_dri = \"/x\"\nlog_level = \"loud\"\ndemo = \"yes\"\n[bogus]\nx = 1\n", "a.toml", problems);
  REQUIRE(problems.empty());
  ParseAgentSettings(raw, problems);
  std::string all = ProblemsText(problems);
  INFO(all);
  CHECK(all.find("a.toml:2:1: agent.state_dri: unknown key; did you mean 'state_dir'?") != std::string::npos);
  CHECK(all.find("a.toml:3:13: agent.log_level: \"loud\" is not accepted; expected one of: \"trace\"") != std::string::npos);
  CHECK(all.find("a.toml:4:8: agent.demo: expected true or false, got a string") != std::string::npos);
  CHECK(all.find("a.toml:5:2: bogus: unknown section") != std::string::npos);
}

TEST_CASE("defaults are filled in and relative paths refused") {
  std::vector<ConfigProblem> problems;
  RawConfig raw = ParseConfigText("[agent]\nstate_dir = \"var/lib\"\n", "a.toml", problems);
  AgentSettings s = ParseAgentSettings(raw, problems);
  CHECK(s.socket == "/run/nodeagent/agent.sock");
  CHECK(s.history_max_runs == 1000);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("paths must be absolute") != std::string::npos);
}

TEST_CASE("tasks are validated by the action's parameter table") {
  ActionCatalog catalog = DemoCatalog();
  std::vector<ConfigProblem> problems;
  RawConfig raw = ParseConfigText(R"([tasks.ok]
action = "demo"
schedule = "@daily"
paths = ["/var/log/app"]

[tasks.bad]
action = "demo"
paths = "/"
max_age = "10 days"
mode = "quick"
colour = 1

[tasks.missing]
action = "demo"

[tasks.nope]
action = "dmeo"
paths = ["/x"]
)",
                                  "t.toml", problems);
  auto tasks = ResolveTasks(raw, catalog, problems);
  std::string all = ProblemsText(problems);
  INFO(all);
  REQUIRE(tasks.count("ok") == 1);
  CHECK(tasks["ok"].params.GetDuration("max_age") == std::chrono::hours(240));
  CHECK(tasks["ok"].params.GetString("mode") == "safe");
  CHECK(tasks["ok"].schedule == "@daily");
  CHECK(all.find("t.toml:9:11: tasks.bad.max_age: invalid duration \"10 days\"") != std::string::npos);
  CHECK(all.find("t.toml:10:8: tasks.bad.mode: \"quick\" is not accepted; expected one of: \"fast\" \"safe\"") !=
        std::string::npos);
  CHECK(all.find("t.toml:11:1: tasks.bad.colour: unknown key") != std::string::npos);
  CHECK(all.find("tasks.missing.paths: required key is missing") != std::string::npos);
  CHECK(all.find("tasks.nope.action: unknown action \"dmeo\"; did you mean 'demo'?") != std::string::npos);
}

TEST_CASE("plugin validate() runs after type checks") {
  ActionCatalog catalog = DemoCatalog();
  std::vector<ConfigProblem> problems;
  RawConfig raw = ParseConfigText("[tasks.root]\naction = \"demo\"\npaths = [\"/\"]\n", "t.toml", problems);
  ResolveTasks(raw, catalog, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].ToString() == "t.toml:1:1: tasks.root: paths: refusing to clean \"/\"");
}

TEST_CASE("conf.d files load in lexical order and later keys win") {
  TempRoot root;
  root.Write("/etc/nodeagent/agent.toml", "[agent]\nlog_level = \"info\"\nnode_name = \"a\"\n");
  root.Write("/etc/nodeagent/conf.d/20-b.toml", "[agent]\nnode_name = \"b\"\n");
  root.Write("/etc/nodeagent/conf.d/10-a.toml", "[agent]\nnode_name = \"x\"\nlog_level = \"debug\"\n");
  root.Write("/etc/nodeagent/conf.d/ignored.conf", "garbage");
  std::vector<ConfigProblem> problems;
  auto raw = LoadConfigFiles(root.Real("/etc/nodeagent/agent.toml"), false, problems);
  REQUIRE(raw.ok());
  REQUIRE(problems.empty());
  CHECK(raw->files.size() == 3);
  AgentSettings s = ParseAgentSettings(*raw, problems);
  CHECK(s.node_name == "b");
  CHECK(s.log_level == "debug");
}

TEST_CASE("a missing config file is a clear error") {
  std::vector<ConfigProblem> problems;
  auto raw = LoadConfigFiles("/nonexistent/agent.toml", false, problems);
  REQUIRE_FALSE(raw.ok());
  CHECK(raw.error().message().find("/nonexistent/agent.toml does not exist") != std::string::npos);
}

TEST_CASE("set overrides parse TOML values or fall back to strings") {
  ActionCatalog catalog = DemoCatalog();
  std::vector<ConfigProblem> problems;
  auto overrides = ParseOverrides({"paths=[\"/a\", \"/b\"]", "max_age=2d", "count=7", "bad"}, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].ToString() == "--set: bad: expected KEY=VALUE");
  problems.clear();
  Params p = ResolveRunParams(*catalog.Find("demo"), nullptr, overrides.get(), "demo", problems);
  INFO(ProblemsText(problems));
  REQUIRE(problems.empty());
  CHECK(p.GetList("paths") == std::vector<std::string>{"/a", "/b"});
  CHECK(p.GetDuration("max_age") == std::chrono::hours(48));
  CHECK(p.GetInt("count") == 7);
}

TEST_CASE("node name: kubelet --hostname-override wins over the hostname") {
  TempRoot root;
  LocalFileSystem fs(root.path());
  FakeCommandRunner cmds;
  FakeClock clock;
  LocalHost host(fs, cmds, clock);
  root.Write("/proc/sys/kernel/hostname", "Worker-7\n");
  CHECK(ResolveNodeName(host) == "worker-7");
  root.Write("/var/lib/kubelet/kubeadm-flags.env",
             "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=x --hostname-override=Node-A --pod-infra=y\"\n");
  CHECK(ResolveNodeName(host) == "node-a");
}

TEST_CASE("[[notify]] targets: typed keys, defaults, and errors with their place") {
  std::vector<ConfigProblem> problems;
  RawConfig raw = ParseConfigText(
      "[[notify]]\nurl = \"https://hooks.example/services/SECRETTOKEN\"\nformat = \"teams\"\n"
      "events = [\"reboot\", \"failure\"]\ntimeout = \"2s\"\nretries = 5\nname = \"ops\"\n"
      "[[notify]]\nurl = \"http://127.0.0.1:9/x\"\n",
      "n.toml", problems);
  REQUIRE(problems.empty());
  AgentSettings s = ParseAgentSettings(raw, problems);
  INFO(ProblemsText(problems));
  REQUIRE(problems.empty());
  REQUIRE(s.notify.size() == 2);
  CHECK(s.notify[0].name == "ops");
  CHECK(s.notify[0].format == NotifyFormat::kTeams);
  CHECK(s.notify[0].events == std::vector<std::string>{"reboot", "failure"});
  CHECK(s.notify[0].timeout == std::chrono::seconds(2));
  CHECK(s.notify[0].retries == 5);
  CHECK(s.notify[1].name == "notify[1]");
  CHECK(s.notify[1].format == NotifyFormat::kJson);
  CHECK(s.notify[1].events.empty());
  CHECK(s.notify[1].timeout == std::chrono::seconds(5));
  CHECK(s.notify[1].retries == 3);
  // config show: the URL redacted, its host kept for recognition.
  std::string shown = RenderEffectiveConfig(s, {});
  INFO(shown);
  CHECK(shown.find("SECRETTOKEN") == std::string::npos);
  CHECK(shown.find("[[notify]]\nname = 'ops'\nurl = '<redacted>'  # https://hooks.example/...") != std::string::npos);
  CHECK(shown.find("https://hooks.example") != std::string::npos);

  problems.clear();
  raw = ParseConfigText(
      "[[notify]]\nurl = \"ftp://h/SECRETTOKEN\"\n[[notify]]\nformat = \"xml\"\nurl = \"http://h/\"\n"
      "[[notify]]\nurl = \"http://h/\"\ntimeout = \"5m\"\nretries = 99\nbogus = 1\n[[notify]]\nname = \"x\"\n",
      "bad.toml", problems);
  REQUIRE(problems.empty());
  s = ParseAgentSettings(raw, problems);
  std::string all = ProblemsText(problems);
  INFO(all);
  CHECK(s.notify.empty());
  CHECK(all.find("bad.toml:2:7: notify[0].url: expected an http:// or https:// URL") != std::string::npos);
  CHECK(all.find("SECRETTOKEN") == std::string::npos);
  CHECK(all.find("bad.toml:4:10: notify[1].format:") != std::string::npos);
  CHECK(all.find("bad.toml:8:11: notify[2].timeout:") != std::string::npos);
  CHECK(all.find("bad.toml:9:11: notify[2].retries:") != std::string::npos);
  CHECK(all.find("bad.toml:10:1: notify[2].bogus: unknown key") != std::string::npos);
  CHECK(all.find("notify[3].url:") != std::string::npos);  // required

  problems.clear();
  raw = ParseConfigText("[notify]\nurl = \"http://h/\"\n", "t.toml", problems);
  ParseAgentSettings(raw, problems);
  CHECK(ProblemsText(problems).find("t.toml:1:1: notify: expected an array of tables") != std::string::npos);
}

TEST_CASE("[[notify]] tables of conf.d files add targets to those of agent.toml") {
  TempRoot root;
  root.Write("/etc/nodeagent/agent.toml", "[[notify]]\nname = \"main\"\nurl = \"http://a/\"\n");
  root.Write("/etc/nodeagent/conf.d/10-chat.toml", "[[notify]]\nname = \"chat\"\nurl = \"https://b/\"\n");
  std::vector<ConfigProblem> problems;
  auto raw = LoadConfigFiles(root.Real("/etc/nodeagent/agent.toml"), false, problems);
  REQUIRE(raw.ok());
  AgentSettings s = ParseAgentSettings(*raw, problems);
  INFO(ProblemsText(problems));
  REQUIRE(problems.empty());
  REQUIRE(s.notify.size() == 2);
  CHECK(s.notify[0].name == "main");
  CHECK(s.notify[1].name == "chat");
}
