// The half of agentctl that works without the daemon (see agentctl_cli.h):
// it loads the config and plugins itself and runs actions in this process
// through the same RunExecutor the daemon's workers use. Linked into
// `nodeagent-runner` (as `nodeagent-runner ctl`), not into the thin agentctl.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <iostream>

#include "audit/audit_log.h"
#include "config/agent_config.h"
#include "config/runner_path.h"
#include "ctl/agentctl_cli.h"
#include "ctl/cluster_view.h"
#include "ctl/docs.h"
#include "ctl/output.h"
#include "daemon/introspection.h"
#include "host/local_host.h"
#include "kube/curl_kube_client.h"
#include "loader/agent_setup.h"
#include "loader/plugin_loader.h"
#include "runner/client_factories.h"
#include "runner/run_executor.h"
#include "scheduler/task_planner.h"

#ifndef NODEAGENT_VERSION
#define NODEAGENT_VERSION "0.0.0"
#endif

namespace nodeagent {

namespace {

using json = nlohmann::json;

/// `agentctl status`'s cluster part: {available, message?, ...ReadClusterView}.
/// Each request is bounded by 5 s and not retried, so a dead API server costs
/// one timeout, not a retry budget.
json ClusterStatusJson(const CtlGlobals& g);

/// Loads config and plugins for --local and config check.
Result<std::unique_ptr<AgentSetup>> LoadLocal(const CtlGlobals& g, bool allow_missing = false) {
  SetupOptions so;
  so.config_path = g.config;
  so.allow_missing_config = allow_missing;
  if (auto runner = FindRunner()) so.plugin_probe_exe = *runner;  // judge plugins as the daemon does
  return LoadAgentSetup(so);
}

/// The state dir alone, for history and logs: they read records, so they need
/// neither the plugins (each probed in a child) nor the tasks.
Result<std::string> LocalStateDir(const CtlGlobals& g) {
  std::vector<ConfigProblem> problems;
  auto raw = LoadConfigFiles(g.config, true, problems);
  if (!raw) return raw.error();
  AgentSettings settings = ParseAgentSettings(*raw, problems);
  if (!problems.empty()) return Error(ErrorCode::kInvalidArgument, "invalid config:\n" + ProblemsText(problems));
  return settings.state_dir;
}

bool g_local_cancel = false;
void OnLocalSignal(int) { std::atomic_ref<bool>(g_local_cancel).store(true); }

int RunLocal(const CtlGlobals& g, const std::string& target, const std::vector<std::string>& sets,
             const RunMode& mode) {
  auto setup = LoadLocal(g);
  if (!setup) return CtlFail(kExitUsage, setup.error().message());
  if (!(*setup)->ok()) return CtlFail(kExitUsage, "invalid config:\n" + (*setup)->ProblemsText());
  AgentSetup& s = **setup;
  RealHost host(s.settings.root, &g_local_cancel);  // commands stop on Ctrl-C too
  HistoryStore history(s.settings.state_dir);
  if (Status st = history.Init(); !st.ok()) return CtlFail(kExitFailed, st.error().message());
  ConsoleObserver console(g.json());
  ClientFactories clients = MakeClientFactories(s.settings, host, [&](LogLevel l, std::string_view m) {
    console.OnLog({CtlNowMs(), l, "kubernetes: " + std::string(m)});
  });
  auto audit = OpenRunAuditLog(s.settings);
  RunExecutor executor(s.settings, s.raw, s.tasks, s.catalog, host, history, clients, audit.get());
  auto prepared = executor.Prepare({target, sets, mode.dry_run, "manual", "uid " + std::to_string(::getuid()) + " (local)",
                                    mode.preview, mode.confirmed_plan});
  if (!prepared) {
    std::string message = prepared.error().message();
    if (prepared.error().code() == ErrorCode::kNotFound) message += " (" + SourcesSentence(SourcesJson(s)) + ")";
    return CtlFail(kExitUsage, message);
  }
  // The catalog holds the plugins' tables only (read from probes, as the
  // daemon does); the run needs the code of its one module, loaded here as a
  // worker loads it.
  ActionCatalog code;
  auto with_code = LoadActionCode(*prepared->action, !s.settings.allow_unsafe_plugin_owner, code);
  if (!with_code) return CtlFail(kExitFailed, with_code.error().message());
  prepared->action = *with_code;
  auto locks = AcquireRunLocks(s.settings.state_dir, *prepared);
  if (!locks) return CtlFail(kExitUsage, locks.error().message());
  struct sigaction sa {};
  sa.sa_handler = OnLocalSignal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  RunRecord r = executor.Execute(*prepared, &console, &g_local_cancel);
  console.ClearProgress();
  json j = ToJson(r, false);
  if (mode.preview_record) *mode.preview_record = j;
  else if (g.json()) std::cout << j.dump(2) << "\n";
  else std::cout << RenderRun(j, false);
  return ExitForRunStatus(RunStatusName(r.status));
}

int LocalList(const CtlGlobals& g, const std::function<int(AgentSetup&, const json&)>& then) {
  auto setup = LoadLocal(g, true);
  if (!setup) return CtlFail(kExitUsage, setup.error().message());
  AgentSetup& s = **setup;
  RealHost host(s.settings.root);
  TaskStateStore task_state(s.settings.state_dir);
  auto planner = MakePlanner(s, host);
  auto boot = host.BootId();
  json list = ListJson(s, planner.get(), task_state, std::chrono::system_clock::now(), boot ? *boot : "", nullptr);
  return then(s, list);
}

class Local : public LocalCommands {
 public:
  int Run(const CtlGlobals& g, const std::string& target, const std::vector<std::string>& sets,
          const RunMode& mode) override {
    return RunLocal(g, target, sets, mode);
  }
  int Status(const CtlGlobals& g, bool with_cluster) override {
    return LocalList(g, [&](AgentSetup& s, const json& l) {
      json st = {{"type", "status"}, {"version", NODEAGENT_VERSION}, {"node", s.settings.node_name},
                 {"pid", 0}, {"uptime_s", 0}, {"demo", s.settings.demo}, {"config_files", s.raw.files},
                 {"plugins", s.catalog.plugins}, {"plugin_problems", l["plugin_problems"]},
                 {"running", json::array()}, {"tasks", l["tasks"]}, {"local", true}, {"sources", l["sources"]}};
      if (with_cluster) st["cluster"] = ClusterStatusJson(g);
      if (g.json()) std::cout << st.dump(2) << "\n";
      else std::cout << "(--local: the daemon was not asked)\n" << RenderStatus(st, CtlNowMs())
                     << (with_cluster ? RenderClusterView(st["cluster"]) : "");
      return kExitOk;
    });
  }
  int ClusterStatus(const CtlGlobals& g) override {
    std::cout << ClusterStatusJson(g).dump(2) << "\n";
    return kExitOk;
  }
  int List(const CtlGlobals& g) override {
    return LocalList(g, [&](AgentSetup&, const json& l) {
      std::cout << (g.json() ? l.dump(2) + "\n" : RenderList(l, CtlNowMs()));
      return kExitOk;
    });
  }
  int Describe(const CtlGlobals& g, const std::string& action_name) override {
    return LocalList(g, [&](AgentSetup& s, const json&) {
      const ActionInfo* a = s.catalog.Find(action_name);
      if (!a) return CtlFail(kExitUsage, UnknownActionMessage(action_name, s));
      json j = ActionToJson(*a);
      std::cout << (g.json() ? j.dump(2) + "\n" : RenderAction(j));
      return kExitOk;
    });
  }
  int History(const CtlGlobals& g, const std::string& task, int n) override {
    auto state_dir = LocalStateDir(g);
    if (!state_dir) return CtlFail(kExitUsage, state_dir.error().message());
    HistoryStore h(*state_dir);
    json out = {{"type", "history"}, {"runs", json::array()}};
    for (const auto& r : h.List(task, static_cast<size_t>(n))) out["runs"].push_back(ToJson(r, false));
    std::cout << (g.json() ? out.dump(2) + "\n" : RenderHistory(out["runs"], CtlNowMs()));
    return kExitOk;
  }
  int Logs(const CtlGlobals& g, const std::string& run_id, bool all) override {
    auto state_dir = LocalStateDir(g);
    if (!state_dir) return CtlFail(kExitUsage, state_dir.error().message());
    HistoryStore h(*state_dir);
    if (all) {
      bool eof = false;
      for (int64_t offset = 0; !eof;) {
        auto text = h.ReadList(run_id, offset, size_t{1} << 20, eof);
        if (!text) return CtlFail(kExitUsage, text.error().message());
        std::cout << *text;
        if (text->empty()) break;
        offset += static_cast<int64_t>(text->size());
      }
      std::cout.flush();
      return kExitOk;
    }
    auto r = h.Get(run_id);
    if (!r) return CtlFail(kExitUsage, r.error().message());
    json out = {{"type", "run"}, {"record", ToJson(*r, true)}};
    std::cout << (g.json() ? out.dump(2) + "\n" : RenderRun(out["record"], true));
    return kExitOk;
  }
  int Audit(const CtlGlobals& g, const json& request) override {
    auto state_dir = LocalStateDir(g);
    if (!state_dir) return CtlFail(kExitUsage, state_dir.error().message());
    json answer = AuditAnswer(*state_dir + "/audit", AuditQueryFromRequest(request));
    if (answer.value("type", "") == "error") return CtlFail(kExitFailed, answer.value("error", ""));
    return PrintAudit(g, answer);
  }
  int ConfigCheck(const CtlGlobals& g) override {
    auto setup = LoadLocal(g);
    if (!setup) return CtlFail(kExitUsage, setup.error().message());
    AgentSetup& s = **setup;
    for (const auto& p : s.catalog.problems)
      std::cerr << "warning: plugin " << p.file << " not loaded: " << p.reason << "\n";
    for (const auto& w : s.warnings) std::cerr << "warning: " << w.ToString() << "\n";
    if (!s.ok()) {
      std::cerr << s.ProblemsText();
      std::cerr << "configuration has " << s.problems.size() << " error(s)\n";
      return kExitUsage;
    }
    std::cout << "configuration ok: " << s.raw.files.size() << " file(s), " << s.tasks.size() << " task(s), "
              << s.catalog.plugins.size() << " plugin(s), " << s.catalog.All().size() << " action(s)\n";
    return kExitOk;
  }
  int ConfigShow(const CtlGlobals& g) override {
    auto setup = LoadLocal(g);
    if (!setup) return CtlFail(kExitUsage, setup.error().message());
    if (!(*setup)->ok()) return CtlFail(kExitUsage, "invalid config:\n" + (*setup)->ProblemsText());
    std::cout << "# " << SourcesSentence(SourcesJson(**setup)) << "\n";
    std::cout << RenderEffectiveConfig((*setup)->settings, (*setup)->tasks);
    return kExitOk;
  }
  int KubeCheck(const CtlGlobals& g) override { return nodeagent::KubeCheck(g.config, g.json()); }
  int Gen(const CtlGlobals& g, const std::string& what) override { return GenerateDoc(what, g.config); }
};

}  // namespace

namespace {

json ClusterStatusJson(const CtlGlobals& g) {
  auto setup = LoadLocal(g, true);
  if (!setup) return {{"available", false}, {"message", setup.error().message()}};
  AgentSettings settings = (*setup)->settings;
  RealHost host(settings.root);
  auto config = kube::LoadAgentKubeconfig(settings.kube.kubeconfig, settings.kube.context, kube::ProcessEnv(),
                                          host.files());
  if (!config) {
    if (config.error().code() == ErrorCode::kNotFound)
      return {{"available", false}, {"message", "no kubeconfig: " + config.error().message()}};
    return {{"available", false}, {"message", config.error().message()}};
  }
  kube::KubeOptions options;
  options.request_timeout = std::chrono::seconds(5);
  options.connect_timeout = std::chrono::seconds(5);
  options.retry.max_attempts = 1;  // a status line, not a run: no retries
  auto client =
      kube::MakeKubeClientFromConfig(*config, options, host.commands(), host.files(), host.clock(), kube::KubeLogger());
  if (!client) return {{"available", false}, {"message", client.error().message()}};

  ClusterViewInputs in;
  in.node_name = settings.node_name;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& [name, task] : (*setup)->tasks) {
    const Params& p = task.params;
    if (!p.Has("lock_namespace") || !p.Has("lock_name")) continue;
    for (auto& slot : RebootLockSlots(p.GetString("lock_namespace"), p.GetString("lock_name"),
                                      p.Has("concurrency") ? p.GetInt("concurrency") : 1))
      if (seen.insert(slot).second) in.lock_slots.push_back(slot);
  }
  if (in.lock_slots.empty()) in.lock_slots = RebootLockSlots("", "", 1);  // drain-and-reboot's defaults
  json out = ReadClusterView(**client, in);
  out["available"] = true;
  out["server"] = config->server;
  return out;
}

}  // namespace

int FullAgentctlMain(int argc, char** argv) {
  Local local;
  return AgentctlMain(argc, argv, &local);
}

}  // namespace nodeagent
