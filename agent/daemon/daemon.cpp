#include "daemon/daemon.h"

#include <signal.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <boost/asio.hpp>

#include <map>

#include "audit/audit_log.h"
#include "daemon/control_operations.h"
#include "daemon/control_protocol.h"
#include "daemon/control_server.h"
#include "daemon/introspection.h"
#include "daemon/metrics_listener.h"
#include "daemon/run_supervisor.h"
#include "daemon/worker_protocol.h"
#include "host/local_file_system.h"
#include "host/local_host.h"
#include "loader/agent_setup.h"
#include "metrics/metrics.h"
#include "runner/run_executor.h"
#include "runner/secret_scrubber.h"
#include "scheduler/task_planner.h"
#include "spdlog/spdlog.h"
#include "state/history_store.h"
#include "state/run_lock.h"
#include "state/worker_identity.h"

#ifndef NODEAGENT_VERSION
#define NODEAGENT_VERSION "0.0.0"
#endif

namespace nodeagent {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

/// A state write that failed (disk full, read-only state dir) is logged as an
/// error; the daemon goes on, since the work it records has happened anyway.
void LogIfFailed(const Status& st, const std::string& what) {
  if (!st.ok()) spdlog::error("{}: {}", what, st.error().message());
}

int64_t NowMs() { return ToMillis(std::chrono::system_clock::now()); }

/// A run is resumed at most this often (a Resume() that keeps crashing must
/// not loop forever).
constexpr int kMaxResumes = 3;

std::string SignalName(int sig) {
  const char* d = ::sigdescr_np(sig);
  return std::string(::sigabbrev_np(sig) ? std::string("SIG") + ::sigabbrev_np(sig) : "signal " + std::to_string(sig)) +
         (d ? " (" + std::string(d) + ")" : "");
}

std::string CodeOf(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kPermissionDenied: return "permission_denied";
    default: return "error";
  }
}

}  // namespace

/// A run the daemon tracks: what it runs (kept alive across reloads), the
/// locks it holds, its worker's supervisor and the clients following it.
struct ActiveRun {
  std::shared_ptr<AgentSetup> setup;  // keeps the ActionInfo alive across reloads
  PreparedRun prepared;
  RunLocks locks;
  std::unique_ptr<RunSupervisor> supervisor;
  std::vector<std::shared_ptr<ReplyStream>> followers;
  std::string last_progress;
  SecretScrubber scrubber;  // for the worker's event lines
};

/// The daemon is wiring: start-up, the schedule, recovery, reload, shutdown,
/// and the answers to control requests (ControlHandlers); the socket is the
/// ControlServer's, each worker's life its RunSupervisor's.
struct Daemon::Impl final : ControlHandlers {
  explicit Impl(DaemonOptions o)
      : options(std::move(o)), signals(io, SIGTERM, SIGINT, SIGHUP), schedule_timer(io), watchdog_timer(io),
        shutdown_timer(io) {}

  DaemonOptions options;
  asio::io_context io;
  std::unique_ptr<ControlServer> control;
  asio::signal_set signals;
  asio::system_timer schedule_timer;
  asio::steady_timer watchdog_timer;
  asio::steady_timer shutdown_timer;
  std::shared_ptr<AgentSetup> setup;
  std::unique_ptr<RealHost> host;
  std::unique_ptr<HistoryStore> history;
  std::unique_ptr<TaskStateStore> task_state;
  std::unique_ptr<TaskPlanner> planner;
  std::map<std::string, std::shared_ptr<ActiveRun>> runs;
  std::chrono::system_clock::time_point started_at = std::chrono::system_clock::now();
  std::unique_ptr<AgentMetrics> metrics;
  std::unique_ptr<MetricsListener> metrics_listener;  // `[metrics] listen`; null when off
  bool metrics_warned = false;
  void WriteMetrics();
  /// The metrics with the numbers read at the moment (runs, plugins, reboot-required).
  std::string RenderMetrics();
  Status OpenMetricsListener();
  std::string boot_id;
  bool first_start_this_boot = false;
  bool stopping = false;
  uint64_t watchdog_usec = 0;
  int exit_code = 0;

  // ---- start-up --------------------------------------------------------
  Result<std::unique_ptr<AgentSetup>> LoadSetup();
  int Start();
  Status OpenSocket();
  void BuildPlanner();
  void Recover();
  void Notify(const std::string& state) { ::sd_notify(0, state.c_str()); }
  void NotifyStatus();

