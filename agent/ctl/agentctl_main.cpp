// agentctl: the operator's command line. Talks to the daemon over its socket,
// or with --local does the work itself with the same code path the daemon's
// workers use. Exit codes: 0 ok or changed, 1 the action failed or found
// errors, 2 usage or config error (or refused), 3 daemon unreachable.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "ctl/control_client.h"
#include "ctl/docs.h"
#include "ctl/output.h"
#include "daemon/introspection.h"
#include "host/local_host.h"
#include "loader/agent_setup.h"
#include "runner/kube_factory.h"
#include "runner/run_executor.h"
#include "scheduler/task_planner.h"

#ifndef NODEAGENT_VERSION
#define NODEAGENT_VERSION "0.0.0"
#endif

namespace nodeagent {
namespace {

using json = nlohmann::json;

constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 2, kExitUnreachable = 3;

struct Globals {
  std::string config = kDefaultConfigPath;
  std::string socket;
  bool local = false;
  std::string output = "text";
  bool json() const { return output == "json"; }
};

int64_t NowMs() { return ToMillis(std::chrono::system_clock::now()); }

int ExitForStatus(const std::string& status) {
  return status == "failed" || status == "interrupted" ? kExitFailed : kExitOk;
}

int Fail(int code, const std::string& message) {
  std::cerr << "agentctl: " << message << "\n";
  return code;
}

int ExitForError(const json& reply) {
  std::string code = reply.value("code", "");
  std::string msg = reply.value("error", "error");
  std::cerr << "agentctl: " << msg << "\n";
  if (code == "not_found" || code == "invalid_argument" || code == "permission_denied" || code == "bad_request" ||
      code == "invalid_config" || code == "conflict")
    return kExitUsage;
  return kExitFailed;
}

/// Loads config and plugins for --local and config check.
Result<std::unique_ptr<AgentSetup>> LoadLocal(const Globals& g, bool allow_missing = false) {
  SetupOptions so;
  so.config_path = g.config;
  so.allow_missing_config = allow_missing;
  return LoadAgentSetup(so);
}

std::string SocketPath(const Globals& g) {
  if (!g.socket.empty()) return g.socket;
  // The configured socket, when the config is readable; else the default.
  std::vector<ConfigProblem> problems;
  auto raw = LoadConfigFiles(g.config, true, problems);
  if (raw) return ParseAgentSettings(*raw, problems).socket;
  return "/run/nodeagent/agent.sock";
}

/// Ask the daemon once; print JSON or call `render`.
int AskDaemon(const Globals& g, const json& request, const std::function<std::string(const json&)>& render) {
  auto reply = CallDaemonOnce(SocketPath(g), request);
  if (!reply) return Fail(kExitUnreachable, reply.error().message());
  if (reply->value("type", "") == "error") return ExitForError(*reply);
  if (g.json()) std::cout << reply->dump(2) << "\n";
  else std::cout << render(*reply);
  return kExitOk;
}

// ---- run -----------------------------------------------------------------

/// Shows live output: log lines, and progress on a terminal (overwritten in
/// place) or every few seconds otherwise.
class ConsoleObserver : public RunObserver {
 public:
  explicit ConsoleObserver(bool quiet) : quiet_(quiet), tty_(::isatty(STDERR_FILENO)) {}
  void OnLog(const LogLine& l) override {
    if (quiet_) return;
    ClearProgress();
    std::cerr << FormatTime(l.time_ms).substr(11) << " " << LogLevelName(l.level) << " " << l.message << "\n";
  }
  void OnProgress(std::string_view m, double fraction) override {
    if (quiet_) return;
    auto now = std::chrono::steady_clock::now();
    if (!tty_ && now - last_ < std::chrono::seconds(5)) return;
    last_ = now;
    std::string text(m);
    if (fraction >= 0) text += " (" + std::to_string(static_cast<int>(fraction * 100)) + "%)";
    if (tty_) {
      std::cerr << "\r\033[K" << text << std::flush;
      shown_ = true;
    } else {
      std::cerr << "progress: " << text << "\n";
    }
  }
  void ClearProgress() {
    if (shown_) std::cerr << "\r\033[K";
    shown_ = false;
  }

