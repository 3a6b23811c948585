#include <sys/stat.h>

#include <mutex>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "config/agent_config.h"
#include "host/fake_host.h"
#include "host/local_file_system.h"
#include "host/local_host.h"
#include "host/process_command_runner.h"
#include "host/system_clock.h"
#include "loader/plugin_loader.h"
#include "nodeagent/plugin.h"
#include "audit/sha256.h"
#include "runner/plan_fingerprint.h"
#include "runner/run_executor.h"
#include "testing/fake_kube_client.h"

using namespace nodeagent;

namespace {

struct Fixture {
  TempRoot root;
  LocalFileSystem files{root.path()};
  FakeCommandRunner commands;
  SystemClock clock;
  LocalHost host{files, commands, clock};
  ActionCatalog catalog;
  AgentSettings settings;
  RawConfig raw;
  std::map<std::string, TaskConfig> tasks;
  HistoryStore history{root.Real("/state")};
  AuditLog audit{root.Real("/state/audit")};
  std::vector<ConfigProblem> problems;

  explicit Fixture(const std::string& config = "") {
    root.Write("/proc/sys/kernel/random/boot_id", "boot-1\n");
    LoadPlugins({TEST_PLUGIN_DIR, "", false}, catalog);
    raw = ParseConfigText(config, "agent.toml", problems);
    settings = ParseAgentSettings(raw, problems);
    settings.node_name = "node-1";
    tasks = ResolveTasks(raw, catalog, problems);
    REQUIRE(history.Init().ok());
  }
  RunExecutor Executor() { return RunExecutor(settings, raw, tasks, catalog, host, history, {}, &audit); }
  std::vector<nlohmann::json> AuditEntries() {
    auto read = ReadAuditLog(audit.dir(), {});
    REQUIRE(read);
    CHECK(read->skipped_lines == 0);
    return read->entries;
  }
};

struct Recorder : RunObserver {
  std::vector<std::string> logs;
  void OnLog(const LogLine& l) override { logs.push_back(l.message); }
  void OnProgress(std::string_view, double) override {}
};

}  // namespace

TEST_CASE("modules that crash or hang while loading are caught by the probe and skipped") {
  ActionCatalog catalog;
  LoadPlugins({CRASH_PLUGIN_DIR, "", false, RUNNER_EXE}, catalog);  // without the probe this process would die
  REQUIRE(catalog.problems.size() == 2);
  CHECK(catalog.problems[0].file == std::string(CRASH_PLUGIN_DIR) + "/crash_on_load.so");
  CHECK(catalog.problems[0].reason == "crashed while loading (SIGSEGV) in a probe process; not loaded");
  CHECK(catalog.problems[1].file == std::string(CRASH_PLUGIN_DIR) + "/hang_on_load.so");
  CHECK(catalog.problems[1].reason == "did not finish loading within 10 s in a probe process; not loaded");
  CHECK(catalog.plugins.empty());
  // Good modules pass the probe and load as before.
  ActionCatalog good;
  LoadPlugins({TEST_PLUGIN_DIR, "", false, RUNNER_EXE}, good);
  CHECK(good.Find("test-touch") != nullptr);
  CHECK(good.problems.size() == 3);  // the three broken_* modules, for their usual reasons
  // The probes run side by side, yet the catalog takes their answers in file
  // order: of two modules claiming one action, the later file is refused.
  CHECK(good.Find("test-touch")->plugin == "testing");
  bool later_refused = false;
  for (const auto& p : good.problems)
    if (p.file.ends_with("/zz_broken_duplicate.so"))
      later_refused = p.reason.find("action 'test-touch' is already provided by plugin 'testing'") != std::string::npos;
  CHECK(later_refused);
}

