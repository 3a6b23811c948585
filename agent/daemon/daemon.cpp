#include "daemon/daemon.h"

#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <boost/optional.hpp>
#include <boost/type_traits.hpp>
// (Boost 1.81's Process v2 needs the two headers above first.)
#include <boost/asio.hpp>
#include <boost/process/v2.hpp>

#include "host/inherited_fds.h"
#include <deque>
#include <map>
#include <set>

#include "daemon/control_protocol.h"
#include "daemon/introspection.h"
#include "daemon/worker_protocol.h"
#include "host/local_file_system.h"
#include "host/local_host.h"
#include "loader/agent_setup.h"
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
namespace bp = boost::process::v2;
using asio::local::stream_protocol;
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

/// Bounds on what the daemon reads and queues (see docs/architecture.md,
/// "Bounds"). A line a worker writes on its event stream (stdout) longer than
/// this is dropped with a warning; the run's history has it anyway.
constexpr size_t kMaxWorkerEventBytes = 1024 * 1024;
/// A line on a worker's stderr (a plugin printing to stdout or stderr) is
/// logged cut at this length.
constexpr size_t kMaxWorkerStderrLineBytes = 64 * 1024;
/// A client that reads its lines slower than they come: progress lines are
/// dropped once this much waits for it...
constexpr size_t kSubscriberProgressDropBytes = 256 * 1024;
/// ...and it is disconnected once this much would (it can read the run's
/// outcome with `agentctl logs`).
constexpr size_t kSubscriberMaxQueuedBytes = 8 * 1024 * 1024;
/// After accept() fails for want of descriptors (EMFILE, ENFILE) or memory,
/// the daemon tries again this much later instead of at once (a busy loop).
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(250);

/// One counted control connection (ConnectionTable); ends with the last
/// holder: the session's handlers or the Subscriber that took its socket.
struct ConnectionSlot {
  ConnectionSlot(std::shared_ptr<ConnectionTable> t, uid_t u) : table(std::move(t)), uid(u) {}
  ~ConnectionSlot() { table->Close(uid); }
  std::shared_ptr<ConnectionTable> table;
  uid_t uid;
};

/// One client waiting for lines (a followed run). Writes are queued so a slow
/// client never blocks the loop; progress is dropped when the queue is long,
/// and a client whose queue outgrows kSubscriberMaxQueuedBytes is dropped.
struct Subscriber : std::enable_shared_from_this<Subscriber> {
  Subscriber(stream_protocol::socket s, std::shared_ptr<ConnectionSlot> c) : sock(std::move(s)), slot(std::move(c)) {}
  stream_protocol::socket sock;
  std::shared_ptr<ConnectionSlot> slot;  // released when the socket closes
  std::deque<std::string> queue;
  size_t queued_bytes = 0;
  bool writing = false;
  bool close_after = false;

  void Send(const json& line, bool last = false) {
    if (!sock.is_open()) return;
    if (queued_bytes > kSubscriberProgressDropBytes && line.value("type", "") == "progress") return;
    std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    if (!queue.empty() && queued_bytes + text.size() > kSubscriberMaxQueuedBytes) {
      spdlog::warn("control client (uid {}) reads too slowly: {} bytes wait for it; disconnecting it",
                   slot ? std::to_string(slot->uid) : "?", queued_bytes);
      Close();
      return;
    }
    queued_bytes += text.size();
    queue.push_back(std::move(text));
    if (last) close_after = true;
    Pump();
  }
  void Close() {
    // A write in flight keeps its buffer (the front) until its handler runs.
    while (queue.size() > (writing ? 1u : 0u)) queue.pop_back();
    queued_bytes = queue.empty() ? 0 : queue.front().size();
    boost::system::error_code ignored;
    sock.shutdown(stream_protocol::socket::shutdown_both, ignored);
    sock.close(ignored);
    slot.reset();
  }
  void Pump() {
    if (writing || queue.empty()) {
      if (!writing && queue.empty() && close_after) Close();
      return;
    }
    writing = true;
    auto self = shared_from_this();
    asio::async_write(sock, asio::buffer(queue.front()), [self](boost::system::error_code ec, size_t) {
      self->writing = false;
      if (ec || !self->sock.is_open()) {  // failed, or closed while writing
        self->Close();
        return;
      }
      self->queued_bytes -= self->queue.front().size();
      self->queue.pop_front();
      self->Pump();
    });
  }
};

}  // namespace

