#include "runner/run_executor.h"
#include "runner/apply_phase_guard.h"
#include "runner/audit_hooks.h"
#include "runner/plan_fingerprint.h"
#include "runner/plan_phase_guard.h"
#include "runner/secret_scrubber.h"
#include "notify/notifier.h"
#include "node_status/node_reporter.h"

#include <algorithm>
#include <atomic>

#include <toml++/toml.h>
#include <mutex>

#include <unistd.h>

namespace nodeagent {

int64_t ToMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

namespace {

/// The ActionContext of one run.
class RunContext : public ActionContext {
 public:
  RunContext(PreparedRun& run, Host& host, HistoryStore& history, RunObserver* observer, const bool* cancel,
             ClientFactories& clients, const std::string& node, const SecretScrubber& scrubber,
             RunAuditTrail* audit)
      : run_(run), host_(host), audit_(audit),
        audited_host_(audit ? std::make_unique<AuditingHost>(host, *audit) : nullptr),
        contract_([this](const std::string& m) { Log(LogLevel::kError, m); }),
        contract_host_(audited_host_ ? *audited_host_ : host, contract_), guarded_host_(contract_host_, planning_),
        history_(history), observer_(observer), cancel_(cancel ? cancel : &never_), clients_(clients), node_(node),
        scrubber_(scrubber) {}

  /// While set, the host and the clients only look (see plan_phase_guard.h).
  void SetPlanning(bool planning) { planning_ = planning; }
  /// While enforced, they change only what the plan names (apply_phase_guard.h).
  PlanContract& contract() { return contract_; }

  Host& host() override { return guarded_host_; }
  const Params& params() const override { return run_.params; }
  const std::string& node_name() const override { return node_; }
  const std::string& run_id() const override { return run_.record.id; }
  // A preview plans as the real run will, so that the two plans compare.
  bool dry_run() const override { return run_.dry_run && !run_.record.preview; }

  void Log(LogLevel level, std::string_view message) override {
    // A secret the action (or an exec plugin's stderr) printed stops here.
    std::string text = scrubber_.Scrub(message);
    if (text.size() > kMaxLogLineBytes) {
      text.resize(kMaxLogLineBytes);
      text += " [... line cut at " + std::to_string(kMaxLogLineBytes) + " bytes ...]";
    }
    std::lock_guard<std::mutex> lock(mu_);
    // A run's log is read whole by `agentctl logs` and kept in its record:
    // past the budget, lines are counted, not kept.
    if (log_bytes_ + text.size() > kMaxLogBytesPerRun) {
      if (dropped_lines_++ == 0) {
        LogLine note{ToMillis(host_.clock().Now()), LogLevel::kWarning,
                     "[... this run's log reached " + std::to_string(kMaxLogBytesPerRun >> 20) +
                         " MiB; further lines are dropped ...]"};
        history_.AppendLog(run_.record.id, note);
        if (observer_) observer_->OnLog(note);
      }
      return;
    }
    log_bytes_ += text.size();
    LogLine line{ToMillis(host_.clock().Now()), level, std::move(text)};
    history_.AppendLog(run_.record.id, line);
    if (observer_) observer_->OnLog(line);
  }

  /// Lines Log() dropped past the run's log budget.
  size_t dropped_lines() const { return dropped_lines_; }

  // Kept in runs/<id>.list (HistoryStore::OpenList), opened on first use.
  bool AppendListLines(std::string_view lines) override {
    std::lock_guard<std::mutex> lock(list_mu_);
    if (list_failed_) return false;
    if (!list_) {
      auto writer = history_.OpenList(run_.record.id);
      if (!writer) {
        list_failed_ = true;
        Log(LogLevel::kWarning, "this run's full list is not kept: " + writer.error().message());
        return false;
      }
      list_ = std::move(*writer);
    }
    if (!list_->Append(scrubber_.Scrub(lines))) {
      list_failed_ = true;
      Log(LogLevel::kWarning, "this run's full list is not kept: writing it failed");
      list_.reset();
      return false;
    }
    return true;
  }
  /// Moves the list into place (when the action kept one) and counts it in `r`.
  void FinishList(RunRecord& r) {
    std::lock_guard<std::mutex> lock(list_mu_);
    if (!list_) return;
    if (Status st = list_->Finish(); !st.ok()) {
      Log(LogLevel::kWarning, "this run's full list is not kept: " + st.error().message());
    } else {
      r.list_lines = list_->lines();
      r.list_lines_dropped = list_->dropped_lines();
    }
    list_.reset();
  }