 private:
  bool quiet_;
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

bool g_local_cancel = false;
void OnLocalSignal(int) { std::atomic_ref<bool>(g_local_cancel).store(true); }

int RunLocal(const Globals& g, const std::string& target, const std::vector<std::string>& sets, bool dry_run) {
  auto setup = LoadLocal(g);
  if (!setup) return Fail(kExitUsage, setup.error().message());
  if (!(*setup)->ok()) return Fail(kExitUsage, "invalid config:\n" + (*setup)->ProblemsText());
  AgentSetup& s = **setup;
  RealHost host(s.settings.root);
  HistoryStore history(s.settings.state_dir);
  if (Status st = history.Init(); !st.ok()) return Fail(kExitFailed, st.error().message());
  ConsoleObserver console(g.json());
  KubeFactory kube = MakeKubeFactory(s.settings, host, [&](LogLevel l, std::string_view m) {
    console.OnLog({NowMs(), l, "kubernetes: " + std::string(m)});
  });
  RunExecutor executor(s.settings, s.raw, s.tasks, s.catalog, host, history, kube);
  auto prepared = executor.Prepare({target, sets, dry_run, "manual", "uid " + std::to_string(::getuid()) + " (local)"});
  if (!prepared) return Fail(kExitUsage, prepared.error().message());
  auto locks = AcquireRunLocks(s.settings.state_dir, *prepared);
  if (!locks) return Fail(kExitUsage, locks.error().message());
  struct sigaction sa {};
  sa.sa_handler = OnLocalSignal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  RunRecord r = executor.Execute(*prepared, &console, &g_local_cancel);
  console.ClearProgress();
  json j = ToJson(r, false);
  if (g.json()) std::cout << j.dump(2) << "\n";
  else std::cout << RenderRun(j, false);
  return ExitForStatus(RunStatusName(r.status));
}

int RunViaDaemon(const Globals& g, const std::string& target, const std::vector<std::string>& sets, bool dry_run,
                 bool detach) {
  ConsoleObserver console(g.json());
  json request = {{"op", "run"}, {"target", target}, {"set", sets}, {"dry_run", dry_run}, {"follow", !detach}};
  int code = kExitFailed;
  bool got_result = false;
  std::string run_id;
  Status st = CallDaemon(SocketPath(g), request, [&](const json& ev) {
    std::string type = ev.value("type", "");
    if (type == "error") {
      code = ExitForError(ev);
      got_result = true;
      return false;
    }
    if (type == "started") {
      run_id = ev.value("run_id", "");
      if (detach) {
        if (g.json()) std::cout << ev.dump(2) << "\n";
        else std::cout << "started run " << run_id << " (agentctl logs " << run_id << ")\n";
        code = kExitOk;
        got_result = true;
        return false;
      }
      if (!g.json()) std::cerr << "run " << run_id << " started" << (ev.value("dry_run", false) ? " (dry run)" : "") << "\n";
    } else if (type == "log") {
      console.OnLog(LogLineFromJson(ev.value("line", json::object())));
    } else if (type == "progress") {
      console.OnProgress(ev.value("message", ""), ev.value("fraction", -1.0));
    } else if (type == "result") {
      console.ClearProgress();
      const json& r = ev["record"];
      if (g.json()) std::cout << r.dump(2) << "\n";
      else std::cout << RenderRun(r, false);
      code = ExitForStatus(r.value("status", ""));
      got_result = true;
      return false;
    }
    return true;
  });
  if (!st.ok()) return Fail(kExitUnreachable, st.error().message());
  if (!got_result)
    return Fail(kExitFailed, "the connection to the agent closed before the run finished" +
                                 (run_id.empty() ? "" : "; see agentctl logs " + run_id));
  return code;
}

// ---- local read-only commands -------------------------------------------

int LocalList(const Globals& g, const std::function<int(AgentSetup&, const json&)>& then) {
  auto setup = LoadLocal(g, true);
  if (!setup) return Fail(kExitUsage, setup.error().message());
  AgentSetup& s = **setup;
  RealHost host(s.settings.root);
  TaskStateStore task_state(s.settings.state_dir);
  auto planner = MakePlanner(s, host);
  auto boot = host.BootId();
  json list = ListJson(s, planner.get(), task_state, std::chrono::system_clock::now(), boot ? *boot : "", nullptr);
  return then(s, list);
}

}  // namespace
}  // namespace nodeagent

int main(int argc, char** argv) {
  using namespace nodeagent;
  Globals g;
  CLI::App app{"agentctl: drive nodeagent, the node chores agent.\n"
               "Talks to the daemon over its socket; --local works without one."};
  app.require_subcommand(1);
  app.set_version_flag("-V,--version", std::string("agentctl ") + NODEAGENT_VERSION);
  app.add_option("-c,--config", g.config, "Config file (default /etc/nodeagent/agent.toml; conf.d/ beside it too)");
  app.add_option("--socket", g.socket, "Daemon socket (default: agent.socket from the config)");
  app.add_flag("--local", g.local, "Work without the daemon: load config and plugins here, run in this process");
  app.add_option("-o,--output", g.output, "Output format")->check(CLI::IsMember({"text", "json"}));

  std::string target, task_filter, run_id, action_name, gen_what;
  std::vector<std::string> sets;
  bool dry_run = false, detach = false;
  int history_n = 20;

  auto* status = app.add_subcommand("status", "What the agent is doing: plugins, running runs, tasks and next runs");
  auto* list = app.add_subcommand("list", "Actions (from plugins) and tasks (from config) with their next run");
  auto* describe = app.add_subcommand("describe", "An action's description and parameters");
  describe->add_option("ACTION", action_name, "Action name")->required();
  auto* run = app.add_subcommand("run", "Run an action or a task now, with live progress");
  run->add_option("TARGET", target, "Action or task name")->required();
  run->add_option("--set", sets, "Override a parameter: KEY=VALUE (VALUE as TOML: 10d, true, [\"/a\",\"/b\"])");
  run->add_flag("--dry-run", dry_run, "Only plan: show what would change, change nothing");
  run->add_flag("--detach", detach, "Start it and return (follow with agentctl logs)");
  auto* history = app.add_subcommand("history", "Past runs, newest first");
  history->add_option("--task", task_filter, "Only runs of this task or action");
  history->add_option("-n", history_n, "How many")->check(CLI::Range(1, 10000));
  auto* logs = app.add_subcommand("logs", "One run's record and log");
  logs->add_option("RUN_ID", run_id, "Run id (see agentctl history)")->required();
  auto* cancel = app.add_subcommand("cancel", "Stop a run in progress");
  cancel->add_option("RUN_ID", run_id, "Run id")->required();
  auto* config = app.add_subcommand("config", "Check or show the configuration");
  config->require_subcommand(1);
  auto* config_check = config->add_subcommand("check", "Validate config files (like nginx -t); exit 2 on errors");
  auto* config_show = config->add_subcommand("show", "The effective config with defaults filled in");
  auto* reload = app.add_subcommand("reload", "Make the daemon re-read its config (a bad one is refused)");
  auto* kube = app.add_subcommand("kube", "Kubernetes connectivity");
  kube->require_subcommand(1);
  auto* kube_check = kube->add_subcommand("check", "Server version, identity, and every permission the agent needs");
  auto* gen = app.add_subcommand("gen", "Generate docs: man pages and shell completion");
  gen->group("");  // hidden
  gen->add_option("WHAT", gen_what, "man-agentctl | man-nodeagent | man-nodeagent.toml | completion-bash")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);  // prints help, the version, or the error
    return rc == 0 ? kExitOk : kExitUsage;
  }

  if (*status) {
    if (g.local)
      return LocalList(g, [&](AgentSetup& s, const json& l) {
        json st = {{"type", "status"}, {"version", NODEAGENT_VERSION}, {"node", s.settings.node_name},
                   {"pid", 0}, {"uptime_s", 0}, {"demo", s.settings.demo}, {"config_files", s.raw.files},
                   {"plugins", s.catalog.plugins}, {"plugin_problems", l["plugin_problems"]},
                   {"running", json::array()}, {"tasks", l["tasks"]}, {"local", true}};
        if (g.json()) std::cout << st.dump(2) << "\n";
        else std::cout << "(--local: the daemon was not asked)\n" << RenderStatus(st, NowMs());
        return kExitOk;
      });
    return AskDaemon(g, {{"op", "status"}}, [](const json& j) { return RenderStatus(j, NowMs()); });
  }
  if (*list) {
    if (g.local)
      return LocalList(g, [&](AgentSetup&, const json& l) {
        std::cout << (g.json() ? l.dump(2) + "\n" : RenderList(l, NowMs()));
        return kExitOk;
      });
    return AskDaemon(g, {{"op", "list"}}, [](const json& j) { return RenderList(j, NowMs()); });
  }
  if (*describe) {
    if (g.local)
      return LocalList(g, [&](AgentSetup& s, const json&) {
        const ActionInfo* a = s.catalog.Find(action_name);
        if (!a) return Fail(kExitUsage, "unknown action '" + action_name + "' (see agentctl list)");
        json j = ActionToJson(*a);
        std::cout << (g.json() ? j.dump(2) + "\n" : RenderAction(j));
        return kExitOk;
      });
    return AskDaemon(g, {{"op", "describe"}, {"action", action_name}},
                     [](const json& j) { return RenderAction(j["action"]); });
  }
  if (*run) return g.local ? RunLocal(g, target, sets, dry_run) : RunViaDaemon(g, target, sets, dry_run, detach);
  if (*history) {
    auto render = [&](const json& j) { return RenderHistory(j["runs"], NowMs()); };
    if (g.local) {
      auto setup = LoadLocal(g, true);
      if (!setup) return Fail(kExitUsage, setup.error().message());
      HistoryStore h((*setup)->settings.state_dir);
      json out = {{"type", "history"}, {"runs", json::array()}};
      for (const auto& r : h.List(task_filter, static_cast<size_t>(history_n))) out["runs"].push_back(ToJson(r, false));
      std::cout << (g.json() ? out.dump(2) + "\n" : render(out));
      return kExitOk;
    }
    return AskDaemon(g, {{"op", "history"}, {"task", task_filter}, {"n", history_n}}, render);
  }
  if (*logs) {
    auto render = [](const json& j) { return RenderRun(j["record"], true); };
    if (g.local) {
      auto setup = LoadLocal(g, true);
      if (!setup) return Fail(kExitUsage, setup.error().message());
      HistoryStore h((*setup)->settings.state_dir);
      auto r = h.Get(run_id);
      if (!r) return Fail(kExitUsage, r.error().message());
      json out = {{"type", "run"}, {"record", ToJson(*r, true)}};
      std::cout << (g.json() ? out.dump(2) + "\n" : render(out));
      return kExitOk;
    }
    return AskDaemon(g, {{"op", "logs"}, {"run_id", run_id}}, render);
  }
  if (*cancel) {
    return AskDaemon(g, {{"op", "cancel"}, {"run_id", run_id}},
                     [](const json& j) { return "cancelling run " + j.value("run_id", "") + "\n"; });
  }
  if (*config_check) {
    auto setup = LoadLocal(g);
    if (!setup) return Fail(kExitUsage, setup.error().message());
    AgentSetup& s = **setup;
    for (const auto& p : s.catalog.problems) std::cerr << "warning: plugin " << p.file << " not loaded: " << p.reason << "\n";
    if (!s.ok()) {
      std::cerr << s.ProblemsText();
      std::cerr << "configuration has " << s.problems.size() << " error(s)\n";
      return kExitUsage;
    }
    std::cout << "configuration ok: " << s.raw.files.size() << " file(s), " << s.tasks.size() << " task(s), "
              << s.catalog.plugins.size() << " plugin(s), " << s.catalog.All().size() << " action(s)\n";
    return kExitOk;
  }
  if (*config_show) {
    if (g.local) {
      auto setup = LoadLocal(g);
      if (!setup) return Fail(kExitUsage, setup.error().message());
      if (!(*setup)->ok()) return Fail(kExitUsage, "invalid config:\n" + (*setup)->ProblemsText());
      std::cout << RenderEffectiveConfig((*setup)->settings, (*setup)->tasks, (*setup)->catalog);
      return kExitOk;
    }
    return AskDaemon(g, {{"op", "config-show"}}, [](const json& j) { return j.value("text", ""); });
  }
  if (*reload) {
    if (g.local) return Fail(kExitUsage, "reload needs the daemon (without --local)");
    return AskDaemon(g, {{"op", "reload"}},
                     [](const json& j) { return "reloaded: " + std::to_string(j.value("tasks", 0)) + " task(s)\n"; });
  }
  if (*kube_check) return KubeCheck(g.config, g.json());
  if (*gen) return GenerateDoc(gen_what, g.config);
  return kExitUsage;
}