  // ---- scheduling ------------------------------------------------------
  void Reschedule();
  PlanInput PlannerInput();
  bool TaskRunning(const std::string& task) const {
    for (const auto& [id, r] : runs)
      if (r->prepared.task == task) return true;
    return false;
  }

  // ---- runs ------------------------------------------------------------
  Result<std::shared_ptr<ActiveRun>> StartRun(const RunRequest& request, std::optional<RunRecord> resume = {});
  /// Starts `record`'s run again from its checkpoint (same id and parameters).
  Result<std::shared_ptr<ActiveRun>> ResumeRun(const RunRecord& record) {
    return StartRun({record.action, {}, record.dry_run, "resume", record.requested_by}, record);
  }
  Status SpawnWorker(const std::shared_ptr<ActiveRun>& run, const std::optional<json>& checkpoint);
  void HandleWorkerLine(const std::shared_ptr<ActiveRun>& run, const std::string& line);
  /// The run's worker is gone and its streams are read: record the outcome,
  /// or resume the run from its checkpoint.
  void OnRunEnded(const std::shared_ptr<ActiveRun>& run, const RunEnded& ended);

  // ---- control (ControlHandlers, one row each in ControlOperations) -----
  void OnPing(const ControlRequest& req, const Out& out) override;
  void OnStatus(const ControlRequest& req, const Out& out) override;
  void OnList(const ControlRequest& req, const Out& out) override;
  void OnDescribe(const ControlRequest& req, const Out& out) override;
  void OnHistory(const ControlRequest& req, const Out& out) override;
  void OnLogs(const ControlRequest& req, const Out& out) override;
  void OnAudit(const ControlRequest& req, const Out& out) override;
  void OnConfigShow(const ControlRequest& req, const Out& out) override;
  void OnReload(const ControlRequest& req, const Out& out) override;
  void OnCancel(const ControlRequest& req, const Out& out) override;
  void OnRun(const ControlRequest& req, const Out& out) override;
  json StatusJson();
  /// A record as the daemon answers it. A run it still tracks is running,
  /// even when its worker already wrote a final record: until the worker's
  /// exit is seen the daemon may still amend it (a timeout, a resume).
  RunRecord AsAnswered(RunRecord r) const {
    if (runs.count(r.id)) {
      r.status = RunStatus::kRunning;
      r.finished_ms = 0;
    }
    return r;
  }
  Status ReloadConfig(std::string& problems);

  // ---- stop ------------------------------------------------------------
  void OnSignal();
  void BeginShutdown();
  void FinishShutdown();
};

