#include "ctl/agentctl_cli.h"

#include "config/runner_path.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <ctime>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <iostream>

#include "config/agent_config.h"
#include "config/runner_path.h"
#include "ctl/control_client.h"
#include "ctl/output.h"

#ifndef NODEAGENT_VERSION
#define NODEAGENT_VERSION "0.0.0"
#endif

namespace nodeagent {

using json = nlohmann::json;

int64_t CtlNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int ExitForRunStatus(const std::string& status) {
  return status == "failed" || status == "interrupted" ? kExitFailed : kExitOk;
}

int CtlFail(int code, const std::string& message) {
  std::cerr << "agentctl: " << message << "\n";
  return code;
}

namespace {

int ExitForError(const json& reply) {
  std::string code = reply.value("code", "");
  std::cerr << "agentctl: " << reply.value("error", "error") << "\n";
  if (code == "not_found" || code == "invalid_argument" || code == "permission_denied" || code == "bad_request" ||
      code == "invalid_config" || code == "conflict")
    return kExitUsage;
  return kExitFailed;
}

std::string SocketPath(const CtlGlobals& g) {
  if (!g.socket.empty()) return g.socket;
  // The configured socket, when the config is readable; else the default.
  std::vector<ConfigProblem> problems;
  auto raw = LoadConfigFiles(g.config, true, problems);
  if (raw) return ParseAgentSettings(*raw, problems).socket;
  return "/run/nodeagent/agent.sock";
}

/// Why the cluster part of `status` is not asked (no kubeconfig where the
/// runner would look: [kubernetes] kubeconfig, $KUBECONFIG, the default, all
/// under agent.root; nor a pod's service account), or "" when it is. Only a
/// stat: a node without a kubeconfig pays no process start for it.
std::string MissingKubeconfig(const CtlGlobals& g) {
  std::vector<ConfigProblem> problems;
  auto raw = LoadConfigFiles(g.config, true, problems);
  AgentSettings s = raw ? ParseAgentSettings(*raw, problems) : AgentSettings{};
  std::string path = s.kube.kubeconfig;
  const char* env = std::getenv("KUBECONFIG");
  if (path.empty() && env && *env) path = std::string(env).substr(0, std::string(env).find(':'));
  if (path.empty()) {
    const char* in_pod = std::getenv("KUBERNETES_SERVICE_HOST");
    if (in_pod && *in_pod) return "";
    path = "/etc/nodeagent/kubeconfig";
  }
  std::string real = s.root == "/" || s.root.empty() ? path : s.root + path;
  std::error_code ec;
  if (std::filesystem::exists(real, ec)) return "";
  return "no kubeconfig (" + path + " does not exist; set [kubernetes] kubeconfig or KUBECONFIG): the cluster's view is "
         "not shown";
}

/// Runs `nodeagent-runner ctl cluster-status` and returns its JSON, or
/// {available: false, message} when it cannot say. Bounded: the runner's
/// requests time out after 5 s; past kClusterPartLimit it is killed.
json AskClusterPart(const CtlGlobals& g) {
  constexpr int kClusterPartLimitMs = 12'000;
  auto unavailable = [](const std::string& why) { return json{{"available", false}, {"message", why}}; };
  auto runner = FindRunner();
  if (!runner) return unavailable("the cluster's view needs " + runner.error().message());
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return unavailable(std::string("pipe: ") + std::strerror(errno));
  std::vector<std::string> argv = {*runner, "ctl", "--config", g.config, "cluster-status"};
  pid_t pid = ::fork();
  if (pid < 0) return unavailable(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kClusterPartLimitMs);
  bool timed_out = false;
  char buf[65536];
  for (;;) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      timed_out = r == 0;
      break;
    }
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() < 4 * 1024 * 1024) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return unavailable("no answer from the API server within " + std::to_string(kClusterPartLimitMs / 1000) + " s");
  auto j = json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return unavailable("the cluster's view failed (" + *runner + " ctl cluster-status exited " +
                       std::to_string(WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus)) + ")");
  return j;
}

/// `agentctl status`: the daemon's answer, then what the cluster knows of
/// the node. The exit code is the daemon part's; the cluster part only adds
/// lines (or `cluster` in -o json).
int StatusWithCluster(const CtlGlobals& g, bool with_cluster) {
  auto reply = CallDaemonOnce(SocketPath(g), {{"op", "status"}});
  if (!reply) return CtlFail(kExitUnreachable, reply.error().message());
  if (reply->value("type", "") == "error") return ExitForError(*reply);
  if (!with_cluster) {
    if (g.json()) std::cout << reply->dump(2) << "\n";
    else std::cout << RenderStatus(*reply, CtlNowMs());
    return kExitOk;
  }
  std::string missing = MissingKubeconfig(g);
  json cluster = missing.empty() ? AskClusterPart(g) : json{{"available", false}, {"message", missing}};
  if (g.json()) {
    (*reply)["cluster"] = std::move(cluster);
    std::cout << reply->dump(2) << "\n";
  } else {
    std::cout << RenderStatus(*reply, CtlNowMs()) << RenderClusterView(cluster);
  }
  return kExitOk;
}