  void Progress(std::string_view message, double fraction) override {
    auto now = host_.clock().Monotonic();
    std::lock_guard<std::mutex> lock(mu_);
    if (now - last_progress_ < std::chrono::milliseconds(250)) return;
    last_progress_ = now;
    if (observer_) observer_->OnProgress(scrubber_.Scrub(message), fraction);
  }

  bool cancelled() const override { return std::atomic_ref<const bool>(*cancel_).load(); }
  const bool* cancel_flag() const override { return cancel_; }

  Status SaveCheckpoint(const nlohmann::json& state) override {
    if (run_.dry_run) return Status::Ok();  // a plan never leaves anything to resume
    return history_.SaveCheckpoint(run_.record.id, state);
  }

  Result<KubeClient*> Kube() override {
    std::function<Result<std::unique_ptr<KubeClient>>()> make;
    if (clients_.kube) make = [this] { return clients_.kube(cancel_); };
    return Lazy<KubeClient>(kube_, make, "Kubernetes", [this](std::unique_ptr<KubeClient> c) {
      if (audit_) c = AuditKubeClient(std::move(c), *audit_);  // innermost: what a guard refuses is no change
      return GuardKubeClient(ApplyGuardKubeClient(std::move(c), contract_), planning_);
    });
  }
  // Kept in the run's log too; posted on the Node only in a real run outside
  // planning (the plan-phase guard refuses writes), see node_status/.
  void Event(EventType type, std::string_view reason, std::string_view message) override {
    std::string text = scrubber_.Scrub(message);
    Log(type == EventType::kWarning ? LogLevel::kWarning : LogLevel::kInfo,
        "event " + std::string(reason) + ": " + text);
    if (!run_.dry_run && !planning_) node_reporter_.Event(type, scrubber_.Scrub(reason), text);
  }
  /// The Node's conditions and Events for this run (node_status/).
  NodeReporter& node_reporter() { return node_reporter_; }
  // Through the core notifier (notify/notifier.h): returns once each
  // target's first attempt ended or timed out. A dry run sends nothing.
  void Notify(std::string_view event, std::string_view message) override {
    std::string text = scrubber_.Scrub(message);
    if (run_.dry_run) {
      Log(LogLevel::kInfo, "would notify " + std::string(event) + ": " + text + " (dry run: nothing sent)");
      return;
    }
    Log(LogLevel::kInfo, "notify " + std::string(event) + ": " + text);
    if (event == "failure") notified_failure_ = true;
    if (!notifier_) return;
    notifier_->Notify({std::string(event), node_, run_.record.id, run_.record.action, run_.record.task,
                       std::move(text), host_.clock().Now()});
  }
  /// Where Notify sends (null: nowhere); must outlive the context's use.
  void SetNotifier(Notifier* notifier) { notifier_ = notifier; }
  /// True once the action sent a "failure" notification itself.
  bool notified_failure() const { return notified_failure_; }
  // HTTP POSTs (webhooks) report on the run; only the plan phase limits them.
  Result<HttpClient*> Http() override {
    return Lazy<HttpClient>(http_, clients_.http, "HTTP",
                            [this](std::unique_ptr<HttpClient> c) { return GuardHttpClient(std::move(c), planning_); });
  }

 private:
  /// The client in `slot`, built by `make` on first use (under mu_).
  template <typename T>
  Result<T*> Lazy(std::unique_ptr<T>& slot, const std::function<Result<std::unique_ptr<T>>()>& make,
                  const char* what, const std::function<std::unique_ptr<T>(std::unique_ptr<T>)>& guard) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!slot) {
      if (!make) return Error(ErrorCode::kUnavailable, std::string("no ") + what + " client configured");
      auto client = make();
      if (!client) return client.error();
      slot = guard(std::move(*client));
    }
    return slot.get();
  }