Daemon::Daemon(DaemonOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Daemon::~Daemon() = default;
int Daemon::Run() { return impl_->Start(); }

Result<std::unique_ptr<AgentSetup>> Daemon::Impl::LoadSetup() {
  SetupOptions so;
  so.config_path = options.config_path;
  so.config_text = options.config_text;
  so.allow_missing_config = options.allow_missing_config;
  so.plugin_probe_exe = options.worker_exe;  // a module that crashes on load must not take the daemon along
  return LoadAgentSetup(so);
}

int Daemon::Impl::Start() {
  auto loaded = LoadSetup();
  if (!loaded) {
    spdlog::critical("cannot load config: {}", loaded.error().message());
    return 2;
  }
  if (!(*loaded)->ok()) {
    spdlog::critical("invalid config, not starting:\n{}", (*loaded)->ProblemsText());
    return 2;
  }
  setup = std::move(*loaded);
  if (options.demo_showcase)
    for (auto& [name, task] : setup->tasks) task.enabled = true;
  spdlog::set_level(spdlog::level::from_str(setup->settings.log_level));
  for (const auto& p : setup->catalog.problems) spdlog::error("plugin {} not loaded: {}", p.file, p.reason);
  for (const auto& w : setup->warnings) spdlog::warn("{}", w.ToString());
  spdlog::info("nodeagent {} starting: node {}, {} plugin(s), {} action(s), {} task(s), config {}", NODEAGENT_VERSION,
               setup->settings.node_name, setup->catalog.plugins.size(), setup->catalog.All().size(),
               setup->tasks.size(), setup->config_path);
  if (setup->settings.demo) spdlog::warn("demo mode: every run is a dry run; nothing on this machine is changed");

  host = std::make_unique<RealHost>(setup->settings.root);
  history = std::make_unique<HistoryStore>(setup->settings.state_dir);
  task_state = std::make_unique<TaskStateStore>(setup->settings.state_dir);
  if (Status st = history->Init(); !st.ok()) {
    spdlog::critical("state dir: {}", st.error().message());
    return 1;
  }
  auto boot = host->BootId();
  boot_id = boot ? *boot : "";
  {
    std::string marker = setup->settings.state_dir + "/boot_id";
    auto last = ReadWholeFile(marker);
    first_start_this_boot = !last || Trim(*last) != boot_id;
    if (Status st = WriteFileAtomically(marker, boot_id + "\n", 0640); !st.ok())
      spdlog::warn("cannot record boot id: {}", st.error().message());
  }
  if (Status st = OpenSocket(); !st.ok()) {
    spdlog::critical("control socket: {}", st.error().message());
    return 1;
  }
  // An address the operator set and the daemon cannot bind stops it here, as
  // the control socket does: a daemon that runs on without the endpoint it was
  // told to serve shows up only as a scrape target down, far from the cause.
  if (Status st = OpenMetricsListener(); !st.ok()) {
    spdlog::critical("{}", st.error().message());
    return 1;
  }
  BuildPlanner();
  metrics = std::make_unique<AgentMetrics>(NODEAGENT_VERSION, NowMs());
  for (const auto& [name, task] : setup->tasks) {
    for (const auto& r : history->List(name, 5)) {
      if (r.status == RunStatus::kRunning) continue;
      metrics->Seed(r);
      break;
    }
  }
  OnSignal();  // arms the handler for SIGTERM, SIGINT, SIGHUP
  control->Start();
  if (metrics_listener) metrics_listener->Start();
  Recover();
  WriteMetrics();
  if (::sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
    auto schedule_ping = std::make_shared<std::function<void()>>();
    *schedule_ping = [this, schedule_ping] {
      Notify("WATCHDOG=1");
      watchdog_timer.expires_after(std::chrono::microseconds(watchdog_usec / 2));
      watchdog_timer.async_wait([schedule_ping](auto ec) {
        if (!ec) (*schedule_ping)();
      });
    };
    (*schedule_ping)();
  }
  if (options.demo_showcase) {
    for (const auto& [name, task] : setup->tasks) {
      auto started = StartRun({name, {}, true, "demo", "demo"});
      if (!started) spdlog::warn("demo: task {} did not start: {}", name, started.error().message());
    }
  }
  Reschedule();
  Notify("READY=1");
  NotifyStatus();
  spdlog::info("ready; listening on {}", setup->settings.socket);
  io.run();
  return exit_code;
}

Status Daemon::Impl::OpenSocket() {
  auto dispatcher = ControlDispatcher::Make(ControlOperations(*this));
  if (!dispatcher) return dispatcher.error();
  control = std::make_unique<ControlServer>(io, std::move(*dispatcher));
  return control->Listen(setup->settings.socket, setup->settings.socket_group);
}

void Daemon::Impl::BuildPlanner() { planner = MakePlanner(*setup, *host); }

PlanInput Daemon::Impl::PlannerInput() {
  return MakePlanInput(task_state->Load(), started_at, boot_id, first_start_this_boot);
}

void Daemon::Impl::Reschedule() {
  if (stopping || !planner) return;
  SchedulePlan plan = planner->Compute(PlannerInput());
  bool acted = false;
  for (const TaskPlan& tp : plan.tasks) {
    if (!tp.due_now || TaskRunning(tp.name)) continue;  // a running task is rescheduled when it ends
    acted = true;
    const char* trigger = tp.reason == DueReason::kCatchUp ? "catch-up" : tp.reason == DueReason::kBoot ? "boot" : "schedule";
    LogIfFailed(task_state->Record(tp.name, {NowMs(), boot_id}), "recording when task " + tp.name + " last ran");
    auto started = StartRun({tp.name, {}, false, trigger, "scheduler"});
    if (started) continue;
    spdlog::warn("task {} was due ({}) but did not start: {}", tp.name, trigger, started.error().message());
    RunRecord skipped;
    skipped.id = NewRunId(std::chrono::system_clock::now());
    skipped.task = tp.name;
    auto it = setup->tasks.find(tp.name);
    skipped.action = it != setup->tasks.end() ? it->second.action : "";
    skipped.node = setup->settings.node_name;
    skipped.trigger = trigger;
    skipped.requested_by = "scheduler";
    skipped.status = RunStatus::kSkipped;
    skipped.summary = "not started: " + started.error().message();
    skipped.started_ms = skipped.finished_ms = NowMs();
    LogIfFailed(history->Put(skipped), "recording run " + skipped.id);
  }
  first_start_this_boot = false;  // @reboot tasks were handled on this pass
  if (acted) plan = planner->Compute(PlannerInput());
  std::optional<TimePoint> wake;
  for (const TaskPlan& tp : plan.tasks) {
    if (tp.due_now || !tp.next_due || TaskRunning(tp.name)) continue;
    if (!wake || *tp.next_due < *wake) wake = tp.next_due;
  }
  schedule_timer.cancel();
  if (wake) {
    schedule_timer.expires_at(*wake);
    schedule_timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) Reschedule();
    });
  }
  NotifyStatus();
}