/// Ask the daemon once; print JSON or call `render`.
int AskDaemon(const CtlGlobals& g, const json& request, const std::function<std::string(const json&)>& render) {
  auto reply = CallDaemonOnce(SocketPath(g), request);
  if (!reply) return CtlFail(kExitUnreachable, reply.error().message());
  if (reply->value("type", "") == "error") return ExitForError(*reply);
  if (g.json()) std::cout << reply->dump(2) << "\n";
  else std::cout << render(*reply);
  return kExitOk;
}

/// `agentctl logs RUN --all`: the list in pages of at most 1 MiB (the
/// daemon's `logs` op with `list_offset`), each written out as it comes.
int PrintRunListViaDaemon(const CtlGlobals& g, const std::string& run_id) {
  int64_t offset = 0;
  for (;;) {
    auto reply = CallDaemonOnce(SocketPath(g), {{"op", "logs"}, {"run_id", run_id}, {"list_offset", offset}});
    if (!reply) return CtlFail(kExitUnreachable, reply.error().message());
    if (reply->value("type", "") == "error") return ExitForError(*reply);
    const std::string text = reply->value("text", "");
    std::cout << text;
    int64_t next = reply->value("next_offset", offset);
    if (reply->value("eof", true) || next <= offset) break;
    offset = next;
  }
  std::cout.flush();
  return kExitOk;
}

/// The thin agentctl hands commands that need the config, plugins or libcurl
/// to `nodeagent-runner ctl` (config/runner_path.h says where it is).
int ExecFullCtl(int argc, char** argv) {
  auto runner = FindRunner();
  if (!runner) return CtlFail(kExitUsage, "this command needs " + runner.error().message());
  std::vector<char*> args;
  args.push_back(const_cast<char*>(runner->c_str()));
  args.push_back(const_cast<char*>("ctl"));
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  ::execv(runner->c_str(), args.data());
  return CtlFail(kExitUsage, "cannot run " + *runner + ": " + std::strerror(errno));
}

int RunViaDaemon(const CtlGlobals& g, const std::string& target, const std::vector<std::string>& sets,
                 const RunMode& mode, bool detach) {
  ConsoleObserver console(g.json());
  detach = detach && !mode.preview;  // a preview is followed: its plan is what we wait for
  json request = {{"op", "run"}, {"target", target}, {"set", sets}, {"dry_run", mode.dry_run}, {"follow", !detach}};
  if (mode.preview) request["preview"] = true;
  if (!mode.confirmed_plan.empty()) request["confirmed_plan"] = mode.confirmed_plan;
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
      if (mode.preview_record) *mode.preview_record = r;
      else if (g.json()) std::cout << r.dump(2) << "\n";
      else std::cout << RenderRun(r, false);
      code = ExitForRunStatus(r.value("status", ""));
      got_result = true;
      return false;
    }
    return true;
  });
  if (!st.ok()) return CtlFail(kExitUnreachable, st.error().message());
  if (!got_result)
    return CtlFail(kExitFailed, "the connection to the agent closed before the run finished" +
                                 (run_id.empty() ? "" : "; see agentctl logs " + run_id));
  return code;
}

bool IsYes(std::string answer) {
  while (!answer.empty() && std::isspace(static_cast<unsigned char>(answer.back()))) answer.pop_back();
  size_t start = answer.find_first_not_of(" \t");
  answer = start == std::string::npos ? "" : answer.substr(start);
  for (char& c : answer) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return answer == "y" || answer == "yes";
}

}  // namespace

Result<int64_t> ParseSince(std::string_view text, int64_t now_ms) {
  if (auto d = ParseDuration(text); d) return now_ms - std::chrono::duration_cast<std::chrono::milliseconds>(*d).count();
  std::string t(text);
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) == 6 &&
      consumed == 19) {
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t ms = static_cast<int64_t>(::timegm(&tm)) * 1000;
    std::string_view rest = std::string_view(t).substr(19);
    if (!rest.empty() && rest[0] == '.') {
      size_t digits = 1;
      while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
      std::string frac(rest.substr(1, digits - 1));
      frac.resize(3, '0');
      if (!frac.empty() && std::all_of(frac.begin(), frac.end(), ::isdigit)) ms += std::stoi(frac);
      rest.remove_prefix(digits);
    }
    int oh = 0, om = 0;
    if (rest == "Z" || rest == "z") return ms;
    if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') &&
        std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &oh, &om) == 2) {
      int64_t offset = (oh * 60 + om) * 60'000;
      return rest[0] == '+' ? ms - offset : ms + offset;
    }
  }
  return InvalidArgument("--since: expected a duration back from now (2h, 30m, 1d) or a time with its zone "
                         "(2026-12-06T10:00:00Z), got \"" + t + "\"");
}