TEST_CASE("loader reports each broken module with its file and reason and keeps the good one") {
  ActionCatalog catalog;
  LoadPlugins({TEST_PLUGIN_DIR, "", false}, catalog);
  REQUIRE(catalog.Find("test-touch") != nullptr);
  CHECK(catalog.Find("test-touch")->plugin == "testing");
  std::map<std::string, std::string> reasons;
  for (const auto& p : catalog.problems) reasons[p.file.substr(p.file.find_last_of('/') + 1)] = p.reason;
  std::string abi_reason = "plugin ABI version " + std::to_string(kPluginAbiVersion + 41) + ", this agent needs " +
                           std::to_string(kPluginAbiVersion);
  CHECK(reasons["broken_wrong_abi.so"].find(abi_reason) != std::string::npos);
  CHECK(reasons["broken_no_symbol.so"].find("missing symbol 'nodeagent_plugin'") != std::string::npos);
  CHECK(reasons["zz_broken_duplicate.so"].find("action 'test-touch' is already provided by plugin 'testing'") !=
        std::string::npos);
}

TEST_CASE("loader refuses plugins not owned by root when required") {
  TempRoot dir;
  ActionCatalog catalog;
  // The build tree is owned by whoever built it; a 0666 file is refused even for root.
  dir.Write("/p.so", "x");
  ::chmod(dir.Real("/p.so").c_str(), 0666);
  ::chmod(dir.path().c_str(), 0755);
  LoadPlugins({dir.path(), "", true}, catalog);
  REQUIRE(catalog.problems.size() == 1);
  CHECK(catalog.problems[0].reason.find("writable by group or others") != std::string::npos);
}

TEST_CASE("executor plans, applies and records a run") {
  Fixture f;
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"test-touch", {"path=/etc/motd", "content=hi"}, false, "manual", "uid 0"});
  REQUIRE(run.ok());
  Recorder rec;
  RunRecord r = ex.Execute(*run, &rec, nullptr);
  CHECK(r.status == RunStatus::kChanged);
  CHECK(f.root.Read("/etc/motd") == "hi");
  CHECK(r.boot_id == "boot-1");
  CHECK(rec.logs == std::vector<std::string>{"writing /etc/motd"});
  auto stored = f.history.Get(r.id);
  REQUIRE(stored.ok());
  CHECK(stored->status == RunStatus::kChanged);
  CHECK(stored->params["content"] == "hi");
  REQUIRE(stored->logs.size() == 1);
}

TEST_CASE("dry run only plans and changes nothing") {
  Fixture f;
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"test-touch", {"path=/etc/motd"}, true, "manual", "uid 0"});
  REQUIRE(run.ok());
  RunRecord r = ex.Execute(*run, nullptr, nullptr);
  CHECK(r.status == RunStatus::kOk);
  CHECK(r.summary == "dry run: would write /etc/motd");
  REQUIRE(r.changes.size() == 1);
  CHECK(r.changes[0].diff.find("+hello") != std::string::npos);
  CHECK_FALSE(f.files.Exists("/etc/motd"));
}

TEST_CASE("demo mode forces dry runs") {
  Fixture f("[agent]\ndemo = true\n");
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"test-touch", {}, false, "manual", ""});
  REQUIRE(run.ok());
  CHECK(run->dry_run);
}

TEST_CASE("tasks supply parameters; --set overrides them; errors are listed") {
  Fixture f("[tasks.motd]\naction = \"test-touch\"\npath = \"/etc/motd\"\ncontent = \"from task\"\n");
  REQUIRE(f.problems.empty());
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"motd", {"content=override"}, false, "manual", ""});
  REQUIRE(run.ok());
  CHECK(run->task == "motd");
  CHECK(run->params.GetString("path") == "/etc/motd");
  CHECK(run->params.GetString("content") == "override");

  auto bad = ex.Prepare({"motd", {"path=relative", "colour=red"}, false, "manual", ""});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message().find("tasks.motd.colour: unknown key") != std::string::npos);

  auto invalid = ex.Prepare({"test-touch", {"path=relative"}, false, "manual", ""});
  REQUIRE_FALSE(invalid.ok());
  CHECK(invalid.error().message() == "test-touch: path: must be absolute, got \"relative\"");

  auto unknown = ex.Prepare({"test-tuch", {}, false, "manual", ""});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message().find("did you mean 'test-touch'?") != std::string::npos);
}