void Daemon::Impl::NotifyStatus() {
  std::string s = "STATUS=" + std::to_string(runs.size()) + " run(s) in progress, " +
                  std::to_string(setup->tasks.size()) + " task(s)";
  if (setup->settings.demo) s += ", demo mode";
  Notify(s);
}

void Daemon::Impl::Recover() {
  for (RunRecord& r : history->Unfinished()) {
    // A worker of a killed daemon may still be alive (its death signal is
    // SIGTERM, which a stuck plugin may ignore): end it first, but only when
    // that pid is provably the same process (after a reboot it is a stranger's).
    if (r.worker_pid > 0) {
      std::string why;
      if (KillIfOurWorker({r.worker_pid, r.worker_start_ticks, r.worker_kernel_boot_id}, options.worker_exe, why))
        spdlog::warn("run {}: stopped leftover worker pid {}", r.id, r.worker_pid);
      else
        spdlog::debug("run {}: pid {} left alone: {}", r.id, r.worker_pid, why);
    }
    const ActionInfo* action = setup->catalog.Find(r.action);
    auto checkpoint = history->LoadCheckpoint(r.id);
    if (action && action->resumable && checkpoint && r.resumes < kMaxResumes) {
      spdlog::info("run {} ({}) was interrupted after a checkpoint; resuming", r.id, r.action);
      auto started = ResumeRun(r);
      if (started) continue;
      spdlog::error("run {}: cannot resume: {}", r.id, started.error().message());
    }
    r.status = RunStatus::kInterrupted;
    r.summary = "interrupted: the agent stopped (crash, kill or reboot) before the run finished";
    r.finished_ms = NowMs();
    r.logs = history->ReadLiveLog(r.id);
    LogIfFailed(history->Put(r), "recording run " + r.id);
    spdlog::warn("run {} ({}) marked interrupted", r.id, r.action);
  }
}

Result<std::shared_ptr<ActiveRun>> Daemon::Impl::StartRun(const RunRequest& request, std::optional<RunRecord> resume) {
  if (stopping) return Error(ErrorCode::kUnavailable, "the agent is shutting down");
  RunExecutor executor(setup->settings, setup->raw, setup->tasks, setup->catalog, *host, *history, {});
  // A resumed run is prepared by its action: its task may have left the config since.
  auto prepared = executor.Prepare(request);
  if (!prepared) {
    if (prepared.error().code() != ErrorCode::kNotFound) return prepared.error();
    return Error(ErrorCode::kNotFound,
                 prepared.error().message() + " (" + SourcesSentence(SourcesJson(*setup)) + ")");
  }
  auto run = std::make_shared<ActiveRun>();
  run->setup = setup;
  run->prepared = std::move(*prepared);
  std::optional<json> checkpoint;
  if (resume) {
    // Same run, same parameters as when it started.
    run->prepared.record = *resume;
    run->prepared.task = resume->task;
    run->prepared.params = ResumeParams(*resume, *history);
    run->prepared.dry_run = resume->dry_run;
    if (resume->timeout_ms > 0) run->prepared.timeout = Duration(resume->timeout_ms);
    checkpoint = history->LoadCheckpoint(resume->id);
  }
  run->scrubber = SecretScrubber(run->prepared.action->params, run->prepared.params);
  RunRecord& rec = run->prepared.record;
  auto locks = AcquireRunLocks(setup->settings.state_dir, run->prepared);
  if (!locks) return locks.error();
  run->locks = std::move(*locks);
  if (rec.started_ms == 0) rec.started_ms = NowMs();
  if (rec.boot_id.empty()) rec.boot_id = boot_id;
  if (Status st = SpawnWorker(run, checkpoint); !st.ok()) return st.error();
  runs[rec.id] = run;
  spdlog::info("run {} started: {}{} ({}, {}{})", rec.id, rec.action, rec.task.empty() ? "" : " for task " + rec.task,
               rec.trigger, rec.requested_by.empty() ? "unknown" : rec.requested_by, rec.dry_run ? ", dry run" : "");
  NotifyStatus();
  return run;
}