int PrintAudit(const CtlGlobals& g, const json& answer) {
  for (const auto& note : answer.value("notes", json::array()))
    std::cerr << "agentctl: skipped a line of the audit trail: " << note.get<std::string>() << "\n";
  if (g.json()) {
    for (const auto& e : answer.value("entries", json::array())) std::cout << e.dump() << "\n";
    if (int64_t left = answer.value("left_off", int64_t{0}); left > 0)
      std::cerr << "agentctl: " << left << " older entries left out: narrow with --since or --run\n";
  } else {
    std::cout << RenderAudit(answer);
  }
  return kExitOk;
}

int RunWithConfirmation(const CtlGlobals& g, std::istream& answers,
                        const std::function<int(const RunMode&)>& run_once) {
  json shown;
  RunMode preview;
  preview.preview = true;
  preview.preview_record = &shown;
  int code = run_once(preview);
  if (shown.is_null()) return code;  // could not even start; already said why
  const json plan = shown.value("plan", json());
  if (!plan.is_object()) {
    std::cerr << RenderRun(shown, false);
    return CtlFail(code == kExitOk ? kExitFailed : code, "no plan was made: nothing to confirm");
  }
  std::cerr << RenderPlan(shown);
  std::cerr << "Apply this plan? Only y or yes applies it: " << std::flush;
  std::string answer;
  if (!std::getline(answers, answer) || !IsYes(answer)) {
    std::cerr << "\n";
    return CtlFail(kExitFailed, "not applied");
  }
  RunMode confirmed;
  confirmed.confirmed_plan = plan.value("fingerprint", "");
  return run_once(confirmed);
}