  PreparedRun& run_;
  Host& host_;
  RunAuditTrail* audit_;
  std::unique_ptr<AuditingHost> audited_host_;  // host_ with its changes audited; null without a trail
  PlanPhaseFlag planning_{false};
  PlanContract contract_;
  ApplyPhaseHost contract_host_;
  PlanPhaseHost guarded_host_;
  static constexpr size_t kMaxLogLineBytes = 64 * 1024;
  static constexpr size_t kMaxLogBytesPerRun = 16 << 20;
  size_t log_bytes_ = 0;
  size_t dropped_lines_ = 0;
  std::mutex list_mu_;
  std::unique_ptr<RunListWriter> list_;
  bool list_failed_ = false;
  HistoryStore& history_;
  RunObserver* observer_;
  const bool never_ = false;
  const bool* cancel_;
  ClientFactories& clients_;
  const std::string& node_;
  const SecretScrubber& scrubber_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_progress_{};
  std::unique_ptr<KubeClient> kube_;
  std::unique_ptr<HttpClient> http_;
  Notifier* notifier_ = nullptr;
  bool notified_failure_ = false;
  NodeReporter node_reporter_{node_, host_.clock(), [this] { return Kube(); },
                              [this](LogLevel level, const std::string& m) { Log(level, m); }};
};

/// How long the end of a run waits for notifications still being retried.
constexpr std::chrono::seconds kNotifyFinishGrace{20};

/// After a real run: the action's Node conditions, from its findings when
/// Apply or Resume answered (`answered`), and the run's own Event.
void ReportToNode(NodeReporter& node, const ActionInfo& action, const RunRecord& r, bool answered) {
  if (answered) node.SetConditions(action.conditions, r.findings);
  if (auto e = RunEndEventFor(action.name, r.status, r.summary, r.changes)) node.Event(e->type, e->reason, e->message);
}

/// ProblemsText without the last newline, for an error message.
std::string JoinProblems(const std::vector<ConfigProblem>& problems) {
  std::string s = ProblemsText(problems);
  if (!s.empty()) s.pop_back();
  return s;
}

}  // namespace

void RecordParams(const ActionInfo& action, const Params& params, RunRecord& record) {
  record.params = ParamsToJson(params);
  record.params_wire = ParamsToWire(params);
  record.secret_params_wire = nlohmann::json::object();
  for (const ParamSpec& spec : action.params) {
    if (!spec.secret) continue;
    std::string name(spec.name);
    if (auto it = record.params_wire.find(name); it != record.params_wire.end()) {
      record.secret_params_wire[name] = *it;
      record.params_wire.erase(it);
    }
    if (record.params.contains(name) && record.params[name] != "") record.params[name] = kRedacted;
  }
}

Params ResumeParams(const RunRecord& record, const HistoryStore& history) {
  nlohmann::json wire = record.params_wire;
  const nlohmann::json secrets = history.LoadSecretParams(record.id);  // items() must not outlive it
  for (const auto& [name, value] : secrets.items()) wire[name] = value;
  return ParamsFromWire(wire);
}

std::unique_ptr<AuditLog> OpenRunAuditLog(const AgentSettings& settings) {
  return std::make_unique<AuditLog>(settings.state_dir + "/audit",
                                    AuditLogOptions{.max_file_bytes = static_cast<uint64_t>(settings.audit_max_file_mib) << 20,
                                                    .max_files = static_cast<int>(settings.audit_max_files)});
}

Result<RunLocks> AcquireRunLocks(const std::string& state_dir, const PreparedRun& run) {
  const RunRecord& rec = run.record;
  std::string key = run.task.empty() ? "action-" + rec.action : "task-" + run.task;
  nlohmann::json holder = {{"run_id", rec.id}, {"action", rec.action}, {"task", rec.task}, {"pid", ::getpid()}};
  RunLocks locks;
  auto task_lock = RunLock::TryAcquire(state_dir + "/locks/" + key + ".lock", holder);
  if (!task_lock) return task_lock.error();
  locks.task = std::move(*task_lock);
  if (run.action->disruptive && !run.dry_run) {
    auto d = RunLock::TryAcquire(state_dir + "/locks/disruptive.lock", holder);
    if (!d) return Error(ErrorCode::kConflict, "disruptive actions exclude each other: " + d.error().message());
    locks.disruptive = std::move(*d);
  }
  return locks;
}