struct ActiveRun {
  std::shared_ptr<AgentSetup> setup;  // keeps the ActionInfo alive across reloads
  PreparedRun prepared;
  RunLocks locks;
  std::unique_ptr<bp::process> proc;
  std::unique_ptr<asio::readable_pipe> out;
  std::unique_ptr<asio::readable_pipe> err;
  std::unique_ptr<asio::writable_pipe> in;
  std::string request;
  std::string out_buf, err_buf;
  bool out_skipping = false, err_skipping = false;  // the rest of a line over the cap
  std::unique_ptr<asio::steady_timer> timeout_timer, kill_timer;
  std::vector<std::shared_ptr<Subscriber>> subscribers;
  pid_t pid = 0;
  bool exited = false, out_eof = false, err_eof = false;
  int native_status = 0;
  bool timed_out = false, cancelled = false;
  std::string last_progress;
  SecretScrubber scrubber;  // for what the worker prints on its own stderr
};

struct Daemon::Impl {
  explicit Impl(DaemonOptions o)
      : options(std::move(o)), acceptor(io), signals(io, SIGTERM, SIGINT, SIGHUP), schedule_timer(io),
        watchdog_timer(io), shutdown_timer(io), accept_retry_timer(io) {}

  DaemonOptions options;
  asio::io_context io;
  stream_protocol::acceptor acceptor;
  asio::signal_set signals;
  asio::system_timer schedule_timer;
  asio::steady_timer watchdog_timer;
  asio::steady_timer shutdown_timer;
  asio::steady_timer accept_retry_timer;
  bool accept_failing = false;  // accept() failed; retrying after kAcceptRetryDelay
  std::shared_ptr<ConnectionTable> connections = std::make_shared<ConnectionTable>();
  std::optional<std::chrono::steady_clock::time_point> last_refusal_log;
  int refusals_since_log = 0;
  std::shared_ptr<AgentSetup> setup;
  std::unique_ptr<RealHost> host;
  std::unique_ptr<HistoryStore> history;
  std::unique_ptr<TaskStateStore> task_state;
  std::unique_ptr<TaskPlanner> planner;
  std::map<std::string, std::shared_ptr<ActiveRun>> runs;
  std::chrono::system_clock::time_point started_at = std::chrono::system_clock::now();
  std::string boot_id;
  bool first_start_this_boot = false;
  bool stopping = false;
  long group_gid = -1;
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
  void ReadWorkerOut(std::shared_ptr<ActiveRun> run);
  void ReadWorkerErr(std::shared_ptr<ActiveRun> run);
  void HandleWorkerLine(const std::shared_ptr<ActiveRun>& run, const std::string& line);
  void MaybeFinish(const std::shared_ptr<ActiveRun>& run);
  void StopRun(const std::shared_ptr<ActiveRun>& run, bool timeout);