TEST_CASE("a failed check is a failed run with its findings") {
  Fixture f;
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"test-fail", {}, false, "manual", ""});
  REQUIRE(run.ok());
  RunRecord r = ex.Execute(*run, nullptr, nullptr);
  CHECK(r.status == RunStatus::kFailed);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].severity == Severity::kError);
}

TEST_CASE("cancellation stops a cooperative action") {
  Fixture f;
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"test-sleep", {"seconds=30"}, false, "manual", ""});
  REQUIRE(run.ok());
  bool cancel = true;
  RunRecord r = ex.Execute(*run, nullptr, &cancel);
  CHECK(r.status == RunStatus::kInterrupted);
}

TEST_CASE("resume passes the checkpoint and counts the resume") {
  Fixture f;
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"test-resume", {}, false, "manual", ""});
  REQUIRE(run.ok());
  f.root.Write("/proc/sys/kernel/random/boot_id", "boot-2\n");
  RunRecord r = ex.Execute(*run, nullptr, nullptr, nlohmann::json{{"phase", 1}, {"boot_id", "boot-1"}});
  CHECK(r.status == RunStatus::kChanged);
  CHECK(r.summary == "resumed from phase 1 after a reboot; token of 0 characters");
  CHECK(r.resumes == 1);
}

TEST_CASE("set timeout sets the run's timeout and other task settings are refused") {
  Fixture f;
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"test-sleep", {"timeout=90s", "seconds=5"}, false, "manual", ""});
  REQUIRE(run.ok());
  CHECK(run->timeout == std::chrono::seconds(90));
  CHECK(run->params.GetInt("seconds") == 5);
  auto bad = ex.Prepare({"test-sleep", {"schedule=@daily"}, false, "manual", ""});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message() == "--set: schedule: is a task setting, not a parameter of test-sleep");
}

TEST_CASE("dry_run_is_enforced: writes and commands not marked read-only are refused while planning") {
  Fixture f;
  f.root.Write("/etc/itest/keep", "keep\n");
  f.commands.Answer({"touch"}, CommandResult{0});
  f.commands.Answer({"true"}, CommandResult{0});
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"test-plan-writes", {}, true, "manual", "uid 0"});
  REQUIRE(run);
  RunRecord r = ex.Execute(*run, nullptr, nullptr);
  std::map<std::string, std::string> said;
  for (const auto& finding : r.findings) said[finding.subject] = finding.message;
  for (const char* refused : {"write", "mkdir", "remove", "command"}) {
    INFO(refused);
    CHECK(said[refused].starts_with("refused while planning"));
  }
  CHECK(said["command"].find("`touch " + f.root.Real("/etc/itest/ran") + "`, which is not marked read_only") !=
        std::string::npos);
  CHECK(said["read-only command"] == "done");
  CHECK(f.commands.call_lines() == std::vector<std::string>{"true"});  // touch never ran
  CHECK_FALSE(f.files.Exists("/etc/itest/planned"));
  CHECK_FALSE(f.files.Exists("/etc/itest/planned-dir"));
  CHECK(f.files.Exists("/etc/itest/keep"));

  // The same action applying for real is not hindered.
  auto real = ex.Prepare({"test-plan-writes", {}, false, "manual", "uid 0"});
  REQUIRE(real);
  RunRecord applied = ex.Execute(*real, nullptr, nullptr);
  CHECK(applied.status == RunStatus::kChanged);
  CHECK(f.files.Exists("/etc/itest/planned"));
  CHECK_FALSE(f.files.Exists("/etc/itest/keep"));
}