RunExecutor::RunExecutor(const AgentSettings& settings, const RawConfig& raw,
                         const std::map<std::string, TaskConfig>& tasks, const ActionCatalog& catalog, Host& host,
                         HistoryStore& history, ClientFactories clients, AuditLog* audit)
    : settings_(settings), raw_(raw), tasks_(tasks), catalog_(catalog), host_(host), history_(history),
      clients_(std::move(clients)), audit_(audit) {}

Result<PreparedRun> RunExecutor::Prepare(const RunRequest& request) {
  PreparedRun run;
  std::vector<ConfigProblem> problems;
  auto overrides = ParseOverrides(request.overrides, problems);
  auto task_it = tasks_.find(request.target);
  const toml::table* task_table = nullptr;
  if (task_it != tasks_.end()) {
    run.task = request.target;
    run.action = catalog_.Find(task_it->second.action);
    run.timeout = task_it->second.timeout;
    run.dry_run = task_it->second.dry_run;
    task_table = TaskTable(raw_, request.target);
  } else {
    run.action = catalog_.Find(request.target);
  }
  if (!run.action) {
    std::vector<std::string> names = catalog_.Names();
    for (const auto& [t, _] : tasks_) names.push_back(t);
    std::string hint = Suggest(request.target, names);
    return NotFound("unknown action or task '" + request.target + "'" + (hint.empty() ? "" : "; " + hint) +
                    " (see agentctl list)");
  }
  std::string prefix = run.task.empty() ? run.action->name : "tasks." + run.task;
  // Task settings in --set: `timeout` and `dry_run` apply to this run; the
  // rest only make sense in a task.
  for (auto&& [key, node] : *overrides) {
    std::string k(key.str());
    if (k == "timeout") {  // checked by the task table's row, range included
      std::span<const ParamSpec> core = TaskCoreKeys();
      auto spec = std::find_if(core.begin(), core.end(), [](const ParamSpec& s) { return s.name == "timeout"; });
      auto d = ConvertParam(*spec, node);
      if (!d) problems.push_back({"--set", 0, 0, "timeout", d.error().message()});
      else run.timeout = std::get<Duration>(*d);
    } else if (k == "dry_run") {
      if (node.is_boolean()) run.dry_run = run.dry_run || *node.value<bool>();
      else problems.push_back({"--set", 0, 0, "dry_run", "expected true or false (or use --dry-run)"});
    } else if (k == "schedule" || k == "window" || k == "jitter" || k == "enabled" || k == "catch_up" || k == "action") {
      problems.push_back({"--set", 0, 0, k, "is a task setting, not a parameter of " + run.action->name});
    }
  }
  run.params = ResolveRunParams(*run.action, task_table, overrides.get(), prefix, problems);
  if (!problems.empty()) return InvalidArgument(JoinProblems(problems));
  run.dry_run = run.dry_run || request.dry_run || request.preview || settings_.demo;

  RunRecord& r = run.record;
  r.id = NewRunId(host_.clock().Now());
  r.task = run.task;
  r.action = run.action->name;
  r.plugin = run.action->plugin;
  r.node = settings_.node_name;
  r.trigger = request.trigger;
  r.requested_by = request.requested_by;
  r.dry_run = run.dry_run;
  r.preview = request.preview;
  r.confirmed_plan = request.confirmed_plan;
  RecordParams(*run.action, run.params, r);
  r.timeout_ms = run.timeout.count();
  return run;
}