  // ---- control ---------------------------------------------------------
  void Accept();
  void HandleSession(std::shared_ptr<stream_protocol::socket> sock);
  void Dispatch(std::shared_ptr<stream_protocol::socket> sock, std::shared_ptr<ConnectionSlot> slot,
                const PeerCredentials& peer, const std::string& text);
  json StatusJson();
  json ListJson();
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
  Status Reload(std::string& problems);

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
  BuildPlanner();
  OnSignal();  // arms the handler for SIGTERM, SIGINT, SIGHUP
  Accept();
  Recover();
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
  const std::string& path = setup->settings.socket;
  auto slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    Status st = MakeDirsReal(path.substr(0, slash), 0755);
    if (!st.ok()) return st;
  }
  // A socket left by a crashed daemon is replaced; a live one is not.
  {
    stream_protocol::socket probe(io);
    boost::system::error_code ec;
    probe.connect(stream_protocol::endpoint(path), ec);
    if (!ec) return Error(ErrorCode::kAlreadyExists, "another nodeagent is already listening on " + path);
    ::unlink(path.c_str());
  }
  struct group grp, *found = nullptr;
  std::vector<char> buf(16384);
  if (::getgrnam_r(setup->settings.socket_group.c_str(), &grp, buf.data(), buf.size(), &found) == 0 && found)
    group_gid = found->gr_gid;
  mode_t old_umask = ::umask(0177);  // never world-accessible, even for an instant
  boost::system::error_code ec;
  acceptor.open(stream_protocol(), ec);
  if (!ec) acceptor.bind(stream_protocol::endpoint(path), ec);
  if (!ec) acceptor.listen(64, ec);
  ::umask(old_umask);
  if (ec) return Error(ErrorCode::kIo, "cannot listen on " + path + ": " + ec.message());
  if (group_gid >= 0) {
    if (::chown(path.c_str(), 0, static_cast<gid_t>(group_gid)) != 0 && ::geteuid() == 0)
      spdlog::warn("chown {}: {}", path, std::strerror(errno));
    ::chmod(path.c_str(), 0660);
  } else {
    ::chmod(path.c_str(), 0600);
    spdlog::info("group '{}' does not exist: control socket is root-only (0600)", setup->settings.socket_group);
  }
  return Status::Ok();
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
  if (!prepared) return prepared.error();
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
  run->request = ToJson(wr).dump();
  run->out = std::make_unique<asio::readable_pipe>(io);
  run->err = std::make_unique<asio::readable_pipe>(io);
  run->in = std::make_unique<asio::writable_pipe>(io);
  try {
    run->proc = std::make_unique<bp::process>(io, options.worker_exe, std::vector<std::string>{"worker"},
                                              bp::process_stdio{*run->in, *run->out, *run->err}, ChildProcessSetup{SIGTERM});  // SIGTERM if the daemon dies: no orphan works on unseen
  } catch (const boost::system::system_error& e) {
    return Error(ErrorCode::kIo, "cannot start worker " + options.worker_exe + ": " + e.code().message());
  }
  run->pid = run->proc->id();
  run->prepared.record.worker_pid = run->pid;
  if (auto who = ReadWorkerIdentity(run->pid)) {
    run->prepared.record.worker_start_ticks = who->start_ticks;
    run->prepared.record.worker_kernel_boot_id = who->kernel_boot_id;
  }
  run->prepared.record.status = RunStatus::kRunning;
  // Recorded before the worker does anything.
  LogIfFailed(history->Put(run->prepared.record), "recording run " + run->prepared.record.id);
  asio::async_write(*run->in, asio::buffer(run->request), [run](boost::system::error_code, size_t) {
    boost::system::error_code ignored;
    run->in->close(ignored);
  });
  ReadWorkerOut(run);
  ReadWorkerErr(run);
  run->proc->async_wait([this, run](boost::system::error_code, int) {
    run->exited = true;
    run->native_status = run->proc->native_exit_code();
    MaybeFinish(run);
  });
  run->timeout_timer = std::make_unique<asio::steady_timer>(io);
  run->kill_timer = std::make_unique<asio::steady_timer>(io);
  run->timeout_timer->expires_after(run->prepared.timeout);
  run->timeout_timer->async_wait([this, run](boost::system::error_code ec) {
    if (ec || run->exited) return;
    spdlog::warn("run {} timed out after {}; stopping it", run->prepared.record.id, FormatDuration(run->prepared.timeout));
    StopRun(run, true);
  });
  return Status::Ok();
}

void Daemon::Impl::StopRun(const std::shared_ptr<ActiveRun>& run, bool timeout) {
  if (run->exited) return;
  if (timeout) run->timed_out = true;
  else run->cancelled = true;
  ::kill(-run->pid, SIGTERM);
  run->kill_timer->expires_after(setup->settings.kill_grace);
  run->kill_timer->async_wait([run](boost::system::error_code ec) {
    if (!ec && !run->exited) {
      spdlog::warn("run {}: worker did not stop within the grace period; SIGKILL", run->prepared.record.id);
      ::kill(-run->pid, SIGKILL);
    }
  });
}