Status Daemon::Impl::SpawnWorker(const std::shared_ptr<ActiveRun>& run, const std::optional<json>& checkpoint) {
  WorkerRequest wr;
  wr.settings = setup->settings;
  wr.action = run->prepared.action->name;
  wr.plugin_file = run->prepared.action->source;
  wr.params_wire = ParamsToWire(run->prepared.params);
  wr.dry_run = run->prepared.dry_run;
  wr.record = run->prepared.record;
  wr.checkpoint = checkpoint;
  std::weak_ptr<ActiveRun> weak = run;  // the run owns its supervisor: no cycle
  RunSupervisorCallbacks callbacks;
  callbacks.on_event_line = [this, weak](const std::string& line) {
    if (auto r = weak.lock()) HandleWorkerLine(r, line);
  };
  callbacks.on_ended = [this, weak](const RunEnded& ended) {
    if (auto r = weak.lock()) OnRunEnded(r, ended);
  };
  run->supervisor = std::make_unique<RunSupervisor>(
      io,
      RunSupervisorOptions{run->prepared.record.id, options.worker_exe, run->prepared.timeout, setup->settings.kill_grace,
                           run->scrubber},
      std::move(callbacks));
  if (Status st = run->supervisor->Spawn(); !st.ok()) return st;
  pid_t pid = run->supervisor->pid();
  run->prepared.record.worker_pid = pid;
  if (auto who = ReadWorkerIdentity(pid)) {
    run->prepared.record.worker_start_ticks = who->start_ticks;
    run->prepared.record.worker_kernel_boot_id = who->kernel_boot_id;
  }
  run->prepared.record.status = RunStatus::kRunning;
  // Recorded before the worker does anything.
  LogIfFailed(history->Put(run->prepared.record), "recording run " + run->prepared.record.id);
  run->supervisor->Supervise(ToJson(wr).dump());
  return Status::Ok();
}

void Daemon::Impl::HandleWorkerLine(const std::shared_ptr<ActiveRun>& run, const std::string& line) {
  json ev = json::parse(line, nullptr, false);
  if (ev.is_discarded() || !ev.is_object()) {
    spdlog::warn("run {}: unexpected worker output: {}", run->prepared.record.id, run->scrubber.Scrub(line));
    return;
  }
  std::string type = ev.value("type", "");
  if (type == "log") {
    LogLine l = LogLineFromJson(ev.value("line", json::object()));
    auto level = l.level == LogLevel::kError ? spdlog::level::err
                 : l.level == LogLevel::kWarning ? spdlog::level::warn
                 : l.level == LogLevel::kDebug ? spdlog::level::debug
                                                 : spdlog::level::info;
    spdlog::log(level, "[{} {}] {}", run->prepared.record.action, run->prepared.record.id, run->scrubber.Scrub(l.message));
  } else if (type == "progress") {
    run->last_progress = ev.value("message", "");
  }
  if (type == "result") return;  // the record in the history is the truth
  for (auto& s : run->followers) s->Send(ev);
}

// The textfile collector's file, through the host seam (under agent.root):
// written at start and after every run. The default path only when
// node-exporter's folder exists; a configured one gets its folder made. Not
// in demo mode unless configured (a demo changes nothing on the machine). A
// failure is a warning once, never a stop.
std::string Daemon::Impl::RenderMetrics() {
  metrics->SetRunsInProgress(runs.size());
  metrics->SetPlugins(setup->catalog.plugins.size(), setup->catalog.problems.size());
  metrics->SetRebootRequired(host->files().Exists("/var/run/reboot-required"));
  return metrics->Render();
}

Status Daemon::Impl::OpenMetricsListener() {
  const std::string& listen = setup->settings.metrics_listen;
  if (listen.empty()) return Status::Ok();
  auto address = ParseListenAddress(listen);  // the config checked it already
  if (!address) return address.error();
  metrics_listener = std::make_unique<MetricsListener>(io, [this] { return RenderMetrics(); });
  if (Status st = metrics_listener->Listen(*address); !st.ok()) return st;
  spdlog::info("serving metrics on http://{}/metrics", address->ToString());
  return Status::Ok();
}

void Daemon::Impl::WriteMetrics() {
  const std::string& path = setup->settings.metrics_textfile;
  const bool configured = setup->settings.metrics_textfile_configured;
  if (!metrics || !host || path.empty() || (setup->settings.demo && !configured)) return;
  // WriteFileAtomic makes a missing folder; only a configured path may.
  if (!configured && !host->files().Exists(path.substr(0, path.rfind('/')))) return;
  Status st = host->files().WriteFileAtomic(path, RenderMetrics(), 0644);
  if (!st.ok() && !metrics_warned) spdlog::warn("metrics textfile: {}", st.error().message());
  metrics_warned = !st.ok();
}