RunRecord RunExecutor::Execute(PreparedRun& run, RunObserver* observer, const bool* cancel,
                               const std::optional<nlohmann::json>& checkpoint) {
  RunRecord& r = run.record;
  r.status = RunStatus::kRunning;
  if (r.started_ms == 0) r.started_ms = ToMillis(host_.clock().Now());
  if (r.boot_id.empty()) {
    auto boot = host_.BootId();
    if (boot) r.boot_id = *boot;
  }
  if (checkpoint) r.resumes += 1;
  if (Status st = history_.Put(r); !st.ok()) {
    r.status = RunStatus::kFailed;
    r.summary = "cannot record the run: " + st.error().message();
    return r;
  }
  SecretScrubber scrubber(run.action->params, run.params);
  for (const NotifyTarget& t : settings_.notify) scrubber.Add(t.url);  // should a message quote one
  // A dry run (a preview too) changes nothing, so it writes no audit entry.
  RunContext* log_to = nullptr;
  std::optional<RunAuditTrail> trail;
  if (audit_ && !run.dry_run)
    trail.emplace(*audit_, host_.clock(), scrubber, AuditEntry{.run_id = r.id, .action = r.action, .task = r.task, .node = r.node},
                  [&log_to](const std::string& m) {
                    if (log_to) log_to->Log(LogLevel::kWarning, m);
                  });
  RunContext ctx(run, host_, history_, observer, cancel, clients_, settings_.node_name, scrubber,
                 trail ? &*trail : nullptr);
  log_to = &ctx;
  // The notifier's own HTTP client: not the plan-guarded one of the action.
  std::unique_ptr<HttpClient> notify_http;
  std::unique_ptr<Notifier> notifier;
  if (!settings_.notify.empty() && !run.dry_run) {
    auto http = clients_.http ? clients_.http() : Result<std::unique_ptr<HttpClient>>(
                                                      Error(ErrorCode::kUnavailable, "no HTTP client here"));
    if (!http) {
      ctx.Log(LogLevel::kWarning, "notifications are off for this run: " + http.error().message());
    } else {
      notify_http = std::move(*http);
      notifier = std::make_unique<Notifier>(settings_.notify, *notify_http, host_.clock(),
                                            [&ctx](LogLevel level, const std::string& m) { ctx.Log(level, m); });
      ctx.SetNotifier(notifier.get());
    }
  }
  auto fail = [&](const std::string& what) {
    r.status = RunStatus::kFailed;
    r.summary = what;
    ctx.Log(LogLevel::kError, what);
  };

  bool applied = false;  // Apply or Resume answered: its findings describe the node
  try {
    // Where only a module's tables were read (the daemon, agentctl's local
    // half), its actions have no code: never run one there by mistake.
    std::unique_ptr<Action> action = run.action->create ? run.action->create() : nullptr;
    if (!run.action->create) {
      fail("internal: the module of action " + run.action->name + " (" + run.action->source +
           ") is not loaded in this process, only its tables; its runs belong in a worker");
    } else if (!action) {
      fail("plugin " + run.action->plugin + " could not create action " + run.action->name);
    } else if (checkpoint) {
      ctx.Log(LogLevel::kInfo, "resuming run " + r.id + " from its checkpoint");
      // A resumed run carries on with the plan it recorded before applying.
      if (r.plan) ctx.contract().Enforce(PlanObjects(r.plan->changes));
      else ctx.Log(LogLevel::kWarning, "this run's record has no plan (it started before plans were recorded): "
                                       "its resume is not checked against one");
      auto outcome = action->Resume(ctx, *checkpoint);
      ctx.contract().Release();
      if (!outcome) {
        fail("resume failed: " + outcome.error().message());
      } else {
        applied = true;
        r.status = outcome->status;
        r.summary = outcome->summary;
        r.findings.insert(r.findings.end(), outcome->findings.begin(), outcome->findings.end());
        r.changes.insert(r.changes.end(), outcome->changes.begin(), outcome->changes.end());
        r.data = outcome->data;
        if (trail) RecordReportedChanges(outcome->changes, *trail);
      }
    } else {
      ctx.SetPlanning(true);
      auto plan = action->MakePlan(ctx);
      ctx.SetPlanning(false);
      if (plan) r.plan = RecordedPlan{plan->summary, plan->findings, plan->changes, PlanFingerprint(plan->changes)};
      if (!plan) {
        fail("planning failed: " + plan.error().message());
      } else if (!run.dry_run && !r.confirmed_plan.empty() && r.plan->fingerprint != r.confirmed_plan) {
        r.findings = plan->findings;
        fail("the node changed since you confirmed: the plan made now (" + r.plan->fingerprint + ", " +
             (plan->summary.empty() ? std::to_string(plan->changes.size()) + " change(s)" : plan->summary) +
             ") differs from the one you confirmed (" + r.confirmed_plan +
             "); nothing was applied. Run it again to see the new plan.");
      } else if (run.dry_run) {
        r.status = plan->findings.end() != std::find_if(plan->findings.begin(), plan->findings.end(),
                                                        [](const Finding& f) { return f.severity == Severity::kError; })
                       ? RunStatus::kFailed
                       : RunStatus::kOk;
        r.summary = "dry run: " + (plan->summary.empty() ? std::to_string(plan->changes.size()) + " change(s) planned"
                                                          : plan->summary);
        r.findings = plan->findings;
        r.changes = plan->changes;
        r.data = plan->data;
        r.data["planned"] = true;
      } else if (ctx.cancelled()) {
        r.status = RunStatus::kInterrupted;
        r.summary = "cancelled before applying the plan";
      } else {
        // Recorded before applying: a resume after a crash or reboot is held
        // to the same plan.
        RunRecord recorded = r;
        scrubber.Scrub(recorded);
        if (Status st = history_.Put(recorded); !st.ok())
          ctx.Log(LogLevel::kWarning, "cannot record the plan before applying: " + st.error().message());
        PlanObjects planned(plan->changes);
        ctx.contract().Enforce(planned);
        auto outcome = action->Apply(ctx, *plan);
        ctx.contract().Release();
        if (!outcome) {
          fail(outcome.error().message());
        } else {
          applied = true;
          r.status = outcome->status;
          r.summary = outcome->summary;
          r.findings = outcome->findings;
          r.changes = outcome->changes;
          r.data = outcome->data;
          if (trail) RecordReportedChanges(outcome->changes, *trail);
          // What the action says it changed must be in the plan too: this
          // catches what no guard sees (an exec plugin, a plugin's own
          // descriptors).
          for (const std::string& o : UnplannedObjects(planned, outcome->changes)) {
            ctx.Log(LogLevel::kError, "not in the plan: " + o + " (the action reports changing it)");
            r.findings.push_back({Severity::kError, o, "changed by Apply but not named in the plan"});
            r.status = RunStatus::kFailed;
          }
        }
      }
    }
  } catch (const std::exception& e) {
    fail(std::string("plugin threw an exception: ") + e.what());
  } catch (...) {
    fail("plugin threw an unknown exception");
  }
  if (int refused = ctx.contract().refusals(); refused > 0) {
    r.findings.push_back({Severity::kError, "plan",
                          std::to_string(refused) + " change(s) outside the plan refused (see the log)"});
    if (r.status == RunStatus::kOk || r.status == RunStatus::kChanged) r.status = RunStatus::kFailed;
  }
  scrubber.Scrub(r);  // what the action answered may quote a secret too
  if (!run.dry_run && r.status != RunStatus::kRunning) ReportToNode(ctx.node_reporter(), *run.action, r, applied);
  if (notifier) {
    // The core tells the targets about a failed run unless the action did.
    if (r.status == RunStatus::kFailed && !ctx.notified_failure()) ctx.Notify("failure", r.summary);
    int failed = notifier->Finish(kNotifyFinishGrace);
    ctx.SetNotifier(nullptr);
    r.notifications_failed += failed;
    if (failed > 0)
      r.findings.push_back({Severity::kWarning, "notify",
                            std::to_string(failed) + " notification(s) could not be sent (see the log)"});
  }
  if (size_t dropped = ctx.dropped_lines(); dropped > 0)
    r.findings.push_back({Severity::kWarning, "log",
                          std::to_string(dropped) + " log line(s) dropped: the run's log is kept up to 16 MiB"});
  ctx.FinishList(r);
  if (r.status == RunStatus::kRunning) {
    // The action asked to stay open (e.g. the node is going down for a
    // reboot): the record stays "running" and the run resumes from its
    // checkpoint at the next start.
    if (Status st = history_.Put(r); !st.ok()) r.summary += " (not recorded: " + st.error().message() + ")";
    return r;
  }
  r.finished_ms = ToMillis(host_.clock().Now());
  r.logs = history_.ReadLiveLog(r.id);
  if (Status st = history_.Put(r); !st.ok() && r.summary.find("cannot record") == std::string::npos) {
    r.summary += " (and the result could not be recorded: " + st.error().message() + ")";
  }
  history_.Prune(static_cast<size_t>(settings_.history_max_runs), settings_.history_max_age.count(), r.finished_ms);
  return r;
}

}  // namespace nodeagent