TEST_CASE("plugin_validate_runs_outside_the_daemon: a crash, a throw or an unset read is a config error") {
  ActionCatalog catalog;
  LoadPlugins({TEST_PLUGIN_DIR, "", false, RUNNER_EXE}, catalog);  // as the daemon loads them
  const ActionInfo* a = catalog.Find("test-validate");
  REQUIRE(a != nullptr);
  REQUIRE(a->validate);
  auto params = [](const char* key) {
    Params p;
    for (const char* k : {"crash", "throw", "read_unset"}) p.Set(k, std::string(k) == key);
    return p;
  };
  CHECK(a->validate(params("none")).ok());
  Status crashed = a->validate(params("crash"));
  REQUIRE_FALSE(crashed.ok());
  CHECK(crashed.error().message().find("crashed (SIGABRT) in a child process") != std::string::npos);
  Status threw = a->validate(params("throw"));
  REQUIRE_FALSE(threw.ok());
  CHECK(threw.error().message() == "the plugin's validate() threw: validate blew up");
  Status unset = a->validate(params("read_unset"));
  REQUIRE_FALSE(unset.ok());
  CHECK(unset.error().message().find("parameter 'extra' read but not set") != std::string::npos);

  // In a task: the problem carries the task's file:line:col.
  std::vector<ConfigProblem> problems;
  RawConfig raw = ParseConfigText("[tasks.bad]\naction = \"test-validate\"\ncrash = true\n", "/etc/x.toml", problems);
  auto tasks = ResolveTasks(raw, catalog, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].file == "/etc/x.toml");
  CHECK(problems[0].line == 1);
  CHECK(problems[0].message.find("crashed (SIGABRT)") != std::string::npos);
}

TEST_CASE("unbounded_input: a run's log lines are cut at 64 KiB and its log kept up to 16 MiB") {
  Fixture f;
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"test-print", {"log_bytes=100000", "log_lines=400"}, false, "manual", "uid 0"});
  REQUIRE(run);
  RunRecord r = ex.Execute(*run, nullptr, nullptr);
  size_t bytes = 0;
  for (const LogLine& l : r.logs) {
    CHECK(l.message.size() <= 64 * 1024 + 64);
    bytes += l.message.size();
  }
  CHECK(bytes <= (16u << 20) + 1024);
  REQUIRE_FALSE(r.logs.empty());
  CHECK(r.logs.front().message.ends_with("[... line cut at 65536 bytes ...]"));
  CHECK(r.logs.back().message.find("further lines are dropped") != std::string::npos);
  bool noted = false;
  for (const Finding& fi : r.findings) noted = noted || fi.message.find("log line(s) dropped") != std::string::npos;
  CHECK(noted);
}

TEST_CASE("plan_is_the_contract: Apply may change only what its plan names; the rest is refused and logged") {
  Fixture f;
  f.root.Write("/etc/itest/keep", "keep\n");
  f.commands.Answer({"touch"}, CommandResult{0});
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"test-unplanned", {}, false, "manual", "uid 0"});
  REQUIRE(run);
  Recorder rec;
  RunRecord r = ex.Execute(*run, &rec, nullptr);
  std::map<std::string, std::string> said;
  for (const auto& finding : r.findings) said[finding.subject] = finding.message;
  CHECK(said["planned write"] == "done");
  CHECK(said["unplanned write"].starts_with("not in the plan: file:/etc/itest/other (writing /etc/itest/other"));
  CHECK(said["unplanned remove"].starts_with("not in the plan: file:/etc/itest/keep"));
  CHECK(said["unplanned mkdir"].starts_with("not in the plan: file:/etc/itest/dir"));
  CHECK(said["unplanned command"].starts_with("not in the plan: command:touch"));
  CHECK(said["plan"] == "4 change(s) outside the plan refused (see the log)");
  CHECK(r.status == RunStatus::kFailed);
  CHECK(f.files.Exists("/etc/itest/planned"));
  CHECK_FALSE(f.files.Exists("/etc/itest/other"));
  CHECK(f.files.Exists("/etc/itest/keep"));
  CHECK(f.commands.calls().empty());
  int errors = 0;
  for (const LogLine& l : r.logs) errors += l.level == LogLevel::kError && l.message.starts_with("not in the plan: ");
  CHECK(errors == 4);
  // A refused call changed nothing, so the audit trail has only the planned write.
  auto audited = f.AuditEntries();
  REQUIRE(audited.size() == 1);
  CHECK(audited[0]["path"] == "/etc/itest/planned");
  // The plan is kept beside the outcome.
  REQUIRE(r.plan);
  CHECK(r.plan->summary == "would write /etc/itest/planned");
  REQUIRE(r.plan->changes.size() == 1);
  CHECK(r.plan->changes[0].objects == std::vector<std::string>{"file:/etc/itest/planned"});
  CHECK(r.plan->fingerprint == PlanFingerprint(r.plan->changes));
  auto stored = f.history.Get(r.id);
  REQUIRE(stored);
  REQUIRE(stored->plan);
  CHECK(stored->plan->fingerprint == r.plan->fingerprint);
}