void Daemon::Impl::OnRunEnded(const std::shared_ptr<ActiveRun>& run, const RunEnded& ended) {
  if (!runs.count(run->prepared.record.id)) return;  // already finished
  const bool timed_out = ended.stop_reason == StopReason::kTimedOut;
  const bool cancelled = ended.stop_reason == StopReason::kCancelled;
  auto stored = history->Get(run->prepared.record.id);
  RunRecord rec = stored ? *stored : run->prepared.record;
  if (rec.status == RunStatus::kRunning) {
    int st = ended.native_status;
    bool resumable = run->prepared.action->resumable && history->LoadCheckpoint(rec.id).has_value();
    if (stopping && resumable) {
      spdlog::info("run {} left resumable for the next start", rec.id);
    } else if (resumable && rec.resumes < kMaxResumes) {
      // The worker died (crash, kill, timeout) holding a checkpoint: resume
      // now so the action can finish or undo (never leave a node cordoned).
      spdlog::warn("run {}: worker ended without finishing ({}); resuming from its checkpoint", rec.id,
                   WIFSIGNALED(st) ? SignalName(WTERMSIG(st)) : "exit " + std::to_string(WEXITSTATUS(st)));
      auto followers = run->followers;
      runs.erase(rec.id);
      run->locks = RunLocks{};  // the resumed run takes them again
      auto resumed = ResumeRun(rec);
      if (resumed) {
        (*resumed)->followers = followers;
        return;
      }
      spdlog::error("run {}: cannot resume: {}", rec.id, resumed.error().message());
      rec.status = RunStatus::kFailed;
      rec.summary = "the worker died and the run could not be resumed: " + resumed.error().message();
      rec.finished_ms = NowMs();
      LogIfFailed(history->Put(rec), "recording run " + rec.id);
      runs[rec.id] = run;
    } else {
      if (timed_out) {
        rec.status = RunStatus::kFailed;
        rec.summary = "timed out after " + FormatDuration(run->prepared.timeout) + "; the run was killed";
      } else if (cancelled || stopping) {
        rec.status = RunStatus::kInterrupted;
        rec.summary = stopping ? "interrupted: the agent was stopping" : "cancelled";
      } else if (WIFSIGNALED(st)) {
        rec.status = RunStatus::kFailed;
        rec.summary = "the run's worker was killed by " + SignalName(WTERMSIG(st)) + "; the agent is unaffected";
      } else {
        rec.status = RunStatus::kFailed;
        rec.summary = "the run's worker exited with code " + std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : -1) +
                      " without a result";
      }
      rec.finished_ms = NowMs();
      rec.logs = history->ReadLiveLog(rec.id);
      LogIfFailed(history->Put(rec), "recording run " + rec.id);
    }
  } else if (timed_out) {
    // Whatever the action made of being cancelled, say why it was.
    rec.summary = "timed out after " + FormatDuration(run->prepared.timeout) + ": " + rec.summary;
    rec.status = RunStatus::kFailed;
    LogIfFailed(history->Put(rec), "recording run " + rec.id);
  }
  spdlog::log(rec.status == RunStatus::kFailed ? spdlog::level::warn : spdlog::level::info, "run {} {}: {}", rec.id,
              RunStatusName(rec.status), rec.summary);
  json result = {{"type", "result"}, {"record", ToJson(rec, false)}};
  for (auto& s : run->followers) s->Send(result, true);
  runs.erase(rec.id);
  if (metrics) {
    metrics->Observe(rec);
    WriteMetrics();
  }
  if (stopping) {
    if (runs.empty()) FinishShutdown();
    return;
  }
  if (!rec.task.empty())
    LogIfFailed(task_state->Record(rec.task, {rec.started_ms, rec.boot_id}), "recording when task " + rec.task + " last ran");
  Reschedule();
}

// ---- control requests (one row each in ControlOperations) ---------------

void Daemon::Impl::OnPing(const ControlRequest&, const Out& out) {
  out->Send({{"type", "pong"}, {"version", NODEAGENT_VERSION}}, true);
}

void Daemon::Impl::OnStatus(const ControlRequest&, const Out& out) { out->Send(StatusJson(), true); }