void Daemon::Impl::ReadWorkerOut(std::shared_ptr<ActiveRun> run) {
  asio::async_read_until(*run->out, asio::dynamic_buffer(run->out_buf, kMaxWorkerEventBytes), '\n',
                         [this, run](boost::system::error_code ec, size_t n) {
                           if (ec == asio::error::not_found) {  // a line over the cap: drop all of it
                             if (!run->out_skipping)
                               spdlog::warn("run {}: dropped a worker event longer than {} bytes",
                                            run->prepared.record.id, kMaxWorkerEventBytes);
                             run->out_skipping = true;
                             run->out_buf.clear();
                             ReadWorkerOut(run);
                             return;
                           }
                           if (ec) {
                             run->out_eof = true;
                             MaybeFinish(run);
                             return;
                           }
                           std::string line = run->out_buf.substr(0, n - 1);
                           run->out_buf.erase(0, n);
                           if (run->out_skipping) run->out_skipping = false;  // the end of the dropped line
                           else HandleWorkerLine(run, line);
                           ReadWorkerOut(run);
                         });
}

void Daemon::Impl::ReadWorkerErr(std::shared_ptr<ActiveRun> run) {
  asio::async_read_until(*run->err, asio::dynamic_buffer(run->err_buf, kMaxWorkerStderrLineBytes), '\n',
                         [this, run](boost::system::error_code ec, size_t n) {
                           if (ec == asio::error::not_found) {  // a line over the cap: log its start once
                             if (!run->err_skipping)
                               spdlog::warn("run {} worker: {} [... line cut at {} bytes ...]", run->prepared.record.id,
                                            run->scrubber.Scrub(run->err_buf), kMaxWorkerStderrLineBytes);
                             run->err_skipping = true;
                             run->err_buf.clear();
                             ReadWorkerErr(run);
                             return;
                           }
                           if (ec) {
                             if (!run->err_buf.empty() && !run->err_skipping)
                               spdlog::warn("run {} worker: {}", run->prepared.record.id, run->scrubber.Scrub(run->err_buf));
                             run->err_eof = true;
                             MaybeFinish(run);
                             return;
                           }
                           std::string line = run->err_buf.substr(0, n - 1);
                           run->err_buf.erase(0, n);
                           if (run->err_skipping) run->err_skipping = false;  // the end of the cut line
                           else if (!line.empty())
                             spdlog::warn("run {} worker: {}", run->prepared.record.id, run->scrubber.Scrub(line));
                           ReadWorkerErr(run);
                         });
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
  for (auto& s : run->subscribers) s->Send(ev);
}