TEST_CASE("plan_is_the_contract: a change the outcome reports outside the plan fails the run") {
  Fixture f;
  f.root.Write("/etc/itest/keep", "keep\n");
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"test-unplanned", {"report_extra=true"}, false, "manual", "uid 0"});
  REQUIRE(run);
  RunRecord r = ex.Execute(*run, nullptr, nullptr);
  CHECK(r.status == RunStatus::kFailed);
  bool found = false;
  for (const auto& finding : r.findings)
    found |= finding.severity == Severity::kError && finding.subject == "file:/etc/itest/extra" &&
             finding.message == "changed by Apply but not named in the plan";
  CHECK(found);
}

TEST_CASE("confirmed plan: the run applies only the plan that was confirmed") {
  Fixture f;
  RunExecutor ex = f.Executor();
  // The preview plans as the real run will, and applies nothing.
  auto preview = ex.Prepare({"test-touch", {"path=/etc/motd", "content=one"}, false, "manual", "uid 0", true});
  REQUIRE(preview);
  CHECK(preview->dry_run);
  RunRecord shown = ex.Execute(*preview, nullptr, nullptr);
  CHECK(shown.preview);
  CHECK(shown.dry_run);
  REQUIRE(shown.plan);
  CHECK_FALSE(f.files.Exists("/etc/motd"));

  SECTION("unchanged node: applied") {
    auto run = ex.Prepare({"test-touch", {"path=/etc/motd", "content=one"}, false, "manual", "uid 0", false,
                           shown.plan->fingerprint});
    REQUIRE(run);
    RunRecord r = ex.Execute(*run, nullptr, nullptr);
    CHECK(r.status == RunStatus::kChanged);
    CHECK(r.confirmed_plan == shown.plan->fingerprint);
    CHECK(f.root.Read("/etc/motd") == "one");
  }
  SECTION("the node changed since: refused, nothing applied") {
    f.root.Write("/etc/motd", "someone else\n");
    auto run = ex.Prepare({"test-touch", {"path=/etc/motd", "content=one"}, false, "manual", "uid 0", false,
                           shown.plan->fingerprint});
    REQUIRE(run);
    RunRecord r = ex.Execute(*run, nullptr, nullptr);
    CHECK(r.status == RunStatus::kFailed);
    CHECK(r.summary.starts_with("the node changed since you confirmed: the plan made now (fnv1a64:"));
    CHECK(r.summary.find("differs from the one you confirmed (" + shown.plan->fingerprint + "); nothing was applied") !=
          std::string::npos);
    CHECK(f.root.Read("/etc/motd") == "someone else\n");
    REQUIRE(r.plan);
    CHECK(r.plan->fingerprint != shown.plan->fingerprint);
  }
}

TEST_CASE("resume is held to the plan its record kept; a record without one resumes unchecked, with a warning") {
  Fixture f;
  f.root.Write("/etc/itest/keep", "keep\n");
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"test-unplanned", {}, false, "manual", ""});
  REQUIRE(run.ok());
  Change planned{"create", "/etc/itest/planned"};
  planned.objects = {"file:/etc/itest/planned"};
  SECTION("with its plan") {
    run->record.plan = RecordedPlan{"", {}, {planned}, PlanFingerprint({planned})};
    RunRecord r = ex.Execute(*run, nullptr, nullptr, nlohmann::json{{"phase", 1}});
    CHECK(r.status == RunStatus::kFailed);
    CHECK(f.files.Exists("/etc/itest/planned"));
    CHECK_FALSE(f.files.Exists("/etc/itest/other"));
    CHECK(f.files.Exists("/etc/itest/keep"));
  }
  SECTION("a record from before plans were kept") {
    Recorder rec;
    RunRecord r = ex.Execute(*run, &rec, nullptr, nlohmann::json{{"phase", 1}});
    CHECK(r.status == RunStatus::kChanged);
    CHECK(f.files.Exists("/etc/itest/other"));
    CHECK(std::find(rec.logs.begin(), rec.logs.end(),
                    "this run's record has no plan (it started before plans were recorded): its resume is not "
                    "checked against one") != rec.logs.end());
  }
}