int AgentctlMain(int argc, char** argv, LocalCommands* local) {
  CtlGlobals g;
  CLI::App app{"agentctl: drive nodeagent, the node chores agent.\n"
               "Talks to the daemon over its socket; --local works without one."};
  app.require_subcommand(1);
  app.set_version_flag("-V,--version", std::string("agentctl ") + NODEAGENT_VERSION);
  app.add_option("-c,--config", g.config, "Config file (default /etc/nodeagent/agent.toml; conf.d/ beside it too)");
  app.add_option("--socket", g.socket, "Daemon socket (default: agent.socket from the config)");
  app.add_flag("--local", g.local, "Work without the daemon: load config and plugins here, run in this process");
  app.add_option("-o,--output", g.output, "Output format")->check(CLI::IsMember({"text", "json"}));

  std::string target, task_filter, run_id, action_name, gen_what, audit_since, audit_run;
  int audit_n = 1000;
  std::vector<std::string> sets;
  bool dry_run = false, detach = false, confirm = false, logs_all = false;
  int history_n = 20;

  bool no_cluster = false;
  auto* status = app.add_subcommand("status", "What the agent is doing: plugins, running runs, tasks and next runs; "
                                              "with a kubeconfig, what the cluster knows of this node");
  status->add_flag("--no-cluster", no_cluster,
                   "Only the daemon's state: no API request (for scripts that poll, and readiness checks)");
  auto* list = app.add_subcommand("list", "Actions (from plugins) and tasks (from config) with their next run");
  auto* describe = app.add_subcommand("describe", "An action's description and parameters");
  describe->add_option("ACTION", action_name, "Action name")->required();
  auto* run = app.add_subcommand("run", "Run an action or a task now, with live progress");
  run->add_option("TARGET", target, "Action or task name")->required();
  run->add_option("--set", sets, "Override a parameter: KEY=VALUE (VALUE as TOML: 10d, true, [\"/a\",\"/b\"])");
  run->add_flag("--dry-run", dry_run, "Only plan: show what would change, change nothing");
  run->add_flag("--detach", detach, "Start it and return (follow with agentctl logs)");
  run->add_flag("--confirm", confirm,
                "Show the plan first and apply it only when you answer y on the terminal; the run refuses if the node "
                "changed since");
  auto* history = app.add_subcommand("history", "Past runs, newest first");
  history->add_option("--task", task_filter, "Only runs of this task or action");
  history->add_option("-n", history_n, "How many")->check(CLI::Range(1, 10000));
  auto* logs = app.add_subcommand("logs", "One run's record and log");
  logs->add_option("RUN_ID", run_id, "Run id (see agentctl history)")->required();
  logs->add_flag("--all", logs_all,
                 "Print the run's full list instead (every file a log-cleanup run deleted, or its dry run would: the "
                 "record keeps the first 250), one entry a line, as KIND TAB BYTES TAB MTIME TAB PATH");
  auto* audit = app.add_subcommand("audit", "Every change the agent made to the node and the cluster, oldest first");
  audit->add_option("--since", audit_since, "Only since a duration ago (2h, 30m, 1d) or a time (2026-12-06T10:00:00Z)");
  audit->add_option("--run", audit_run, "Only this run's changes (see agentctl history)");
  audit->add_option("-n", audit_n, "At most this many, the newest")->check(CLI::Range(1, 10000));
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
  auto* cluster_status = app.add_subcommand("cluster-status", "The cluster part of status, as JSON (for agentctl)");
  cluster_status->group("");  // hidden: agentctl status runs it in nodeagent-runner ctl
  auto* gen = app.add_subcommand("gen", "Generate docs: man pages and shell completion");
  gen->group("");  // hidden
  gen->add_option("WHAT", gen_what, "man-agentctl | man-nodeagent | man-nodeagent.toml | completion-bash | rbac")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);  // prints help, the version, or the error
    return rc == 0 ? kExitOk : kExitUsage;
  }

  // Commands that need config, plugins or libcurl run in `nodeagent-runner ctl`.
  bool needs_local = g.local || *config_check || *kube_check || *gen || *cluster_status || (*config_show && g.local);
  if (needs_local && !local) return ExecFullCtl(argc, argv);

  if (*status) {
    if (g.local) return local->Status(g, !no_cluster);
    return StatusWithCluster(g, !no_cluster);
  }
  if (*list) {
    if (g.local) return local->List(g);
    return AskDaemon(g, {{"op", "list"}}, [](const json& j) { return RenderList(j, CtlNowMs()); });
  }
  if (*describe) {
    if (g.local) return local->Describe(g, action_name);
    return AskDaemon(g, {{"op", "describe"}, {"action", action_name}},
                     [](const json& j) { return RenderAction(j["action"]); });
  }
  if (*run) {
    auto run_once = [&](const RunMode& mode) {
      return g.local ? local->Run(g, target, sets, mode) : RunViaDaemon(g, target, sets, mode, detach);
    };
    if (!confirm) return run_once(RunMode{.dry_run = dry_run});
    if (dry_run) return CtlFail(kExitUsage, "--confirm applies after asking, --dry-run never applies: use one of them");
    if (!::isatty(STDIN_FILENO))
      return CtlFail(kExitUsage,
                     "--confirm asks on a terminal, and stdin is not one: run it from a terminal, or drop --confirm "
                     "(--dry-run shows the plan without applying)");
    return RunWithConfirmation(g, std::cin, run_once);
  }
  if (*history) {
    if (g.local) return local->History(g, task_filter, history_n);
    return AskDaemon(g, {{"op", "history"}, {"task", task_filter}, {"n", history_n}},
                     [](const json& j) { return RenderHistory(j["runs"], CtlNowMs()); });
  }
  if (*logs) {
    if (g.local) return local->Logs(g, run_id, logs_all);
    if (logs_all) return PrintRunListViaDaemon(g, run_id);
    return AskDaemon(g, {{"op", "logs"}, {"run_id", run_id}}, [](const json& j) { return RenderRun(j["record"], true); });
  }
  if (*audit) {
    json request = {{"op", "audit"}, {"run_id", audit_run}, {"n", audit_n}};
    if (!audit_since.empty()) {
      auto since = ParseSince(audit_since, CtlNowMs());
      if (!since) return CtlFail(kExitUsage, since.error().message());
      request["since_ms"] = *since;
    }
    if (g.local) return local->Audit(g, request);
    auto reply = CallDaemonOnce(SocketPath(g), request);
    if (!reply) return CtlFail(kExitUnreachable, reply.error().message());
    if (reply->value("type", "") == "error") return ExitForError(*reply);
    return PrintAudit(g, *reply);
  }
  if (*cancel) {
    return AskDaemon(g, {{"op", "cancel"}, {"run_id", run_id}},
                     [](const json& j) { return "cancelling run " + j.value("run_id", "") + "\n"; });
  }
  if (*config_check) return local->ConfigCheck(g);
  if (*config_show) {
    if (g.local) return local->ConfigShow(g);
    return AskDaemon(g, {{"op", "config-show"}}, [](const json& j) { return j.value("text", ""); });
  }
  if (*reload) {
    if (g.local) return CtlFail(kExitUsage, "reload needs the daemon (without --local)");
    return AskDaemon(g, {{"op", "reload"}},
                     [](const json& j) { return "reloaded: " + std::to_string(j.value("tasks", 0)) + " task(s)\n"; });
  }
  if (*kube_check) return local->KubeCheck(g);
  if (*cluster_status) return local->ClusterStatus(g);
  if (*gen) return local->Gen(g, gen_what);
  return kExitUsage;
}

}  // namespace nodeagent