void Daemon::Impl::OnList(const ControlRequest&, const Out& out) {
  out->Send(ListJson(*setup, planner.get(), *task_state, started_at, boot_id,
                     [this](const std::string& t) { return TaskRunning(t); }),
            true);
}

void Daemon::Impl::OnDescribe(const ControlRequest& req, const Out& out) {
  std::string name = req.body.value("action", "");
  if (const ActionInfo* a = setup->catalog.Find(name)) out->Send({{"type", "action"}, {"action", ActionToJson(*a)}}, true);
  else out->Send(ErrorReply("not_found", UnknownActionMessage(name, *setup)), true);
}

void Daemon::Impl::OnHistory(const ControlRequest& req, const Out& out) {
  size_t n = std::min<size_t>(req.body.value("n", 20), 10000);  // bounded: one answer, one buffer
  json answer = {{"type", "history"}, {"runs", json::array()}};
  for (const auto& r : history->List(req.body.value("task", ""), n)) answer["runs"].push_back(ToJson(AsAnswered(r), false));
  out->Send(answer, true);
}

void Daemon::Impl::OnLogs(const ControlRequest& req, const Out& out) {
  if (auto offset = req.body.find("list_offset"); offset != req.body.end()) {
    // A page of the run's full list: at most 1 MiB, whole lines.
    bool eof = true;
    int64_t from = offset->is_number_integer() ? offset->get<int64_t>() : -1;
    if (from < 0) return out->Send(ErrorReply("bad_request", "list_offset: expected an offset >= 0"), true);
    auto text = history->ReadList(req.body.value("run_id", ""), from, size_t{1} << 20, eof);
    if (!text) return out->Send(ErrorReply("not_found", text.error().message()), true);
    int64_t next = from + static_cast<int64_t>(text->size());
    return out->Send({{"type", "run-list"}, {"text", *text}, {"next_offset", next}, {"eof", eof || text->empty()}},
                     true);
  }
  auto r = history->Get(req.body.value("run_id", ""));
  if (!r) out->Send(ErrorReply("not_found", r.error().message()), true);
  else out->Send({{"type", "run"}, {"record", ToJson(AsAnswered(*r), true)}}, true);
}

// Read on the loop, like history: at most [audit] max_files x max_file_mib
// (40 MiB by default) of lines, and an answer of at most 4 MiB.
void Daemon::Impl::OnAudit(const ControlRequest& req, const Out& out) {
  out->Send(AuditAnswer(setup->settings.state_dir + "/audit", AuditQueryFromRequest(req.body)), true);
}

void Daemon::Impl::OnConfigShow(const ControlRequest&, const Out& out) {
  out->Send({{"type", "config"},
             {"text", RenderEffectiveConfig(setup->settings, setup->tasks)},
             {"files", setup->raw.files}},
            true);
}

void Daemon::Impl::OnReload(const ControlRequest&, const Out& out) {
  // As for SIGHUP: systemd sees the reload begin and end (the unit's
  // ExecReload is `agentctl reload`), READY=1 before the reply, so
  // systemd takes agentctl's exit code as the reload's result.
  Notify("RELOADING=1");
  std::string problems;
  nodeagent::Status st = ReloadConfig(problems);
  Notify("READY=1");
  NotifyStatus();
  if (st.ok()) out->Send({{"type", "reloaded"}, {"tasks", setup->tasks.size()}}, true);
  else out->Send(ErrorReply("invalid_config", problems), true);
}

void Daemon::Impl::OnCancel(const ControlRequest& req, const Out& out) {
  auto it = runs.find(req.body.value("run_id", ""));
  if (it == runs.end()) {
    out->Send(ErrorReply("not_found", "no run '" + req.body.value("run_id", "") + "' in progress"), true);
  } else {
    it->second->supervisor->Cancel();
    out->Send({{"type", "cancelling"}, {"run_id", it->first}}, true);
  }
}

void Daemon::Impl::OnRun(const ControlRequest& req, const Out& out) {
  RunRequest rr;
  rr.target = req.body.value("target", "");
  rr.overrides = req.body.value("set", std::vector<std::string>{});
  rr.dry_run = req.body.value("dry_run", false);
  rr.preview = req.body.value("preview", false);  // agentctl run --confirm: the plan to show
  rr.confirmed_plan = req.body.value("confirmed_plan", "");  // ... and the plan confirmed
  rr.trigger = "manual";
  rr.requested_by = "uid " + std::to_string(req.peer.uid) + " (pid " + std::to_string(req.peer.pid) + ")";
  auto run = StartRun(rr);
  if (!run) {
    out->Send(ErrorReply(CodeOf(run.error()), run.error().message()), true);
    return;
  }
  json started = {{"type", "started"}, {"run_id", (*run)->prepared.record.id},
                  {"action", (*run)->prepared.record.action}, {"dry_run", (*run)->prepared.dry_run}};
  if (req.body.value("follow", true)) {
    out->Send(started);
    (*run)->followers.push_back(out);
  } else {
    out->Send(started, true);
  }
}