namespace {

/// Records the POSTs of the notifier; answers each with `status`.
struct NotifyHttp : HttpClient {
  std::shared_ptr<std::vector<HttpRequest>> sent = std::make_shared<std::vector<HttpRequest>>();
  std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();
  long status = 200;
  Result<HttpResponse> Send(const HttpRequest& r) override {
    std::lock_guard<std::mutex> lock(*mu);
    sent->push_back(r);
    return HttpResponse{status, ""};
  }
};

/// An action with a Node condition: its findings come from `problem`.
class ConditionAction : public Action {
 public:
  explicit ConditionAction(bool problem) : problem_(problem) {}
  Result<Plan> MakePlan(ActionContext& ctx) override {
    ctx.Event(EventType::kNormal, "Planning", "not posted while planning");
    return Plan{};
  }
  Result<Outcome> Apply(ActionContext& ctx, const Plan&) override {
    ctx.Event(EventType::kNormal, "Checked", "checked the thing");
    Outcome out;
    out.status = problem_ ? RunStatus::kFailed : RunStatus::kOk;
    out.summary = problem_ ? "the thing is broken" : "fine";
    if (problem_) out.findings.push_back({Severity::kError, "thing", "broken", "NodeAgentTestThing"});
    return out;
  }

 private:
  bool problem_;
};

constexpr ConditionSpec kThing[] = {{"NodeAgentTestThing", "ThingBroken", "ThingFine", ""}};

/// A scripted client that also copies every generic request to `log`, which
/// outlives the run's client.
struct LoggingKube : FakeKubeClient {
  std::vector<FakeKubeClient::Sent>* log = nullptr;
  KubeResult<nlohmann::json> Request(const KubeRequest& r) override {
    log->push_back({r.method, r.path, r.query, r.body, r.content_type});
    return FakeKubeClient::Request(r);
  }
};

}  // namespace

TEST_CASE("notify: actions notify through [[notify]], the core adds failure, a dry run sends nothing") {
  Fixture f("[[notify]]\nurl = \"http://hook.example/SECRETTOKEN\"\nretries = 0\ntimeout = \"1s\"\n");
  REQUIRE(f.problems.empty());
  NotifyHttp http;
  http.status = 500;
  ClientFactories clients;
  clients.http = [&http]() -> Result<std::unique_ptr<HttpClient>> {
    return std::unique_ptr<HttpClient>(std::make_unique<NotifyHttp>(http));
  };
  RunExecutor ex(f.settings, f.raw, f.tasks, f.catalog, f.host, f.history, clients);

  auto run = ex.Prepare({"test-notify", {"event=drain", "fail=true"}, false, "manual", ""});
  REQUIRE(run.ok());
  Recorder rec;
  RunRecord r = ex.Execute(*run, &rec, nullptr);
  CHECK(r.status == RunStatus::kFailed);
  REQUIRE(http.sent->size() == 2);
  CHECK(nlohmann::json::parse(http.sent->at(0).body)["event"] == "drain");
  CHECK(nlohmann::json::parse(http.sent->at(1).body)["event"] == "failure");
  CHECK(nlohmann::json::parse(http.sent->at(1).body)["message"] == "failed on request");
  CHECK(r.notifications_failed == 2);
  CHECK(RunRecordFromJson(ToJson(r)).notifications_failed == 2);
  std::string all;
  for (const auto& l : rec.logs) all += l + "\n";
  CHECK(all.find("SECRETTOKEN") == std::string::npos);
  CHECK(all.find("http://hook.example") != std::string::npos);

  http.sent->clear();
  auto dry = ex.Prepare({"test-notify", {}, true, "manual", ""});
  REQUIRE(dry.ok());
  RunRecord d = ex.Execute(*dry, nullptr, nullptr);
  CHECK(d.notifications_failed == 0);
  CHECK(http.sent->empty());
}