void Daemon::Impl::MaybeFinish(const std::shared_ptr<ActiveRun>& run) {
  if (!run->exited || !run->out_eof || !run->err_eof) return;
  if (!runs.count(run->prepared.record.id)) return;  // already finished
  run->timeout_timer->cancel();
  run->kill_timer->cancel();
  auto stored = history->Get(run->prepared.record.id);
  RunRecord rec = stored ? *stored : run->prepared.record;
  if (rec.status == RunStatus::kRunning) {
    int st = run->native_status;
    bool resumable = run->prepared.action->resumable && history->LoadCheckpoint(rec.id).has_value();
    if (stopping && resumable) {
      spdlog::info("run {} left resumable for the next start", rec.id);
    } else if (resumable && rec.resumes < kMaxResumes) {
      // The worker died (crash, kill, timeout) holding a checkpoint: resume
      // now so the action can finish or undo (never leave a node cordoned).
      spdlog::warn("run {}: worker ended without finishing ({}); resuming from its checkpoint", rec.id,
                   WIFSIGNALED(st) ? SignalName(WTERMSIG(st)) : "exit " + std::to_string(WEXITSTATUS(st)));
      auto subscribers = run->subscribers;
      runs.erase(rec.id);
      run->locks = RunLocks{};  // the resumed run takes them again
      auto resumed = ResumeRun(rec);
      if (resumed) {
        (*resumed)->subscribers = subscribers;
        return;
      }
      spdlog::error("run {}: cannot resume: {}", rec.id, resumed.error().message());
      rec.status = RunStatus::kFailed;
      rec.summary = "the worker died and the run could not be resumed: " + resumed.error().message();
      rec.finished_ms = NowMs();
      LogIfFailed(history->Put(rec), "recording run " + rec.id);
      runs[rec.id] = run;
    } else {
      if (run->timed_out) {
        rec.status = RunStatus::kFailed;
        rec.summary = "timed out after " + FormatDuration(run->prepared.timeout) + "; the run was killed";
      } else if (run->cancelled || stopping) {
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
  } else if (run->timed_out) {
    // Whatever the action made of being cancelled, say why it was.
    rec.summary = "timed out after " + FormatDuration(run->prepared.timeout) + ": " + rec.summary;
    rec.status = RunStatus::kFailed;
    LogIfFailed(history->Put(rec), "recording run " + rec.id);
  }
  spdlog::log(rec.status == RunStatus::kFailed ? spdlog::level::warn : spdlog::level::info, "run {} {}: {}", rec.id,
              RunStatusName(rec.status), rec.summary);
  json result = {{"type", "result"}, {"record", ToJson(rec, false)}};
  for (auto& s : run->subscribers) s->Send(result, true);
  runs.erase(rec.id);
  if (stopping) {
    if (runs.empty()) FinishShutdown();
    return;
  }
  if (!rec.task.empty())
    LogIfFailed(task_state->Record(rec.task, {rec.started_ms, rec.boot_id}), "recording when task " + rec.task + " last ran");
  Reschedule();
}

// ---- control socket ------------------------------------------------------

void Daemon::Impl::Accept() {
  acceptor.async_accept([this](boost::system::error_code ec, stream_protocol::socket sock) {
    if (ec == asio::error::operation_aborted) return;
    if (ec && ec != asio::error::connection_aborted) {
      // Out of descriptors (EMFILE, ENFILE) or memory: the pending connection
      // stays queued and accept() would fail again at once. Try again later.
      if (!accept_failing)
        spdlog::error("control socket: cannot accept a connection: {}; trying again every {} ms", ec.message(),
                      kAcceptRetryDelay.count());
      accept_failing = true;
      accept_retry_timer.expires_after(kAcceptRetryDelay);
      accept_retry_timer.async_wait([this](boost::system::error_code ec2) {
        if (!ec2) Accept();
      });
      return;
    }
    if (!ec) {
      if (accept_failing) spdlog::info("control socket: accepting connections again");
      accept_failing = false;
      HandleSession(std::make_shared<stream_protocol::socket>(std::move(sock)));
    }
    Accept();
  });
}

void Daemon::Impl::HandleSession(std::shared_ptr<stream_protocol::socket> sock) {
  PeerCredentials peer;
  if (!GetPeerCredentials(sock->native_handle(), peer)) return;
  std::string refusal;
  if (!connections->TryOpen(peer.uid, &refusal)) {
    // Logged at most once a minute: the refusals are what a flood looks like.
    ++refusals_since_log;
    auto now = std::chrono::steady_clock::now();
    if (!last_refusal_log || now - *last_refusal_log >= std::chrono::minutes(1)) {
      spdlog::warn("refusing control connections: {} ({} refused since the last such message)", refusal,
                   refusals_since_log);
      last_refusal_log = now;
      refusals_since_log = 0;
    }
    boost::system::error_code ignored;
    std::string reply = ErrorReply("too_many_connections", refusal).dump() + "\n";
    asio::write(*sock, asio::buffer(reply), ignored);  // tiny; the kernel buffer takes it
    sock->close(ignored);
    return;
  }
  auto slot = std::make_shared<ConnectionSlot>(connections, peer.uid);
  auto buf = std::make_shared<std::string>();
  auto timer = std::make_shared<asio::steady_timer>(io);
  timer->expires_after(std::chrono::milliseconds(kRequestReadTimeoutMs));
  timer->async_wait([sock](boost::system::error_code ec) {
    if (ec) return;
    boost::system::error_code ignored;
    std::string reply = ErrorReply("timeout", "no complete request within 5 s").dump() + "\n";
    asio::write(*sock, asio::buffer(reply), ignored);  // tiny; the kernel buffer takes it
    sock->close(ignored);
  });
  asio::async_read_until(*sock, asio::dynamic_buffer(*buf, kMaxRequestBytes), '\n',
                         [this, sock, slot, buf, timer, peer](boost::system::error_code ec, size_t n) {
                           timer->cancel();
                           if (ec) {
                             if (ec == asio::error::not_found) {
                               boost::system::error_code ignored;
                               std::string reply =
                                   ErrorReply("too_large", "request larger than 64 KiB").dump() + "\n";
                               asio::write(*sock, asio::buffer(reply), ignored);
                             }
                             boost::system::error_code ignored;
                             sock->close(ignored);
                             return;
                           }
                           Dispatch(sock, slot, peer, buf->substr(0, n - 1));
                         });
}

namespace {
void Reply(const std::shared_ptr<stream_protocol::socket>& sock, const std::shared_ptr<ConnectionSlot>& slot,
           const json& j) {
  auto sub = std::make_shared<Subscriber>(std::move(*sock), slot);
  sub->Send(j, true);
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

void Daemon::Impl::Dispatch(std::shared_ptr<stream_protocol::socket> sock, std::shared_ptr<ConnectionSlot> slot,
                            const PeerCredentials& peer, const std::string& text) {
  auto Reply = [&](const std::shared_ptr<stream_protocol::socket>& s, const json& j) { nodeagent::Reply(s, slot, j); };
  json req = json::parse(text, nullptr, false);
  if (req.is_discarded() || !req.is_object() || !req.contains("op") || !req["op"].is_string()) {
    Reply(sock, ErrorReply("bad_request", "expected one JSON object with an \"op\" on one line"));
    return;
  }
  std::string op = req["op"];
  std::string refusal = Authorize(peer, AccessFor(op, req), group_gid);
  if (!refusal.empty()) {
    spdlog::warn("refused '{}' from uid {} (pid {}): {}", op, peer.uid, peer.pid, refusal);
    Reply(sock, ErrorReply("permission_denied", refusal));
    return;
  }
  try {
    if (op == "ping") {
      Reply(sock, {{"type", "pong"}, {"version", NODEAGENT_VERSION}});
    } else if (op == "status") {
      Reply(sock, StatusJson());
    } else if (op == "list") {
      Reply(sock, ListJson());
    } else if (op == "describe") {
      std::string name = req.value("action", "");
      if (const ActionInfo* a = setup->catalog.Find(name)) Reply(sock, {{"type", "action"}, {"action", ActionToJson(*a)}});
      else Reply(sock, ErrorReply("not_found", "unknown action '" + name + "'"));
    } else if (op == "history") {
      size_t n = std::min<size_t>(req.value("n", 20), 10000);  // bounded: one answer, one buffer
      json out = {{"type", "history"}, {"runs", json::array()}};
      for (const auto& r : history->List(req.value("task", ""), n)) out["runs"].push_back(ToJson(AsAnswered(r), false));
      Reply(sock, out);
    } else if (op == "logs" || op == "get") {
      auto r = history->Get(req.value("run_id", ""));
      if (!r) Reply(sock, ErrorReply("not_found", r.error().message()));
      else Reply(sock, {{"type", "run"}, {"record", ToJson(AsAnswered(*r), true)}});
    } else if (op == "config-show") {
      Reply(sock, {{"type", "config"},
                   {"text", RenderEffectiveConfig(setup->settings, setup->tasks)},
                   {"files", setup->raw.files}});
    } else if (op == "reload") {
      // As for SIGHUP: systemd sees the reload begin and end (the unit's
      // ExecReload is `agentctl reload`), READY=1 before the reply, so
      // systemd takes agentctl's exit code as the reload's result.
      Notify("RELOADING=1");
      std::string problems;
      Status st = Reload(problems);
      Notify("READY=1");
      NotifyStatus();
      if (st.ok()) Reply(sock, {{"type", "reloaded"}, {"tasks", setup->tasks.size()}});
      else Reply(sock, ErrorReply("invalid_config", problems));
    } else if (op == "cancel") {
      auto it = runs.find(req.value("run_id", ""));
      if (it == runs.end()) {
        Reply(sock, ErrorReply("not_found", "no run '" + req.value("run_id", "") + "' in progress"));
      } else {
        StopRun(it->second, false);
        Reply(sock, {{"type", "cancelling"}, {"run_id", it->first}});
      }
    } else if (op == "run") {
      RunRequest rr;
      rr.target = req.value("target", "");
      rr.overrides = req.value("set", std::vector<std::string>{});
      rr.dry_run = req.value("dry_run", false);
      rr.preview = req.value("preview", false);  // agentctl run --confirm: the plan to show
      rr.confirmed_plan = req.value("confirmed_plan", "");  // ... and the plan confirmed
      rr.trigger = "manual";
      rr.requested_by = "uid " + std::to_string(peer.uid) + " (pid " + std::to_string(peer.pid) + ")";
      auto run = StartRun(rr);
      if (!run) {
        Reply(sock, ErrorReply(CodeOf(run.error()), run.error().message()));
        return;
      }
      json started = {{"type", "started"}, {"run_id", (*run)->prepared.record.id},
                      {"action", (*run)->prepared.record.action}, {"dry_run", (*run)->prepared.dry_run}};
      if (req.value("follow", true)) {
        auto sub = std::make_shared<Subscriber>(std::move(*sock), slot);
        sub->Send(started);
        (*run)->subscribers.push_back(sub);
      } else {
        Reply(sock, started);
      }
    } else {
      Reply(sock, ErrorReply("bad_request", "unknown op '" + op + "'"));
    }
  } catch (const std::exception& e) {
    spdlog::error("request '{}' failed: {}", op, e.what());
    Reply(sock, ErrorReply("error", std::string("internal error: ") + e.what()));
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

json Daemon::Impl::ListJson() {
  return nodeagent::ListJson(*setup, planner.get(), *task_state, started_at, boot_id,
                             [this](const std::string& t) { return TaskRunning(t); });
}

Status Daemon::Impl::Reload(std::string& problems) {
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
  if (old.socket != neu.socket || old.state_dir != neu.state_dir || old.root != neu.root)
    spdlog::warn("agent.socket, agent.state_dir and agent.root changes take effect at the next restart");
  auto next = std::shared_ptr<AgentSetup>(std::move(*loaded));
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
      (void)Reload(problems);
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
    for (auto& [id, r] : runs) ::kill(-r->pid, SIGKILL);
    FinishShutdown();
    return;
  }
  stopping = true;
  Notify("STOPPING=1");
  spdlog::info("stopping: {} run(s) in progress get {} to finish", runs.size(),
               FormatDuration(setup->settings.shutdown_grace));
  boost::system::error_code ec;
  acceptor.close(ec);
  accept_retry_timer.cancel();
  schedule_timer.cancel();
  if (runs.empty()) {
    FinishShutdown();
    return;
  }
  for (auto& [id, r] : runs) ::kill(-r->pid, SIGTERM);  // cooperative actions stop and checkpoint
  shutdown_timer.expires_after(setup->settings.shutdown_grace);
  shutdown_timer.async_wait([this](boost::system::error_code ec2) {
    if (ec2) return;
    for (auto& [id, r] : runs) {
      spdlog::warn("run {} did not stop in time; killing it", id);
      ::kill(-r->pid, SIGKILL);
    }
  });
}

void Daemon::Impl::FinishShutdown() {
  boost::system::error_code ec;
  shutdown_timer.cancel();
  watchdog_timer.cancel();
  schedule_timer.cancel();
  ::unlink(setup->settings.socket.c_str());
  spdlog::info("stopped");
  io.stop();
}

}  // namespace nodeagent