json Daemon::Impl::StatusJson() {
  json s = {{"type", "status"},
            {"version", NODEAGENT_VERSION},
            {"pid", ::getpid()},
            {"node", setup->settings.node_name},
            {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - started_at).count()},
            {"demo", setup->settings.demo},
            {"config_files", setup->raw.files},
            {"sources", SourcesJson(*setup)},
            {"boot_id", boot_id},
            {"plugins", setup->catalog.plugins},
            {"plugin_problems", PluginProblemsJson(*setup)},
            {"running", json::array()},
            {"tasks", TasksJson(*setup, planner.get(), *task_state, started_at, boot_id,
                                [this](const std::string& t) { return TaskRunning(t); })}};
  for (const auto& [id, r] : runs)
    s["running"].push_back({{"run_id", id},
                            {"action", r->prepared.record.action},
                            {"task", r->prepared.task},
                            {"started_ms", r->prepared.record.started_ms},
                            {"progress", r->last_progress}});
  return s;
}

Status Daemon::Impl::ReloadConfig(std::string& problems) {
  auto loaded = LoadSetup();
  if (!loaded) {
    problems = loaded.error().message();
    spdlog::error("reload refused, keeping the running config: {}", problems);
    return loaded.error();
  }
  if (!(*loaded)->ok()) {
    problems = (*loaded)->ProblemsText();
    spdlog::error("reload refused, keeping the running config:\n{}", problems);
    return InvalidArgument(problems);
  }
  const auto& old = setup->settings;
  const auto& neu = (*loaded)->settings;
  if (old.socket != neu.socket || old.state_dir != neu.state_dir || old.root != neu.root ||
      old.metrics_listen != neu.metrics_listen)
    spdlog::warn("agent.socket, agent.state_dir, agent.root and metrics.listen changes take effect at the next restart");
  auto next = std::shared_ptr<AgentSetup>(std::move(*loaded));
  next->settings.metrics_listen = old.metrics_listen;
  next->settings.socket = old.socket;
  next->settings.state_dir = old.state_dir;
  next->settings.root = old.root;
  setup = next;
  spdlog::set_level(spdlog::level::from_str(setup->settings.log_level));
  BuildPlanner();
  Reschedule();
  for (const auto& w : setup->warnings) spdlog::warn("{}", w.ToString());
  spdlog::info("config reloaded: {} task(s), {} action(s)", setup->tasks.size(), setup->catalog.All().size());
  return Status::Ok();
}

// ---- signals and shutdown -----------------------------------------------

void Daemon::Impl::OnSignal() {
  signals.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      Notify("RELOADING=1");
      std::string problems;
      (void)ReloadConfig(problems);
      Notify("READY=1");
      NotifyStatus();
    } else {
      BeginShutdown();
    }
    OnSignal();
  });
}

void Daemon::Impl::BeginShutdown() {
  if (stopping) {
    spdlog::warn("second stop signal: stopping now");
    for (auto& [id, r] : runs) r->supervisor->Kill();
    FinishShutdown();
    return;
  }
  stopping = true;
  Notify("STOPPING=1");
  spdlog::info("stopping: {} run(s) in progress get {} to finish", runs.size(),
               FormatDuration(setup->settings.shutdown_grace));
  control->Close();
  if (metrics_listener) metrics_listener->Close();
  schedule_timer.cancel();
  if (runs.empty()) {
    FinishShutdown();
    return;
  }
  for (auto& [id, r] : runs) r->supervisor->Terminate();  // cooperative actions stop and checkpoint
  shutdown_timer.expires_after(setup->settings.shutdown_grace);
  shutdown_timer.async_wait([this](boost::system::error_code ec2) {
    if (ec2) return;
    for (auto& [id, r] : runs) {
      spdlog::warn("run {} did not stop in time; killing it", id);
      r->supervisor->Kill();
    }
  });
}

void Daemon::Impl::FinishShutdown() {
  shutdown_timer.cancel();
  watchdog_timer.cancel();
  schedule_timer.cancel();
  ::unlink(setup->settings.socket.c_str());
  spdlog::info("stopped");
  io.stop();
}

}  // namespace nodeagent