TEST_CASE("audit_trail: a run's file write, command and unseen change are audited; no secret reaches the trail") {
  Fixture f;
  f.root.Write("/etc/itest/audited", "before\n");
  f.commands.Answer({"/bin/echo"}, CommandResult{0});
  const std::string token = "abcdef.0123456789abcdef";
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"test-audited", {"token=\"" + token + "\""}, false, "manual", "uid 0"});
  REQUIRE(run);
  RunRecord r = ex.Execute(*run, nullptr, nullptr);
  REQUIRE(r.status == RunStatus::kChanged);
  auto e = f.AuditEntries();
  REQUIRE(e.size() == 3);
  CHECK(e[0]["run"] == r.id);
  CHECK(e[0]["action"] == "test-audited");
  CHECK(e[0]["node"] == "node-1");
  CHECK(e[0]["kind"] == "file");
  CHECK(e[0]["path"] == "/etc/itest/audited");
  CHECK(e[0]["sha256_before"] == Sha256Hex("before\n"));
  CHECK(e[0]["sha256_after"] == Sha256Hex("audited\n"));
  CHECK(e[0]["reported_by"] == "core");
  CHECK(e[1]["kind"] == "command");
  CHECK(e[1]["argv"] == nlohmann::json::array({"/bin/echo", "--token=<redacted>"}));
  CHECK(e[1]["exit_code"] == 0);
  // The write and the command were seen as they happened; only the change
  // no hook saw comes from the outcome.
  CHECK(e[2]["reported_by"] == "action");
  CHECK(e[2]["op"] == "delete");
  CHECK(e[2]["objects"] == nlohmann::json::array({"file:/etc/itest/unseen"}));

  // The planted secret, in none of its forms, in any file of the trail.
  std::string all;
  for (const auto& entry : std::filesystem::directory_iterator(f.audit.dir())) {
    std::ifstream in(entry.path(), std::ios::binary);
    all += std::string(std::istreambuf_iterator<char>(in), {});
  }
  CHECK(all.find("--token=<redacted>") != std::string::npos);
  for (const std::string& form : {token, std::string("YWJjZGVmLjAxMjM0NTY3ODlhYmNkZWY"), std::string("abcdef%2E0123")}) {
    INFO(form);
    CHECK(all.find(form) == std::string::npos);
  }
}

TEST_CASE("audit_trail: a dry run changes nothing and writes no audit entry") {
  Fixture f;
  f.commands.Answer({"/bin/echo"}, CommandResult{0});
  RunExecutor ex = f.Executor();
  for (const char* target : {"test-audited", "test-touch", "test-plan-writes"}) {
    auto run = ex.Prepare({target, {}, true, "manual", "uid 0"});
    REQUIRE(run);
    ex.Execute(*run, nullptr, nullptr);
  }
  CHECK(f.AuditEntries().empty());
  CHECK_FALSE(std::filesystem::exists(f.audit.current_path()));
}

TEST_CASE("audit_trail: the run's Kubernetes client is audited, and a change a hook saw is not repeated from the outcome") {
  Fixture f;
  f.commands.Answer({"/bin/echo"}, CommandResult{0});
  FakeKubeClient* fake = nullptr;
  ClientFactories clients;
  clients.kube = [&fake](const bool*) -> Result<std::unique_ptr<KubeClient>> {
    auto client = std::make_unique<FakeKubeClient>();
    client->Answer("PATCH /api/v1/nodes/node-1", nlohmann::json::object());
    client->Answer("POST /api/v1/namespaces/default/events", nlohmann::json::object());
    fake = client.get();
    return std::unique_ptr<KubeClient>(std::move(client));
  };
  RunExecutor ex(f.settings, f.raw, f.tasks, f.catalog, f.host, f.history, clients, &f.audit);
  auto run = ex.Prepare({"test-audited", {"label_node=true"}, false, "manual", "uid 0"});
  REQUIRE(run);
  RunRecord r = ex.Execute(*run, nullptr, nullptr);
  REQUIRE(r.status == RunStatus::kChanged);
  REQUIRE(fake);
  auto e = f.AuditEntries();
  REQUIRE(e.size() == 5);
  CHECK(e[2]["kind"] == "kube");
  CHECK(e[2]["verb"] == "patch");
  CHECK(e[2]["resource"] == "nodes");
  CHECK(e[2]["name"] == "node-1");
  CHECK(e[2]["result"] == "ok");
  CHECK(e[3]["reported_by"] == "action");  // only the unseen file; the patch was seen
  CHECK(e[3]["objects"] == nlohmann::json::array({"file:/etc/itest/unseen"}));
  // The core's own call after the run (its FilesFixed Event on the Node)
  // goes through the same audited client.
  CHECK(e[4]["kind"] == "kube");
  CHECK(e[4]["verb"] == "create");
  CHECK(e[4]["resource"] == "events");
  CHECK(e[4]["reported_by"] == "core");
}

TEST_CASE("node_status: a real run sets its Node conditions after Apply and posts its Events, a dry run does not") {
  for (bool dry : {false, true}) {
    Fixture f;
    ActionInfo info;
    info.name = "thing-check";
    info.plugin = "test";
    info.kind = "native";
    info.conditions.assign(std::begin(kThing), std::end(kThing));
    info.create = [] { return std::make_unique<ConditionAction>(true); };
    f.catalog.Add(std::move(info));
    std::vector<FakeKubeClient::Sent> sent;
    ClientFactories clients;
    clients.kube = [&](const bool*) -> Result<std::unique_ptr<KubeClient>> {
      auto kube = std::make_unique<LoggingKube>();
      kube->log = &sent;
      kube->Answer("GET /api/v1/nodes/node-1", {{"metadata", {{"name", "node-1"}}}});
      kube->Answer("PATCH /api/v1/nodes/node-1/status", nlohmann::json::object());
      kube->Answer("POST /api/v1/namespaces/default/events", nlohmann::json::object());
      return std::unique_ptr<KubeClient>(std::move(kube));
    };
    RunExecutor ex(f.settings, f.raw, f.tasks, f.catalog, f.host, f.history, clients);
    auto run = ex.Prepare({"thing-check", {}, dry, "manual", "uid 0"});
    REQUIRE(run);
    RunRecord r = ex.Execute(*run, nullptr, nullptr);
    if (dry) {
      CHECK(sent.empty());
      continue;
    }
    CHECK(r.status == RunStatus::kFailed);
    std::vector<std::string> keys;
    for (const auto& s : sent) keys.push_back(s.key() + (s.method == "POST" ? " " + s.body.value("reason", "") : ""));
    CHECK(keys == std::vector<std::string>{"POST /api/v1/namespaces/default/events NodeagentChecked",
                                           "PATCH /api/v1/nodes/node-1/status",
                                           "POST /api/v1/namespaces/default/events NodeagentRunFailed"});
    const auto& cond = sent[1].body["status"]["conditions"];
    REQUIRE(cond.size() == 1);
    CHECK(cond[0]["type"] == "NodeAgentTestThing");
    CHECK(cond[0]["status"] == "True");
    CHECK(cond[0]["reason"] == "ThingBroken");
    CHECK(sent[2].body["message"] == "thing-check: the thing is broken");
  }
}

TEST_CASE("node_status: without a Kubernetes client a real run sets and posts nothing, and says nothing of it") {
  Fixture f;
  ActionInfo info;
  info.name = "thing-check";
  info.plugin = "test";
  info.kind = "native";
  info.conditions.assign(std::begin(kThing), std::end(kThing));
  info.create = [] { return std::make_unique<ConditionAction>(true); };
  f.catalog.Add(std::move(info));
  RunExecutor ex = f.Executor();
  auto run = ex.Prepare({"thing-check", {}, false, "manual", "uid 0"});
  REQUIRE(run);
  RunRecord r = ex.Execute(*run, nullptr, nullptr);
  CHECK(r.status == RunStatus::kFailed);
  std::vector<std::string> logged;
  for (const LogLine& l : r.logs) logged.push_back(l.message);
  // The action's Event stays in the log; nothing about Node conditions.
  CHECK(logged == std::vector<std::string>{"event Planning: not posted while planning", "event Checked: checked the thing"});
}
