// A plugin for the core's own tests: actions that succeed, fail, crash,
// hang, run slowly, and resume from a checkpoint, so the daemon's isolation,
// timeouts, history and resume logic are tested against a real module.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "nodeagent/file_edit.h"
#include "nodeagent/kube.h"
#include "nodeagent/plugin.h"

namespace {

using namespace nodeagent;
using namespace std::chrono_literals;

const ParamSpec kTouchParams[] = {
    {"path", ParamType::kString, "\"/tmp/touched\"", "Host path of the file to write."},
    {"content", ParamType::kString, "\"hello\"", "What to write."},
};

class TouchAction : public Action {
 public:
  Result<Plan> MakePlan(ActionContext& ctx) override {
    Plan plan;
    const std::string& path = ctx.params().GetString("path");
    std::string want = ctx.params().GetString("content");
    auto edit = PlanFileEdit(ctx.host().files(), path,
                             [&](const std::optional<std::string>&) -> Result<std::string> { return want; });
    if (!edit) return edit.error();
    edit_ = std::move(*edit);
    if (!edit_.changes()) {
      plan.summary = path + " is up to date";
      return plan;
    }
    plan.changes.push_back(FileEditChange(edit_, "write " + std::to_string(want.size()) + " bytes"));
    plan.summary = "would write " + path;
    return plan;
  }
  Result<Outcome> Apply(ActionContext& ctx, const Plan& plan) override {
    Outcome out;
    if (plan.changes.empty()) {
      out.summary = plan.summary;
      return out;
    }
    ctx.Info("writing " + edit_.path);
    Status st = ApplyFileEdit(ctx.host().files(), edit_);
    if (!st.ok()) return st.error();
    out.status = RunStatus::kChanged;
    out.summary = "wrote " + edit_.path;
    out.changes = plan.changes;
    return out;
  }

 private:
  FileEdit edit_;
};

class CrashAction : public Action {
 public:
  Result<Plan> MakePlan(ActionContext&) override { return Plan{}; }
  Result<Outcome> Apply(ActionContext& ctx, const Plan&) override {
    ctx.Info("about to crash");
    std::raise(SIGSEGV);
    return Outcome{};
  }
};

const ParamSpec kSleepParams[] = {
    {.name = "seconds", .type = ParamType::kInt, .default_value = "3600", .doc = "How long to run.",
     .range = IntRange(0, 86'400)},
    {"ignore_cancel", ParamType::kBool, "false", "Keep running when cancelled (and ignore SIGTERM)."},
};

const ParamSpec kLingerParams[] = {
    {.name = "seconds", .type = ParamType::kInt, .default_value = "3",
     .doc = "How long the left-behind child keeps the worker's output open.", .range = IntRange(0, 3600)},
};

/// Finishes at once but leaves a child holding the worker's output open, as a
/// command that daemonizes might: the worker's final record is written while
/// the daemon still waits for the end of the run.
class LingerAction : public Action {
 public:
  Result<Plan> MakePlan(ActionContext&) override { return Plan{}; }
  Result<Outcome> Apply(ActionContext& ctx, const Plan&) override {
    const int64_t seconds = ctx.params().GetInt("seconds");
    if (pid_t pid = ::fork(); pid == 0) {
      ::sleep(static_cast<unsigned>(seconds));
      ::_exit(0);
    } else if (pid < 0) {
      return Error(ErrorCode::kIo, "fork failed");
    }
    Outcome out;
    out.summary = "left a child holding the output for " + std::to_string(seconds) + "s";
    return out;
  }
};

const ParamSpec kCommandParams[] = {
    {"argv", ParamType::kStringList, "[\"true\"]", "The command to run through the host's command runner."},
};

/// Runs one command (no timeout of its own) and reports how it ended, how
/// much output it kept (and the truncation marker, if any) and the worker's
/// peak RSS, so a test can see that a command's output is bounded.
class CommandAction : public Action {
 public:
  Result<Plan> MakePlan(ActionContext& ctx) override {
    Plan plan;
    std::vector<std::string> argv = ctx.params().GetList("argv");
    Change run{"run", argv.empty() ? "" : argv[0]};
    if (!argv.empty()) run.objects = {"command:" + argv[0]};
    plan.changes.push_back(run);
    return plan;
  }
  Result<Outcome> Apply(ActionContext& ctx, const Plan&) override {
    CommandSpec spec;
    spec.argv = ctx.params().GetList("argv");
    spec.timeout = std::chrono::milliseconds(0);
    spec.on_line = [&ctx](std::string_view line, bool is_stderr) {
      ctx.Log(is_stderr ? LogLevel::kWarning : LogLevel::kInfo, line);  // live, into the run's log
    };
    auto r = ctx.host().commands().Run(spec);
    if (!r) return r.error();
    Outcome out;
    out.status = r->succeeded() ? RunStatus::kOk : RunStatus::kFailed;
    out.summary = "exit " + std::to_string(r->exit_code) + ", signal " + std::to_string(r->term_signal) +
                  (r->cancelled ? ", cancelled" : "");
    // The runner's own words, found in the text (not a CommandResult field),
    // so this plugin builds against an older host seam too.
    std::string marker;
    if (size_t at = r->stdout_data.find("[... "); at != std::string::npos) {
      size_t end = r->stdout_data.find(" ...]", at);
      if (end != std::string::npos && end - at < 80) marker = r->stdout_data.substr(at, end + 5 - at);
    }
    struct rusage usage {};
    ::getrusage(RUSAGE_SELF, &usage);  // this worker process, the runner included
    out.data = {{"stdout_kept_bytes", r->stdout_data.size()},
                {"truncation_marker", marker},
                {"worker_peak_rss_kib", usage.ru_maxrss}};
    return out;
  }
};

const ParamSpec kPrintParams[] = {
    {.name = "stdout_bytes", .type = ParamType::kInt, .default_value = "0",
     .doc = "Bytes of 'x', without a newline, written straight to stdout.", .range = IntRange(0, int64_t{1} << 40)},
    {.name = "log_bytes", .type = ParamType::kInt, .default_value = "0", .doc = "Length of each log line of 'x'.",
     .range = IntRange(0, int64_t{1} << 30)},
    {.name = "log_lines", .type = ParamType::kInt, .default_value = "1", .doc = "How many such log lines.",
     .range = IntRange(0, 100'000'000)},
    {.name = "progress_bytes", .type = ParamType::kInt, .default_value = "0",
     .doc = "Length of one progress message of 'x' (log lines are cut by the run's context; progress is not).",
     .range = IntRange(0, int64_t{1} << 30)},
};

/// Floods what the daemon reads from its worker: a plugin's raw stdout (the
/// worker's stderr) and event lines (log lines), long or many.
class PrintAction : public Action {
 public:
  Result<Plan> MakePlan(ActionContext&) override { return Plan{}; }
  Result<Outcome> Apply(ActionContext& ctx, const Plan&) override {
    const std::string chunk(64 * 1024, 'x');
    for (int64_t left = ctx.params().GetInt("stdout_bytes"); left > 0;) {
      ssize_t n = ::write(STDOUT_FILENO, chunk.data(), std::min<int64_t>(left, static_cast<int64_t>(chunk.size())));
      if (n <= 0) return Error(ErrorCode::kIo, "writing to stdout failed");
      left -= n;
    }
    if (int64_t n = ctx.params().GetInt("log_bytes"); n > 0) {
      const std::string line(static_cast<size_t>(n), 'x');
      for (int64_t i = ctx.params().GetInt("log_lines"); i > 0; --i) ctx.Info(line);
    }
    if (int64_t n = ctx.params().GetInt("progress_bytes"); n > 0) ctx.Progress(std::string(static_cast<size_t>(n), 'x'));
    if (::write(STDOUT_FILENO, "\n", 1) != 1) return Error(ErrorCode::kIo, "writing to stdout failed");
    Outcome out;
    out.summary = "printed";
    return out;
  }
};

class SleepAction : public Action {
 public:
  Result<Plan> MakePlan(ActionContext&) override {
    Plan p;
    p.summary = "would sleep";
    return p;
  }
  Result<Outcome> Apply(ActionContext& ctx, const Plan&) override {
    bool ignore = ctx.params().GetBool("ignore_cancel");
    if (ignore) std::signal(SIGTERM, SIG_IGN);
    int64_t seconds = ctx.params().GetInt("seconds");
    ctx.Info("sleeping " + std::to_string(seconds) + "s");
    for (int64_t i = 0; i < seconds * 10; ++i) {
      if (!ignore && ctx.cancelled()) {
        Outcome out;
        out.status = RunStatus::kInterrupted;
        out.summary = "cancelled after " + std::to_string(i / 10) + "s";
        return out;
      }
      if (i % 10 == 0) ctx.Progress("slept " + std::to_string(i / 10) + "s", static_cast<double>(i) / (seconds * 10));
      std::this_thread::sleep_for(100ms);
    }
    Outcome out;
    out.summary = "slept " + std::to_string(seconds) + "s";
    return out;
  }
};

class FailAction : public Action {
 public:
  Result<Plan> MakePlan(ActionContext&) override {
    Plan p;
    p.findings.push_back({Severity::kError, "test", "something is wrong"});
    return p;
  }
  Result<Outcome> Apply(ActionContext&, const Plan& plan) override {
    Outcome out;
    out.status = RunStatus::kFailed;
    out.summary = "check failed";
    out.findings = plan.findings;
    return out;
  }
};

const ParamSpec kNotifyParams[] = {
    {"event", ParamType::kString, "\"reboot\"", "Event of the notification."},
    {"message", ParamType::kString, "\"test message\"", "Its text."},
    {"fail", ParamType::kBool, "false", "End the run failed afterwards (the core then notifies \"failure\")."},
};

/// Sends one notification through ActionContext::Notify, logging right after
/// it returned, so a test measures how long Notify held the action.
class NotifyAction : public Action {
 public:
  Result<Plan> MakePlan(ActionContext&) override {
    Plan p;
    p.summary = "would notify";
    return p;
  }
  Result<Outcome> Apply(ActionContext& ctx, const Plan&) override {
    ctx.Notify(ctx.params().GetString("event"), ctx.params().GetString("message"));
    ctx.Info("notify returned");
    Outcome out;
    if (ctx.params().GetBool("fail")) {
      out.status = RunStatus::kFailed;
      out.summary = "failed on request";
    } else {
      out.summary = "notified";
    }
    return out;
  }
};

const ParamSpec kResumeParams[] = {
    {"token", ParamType::kString, "\"\"", "A credential the resumed run must still have.", {}, false, true},
};

/// Checkpoints "phase 1", then waits (to be killed); resumes to completion,
/// saying how long its secret `token` was (never the token itself).
class ResumableAction : public Action {
 public:
  Result<Plan> MakePlan(ActionContext&) override { return Plan{}; }
  Result<Outcome> Apply(ActionContext& ctx, const Plan&) override {
    auto boot = ctx.host().BootId();
    Status st = ctx.SaveCheckpoint({{"phase", 1}, {"boot_id", boot ? *boot : ""}});
    if (!st.ok()) return st.error();
    ctx.Info("checkpointed phase 1; waiting to be interrupted");
    while (!ctx.cancelled()) std::this_thread::sleep_for(50ms);
    // Told to stop (daemon stopping, its daemon died): stay open, resume later.
    Outcome out;
    out.status = RunStatus::kRunning;
    out.summary = "stopped in phase 1; will resume";
    return out;
  }
  Result<Outcome> Resume(ActionContext& ctx, const nlohmann::json& checkpoint) override {
    Outcome out;
    auto boot = ctx.host().BootId();
    out.status = RunStatus::kChanged;
    out.summary = "resumed from phase " + std::to_string(checkpoint.value("phase", 0)) +
                  (boot && *boot != checkpoint.value("boot_id", "") ? " after a reboot" : " in the same boot") +
                  "; token of " + std::to_string(ctx.params().GetString("token").size()) + " characters";
    return out;
  }
};

/// Tries to change the node while planning, as a careless plugin would: a
/// file write, a directory, a removal, a command not marked read-only, a
/// cluster change; and one read-only command. Each answer becomes a finding,
/// so a test sees what the core refused. Apply does the same for real.
class PlanWritesAction : public Action {
 public:
  Result<Plan> MakePlan(ActionContext& ctx) override {
    Plan plan;
    for (const auto& [what, st] : Attempts(ctx)) plan.findings.push_back({Severity::kInfo, what, Said(st)});
    plan.summary = "tried to change the node while planning";
    // What Apply then changes, so the apply phase lets it.
    Change c{"change", "/etc/itest"};
    c.objects = {"file:/etc/itest/planned", "file:/etc/itest/planned-dir", "file:/etc/itest/keep", "command:touch"};
    plan.changes.push_back(c);
    return plan;
  }
  Result<Outcome> Apply(ActionContext& ctx, const Plan&) override {
    Outcome out;
    for (const auto& [what, st] : Attempts(ctx)) out.findings.push_back({Severity::kInfo, what, Said(st)});
    out.status = RunStatus::kChanged;
    out.summary = "changed the node while applying";
    return out;
  }

 private:
  static std::string Said(const Status& st) { return st.ok() ? "done" : st.error().message(); }
  std::vector<std::pair<std::string, Status>> Attempts(ActionContext& ctx) {
    std::vector<std::pair<std::string, Status>> out;
    FileSystem& fs = ctx.host().files();
    out.emplace_back("write", fs.WriteFileAtomic("/etc/itest/planned", "x\n"));
    out.emplace_back("mkdir", fs.MakeDirs("/etc/itest/planned-dir"));
    out.emplace_back("remove", fs.Remove("/etc/itest/keep"));
    CommandSpec touch;
    touch.argv = {"touch", fs.Resolve("/etc/itest/ran")};
    auto ran = ctx.host().commands().Run(touch);
    out.emplace_back("command", ran ? Status::Ok() : Status(ran.error()));
    CommandSpec look;
    look.argv = {"true"};
    look.read_only = true;
    auto looked = ctx.host().commands().Run(look);
    out.emplace_back("read-only command", looked ? Status::Ok() : Status(looked.error()));
    return out;
  }
};

/// Plans to write /etc/itest/planned and nothing else, then in Apply also
/// tries a write, a removal, a directory and a command its plan does not
/// name, and reports (as `report_extra`) a change outside its plan, as a
/// plugin that recomputes in Apply might.
const ParamSpec kUnplannedParams[] = {
    {"report_extra", ParamType::kBool, "false", "The outcome also lists a change to /etc/itest/extra."},
};

class UnplannedAction : public Action {
 public:
  Result<Plan> MakePlan(ActionContext&) override {
    Plan plan;
    Change c{"create", "/etc/itest/planned"};
    c.objects = {"file:/etc/itest/planned"};
    plan.changes.push_back(c);
    plan.summary = "would write /etc/itest/planned";
    return plan;
  }
  Result<Outcome> Apply(ActionContext& ctx, const Plan& plan) override {
    Outcome out;
    FileSystem& fs = ctx.host().files();
    auto said = [](const Status& st) { return st.ok() ? std::string("done") : st.error().message(); };
    out.findings.push_back({Severity::kInfo, "planned write", said(fs.WriteFileAtomic("/etc/itest/planned", "x\n"))});
    out.findings.push_back({Severity::kInfo, "unplanned write", said(fs.WriteFileAtomic("/etc/itest/other", "x\n"))});
    out.findings.push_back({Severity::kInfo, "unplanned remove", said(fs.Remove("/etc/itest/keep"))});
    out.findings.push_back({Severity::kInfo, "unplanned mkdir", said(fs.MakeDirs("/etc/itest/dir"))});
    CommandSpec touch;
    touch.argv = {"touch", fs.Resolve("/etc/itest/ran")};
    auto ran = ctx.host().commands().Run(touch);
    out.findings.push_back({Severity::kInfo, "unplanned command", ran ? "done" : ran.error().message()});
    out.changes = plan.changes;
    if (ctx.params().GetBool("report_extra")) {
      Change extra{"create", "/etc/itest/extra"};
      extra.objects = {"file:/etc/itest/extra"};
      out.changes.push_back(extra);
    }
    out.status = RunStatus::kChanged;
    out.summary = "wrote /etc/itest/planned";
    return out;
  }
  /// The same attempts again, as a resumed run would make them.
  Result<Outcome> Resume(ActionContext& ctx, const nlohmann::json&) override { return Apply(ctx, Plan{}); }
};

const ParamSpec kValidateParams[] = {
    {"crash", ParamType::kBool, "false", "validate() aborts."},
    {"throw", ParamType::kBool, "false", "validate() throws."},
    {"read_unset", ParamType::kBool, "false", "validate() reads `extra` without asking Has()."},
    {"extra", ParamType::kString, "", "Optional, without a default."},
};

/// A validate() as badly behaved as a plugin's can be.
Status ValidateBadly(const Params& p) {
  if (p.GetBool("crash")) std::abort();
  if (p.GetBool("throw")) throw std::runtime_error("validate blew up");
  if (p.GetBool("read_unset")) (void)p.GetString("extra");
  return Status::Ok();
}

template <typename T>
std::unique_ptr<Action> Make() {
  return std::make_unique<T>();
}

const ParamSpec kAuditParams[] = {
    {"path", ParamType::kString, "\"/etc/itest/audited\"", "Host path of the file to write."},
    {"token", ParamType::kString, "\"\"", "A secret that reaches a command's argv.", {}, false, true},
    {"program", ParamType::kString, "\"/bin/echo\"", "The command run with --token=TOKEN."},
    {"label_node", ParamType::kBool, "false", "Also patch a label onto this node through the context's client."},
};

/// For the audit trail's tests: writes a file, runs a command whose argv
/// carries the secret `token`, and reports a change no hook sees (as
/// log-cleanup's own unlinkat would be).
class AuditedAction : public Action {
 public:
  Result<Plan> MakePlan(ActionContext& ctx) override {
    Plan plan;
    const std::string& path = ctx.params().GetString("path");
    const std::string& program = ctx.params().GetString("program");
    plan.changes.push_back({"write", path, "", "", 0, {"file:" + path}});
    plan.changes.push_back({"run", program, "", "", 0, {"command:" + program}});
    plan.changes.push_back({"delete", "/etc/itest/unseen", "", "", 0, {"file:/etc/itest/unseen"}});
    if (ctx.params().GetBool("label_node"))
      plan.changes.push_back({"label", "node/" + ctx.node_name(), "", "", 0, {"kube:nodes/" + ctx.node_name()}});
    return plan;
  }
  Result<Outcome> Apply(ActionContext& ctx, const Plan& plan) override {
    Status st = ctx.host().files().WriteFileAtomic(ctx.params().GetString("path"), "audited\n");
    if (!st.ok()) return st.error();
    CommandSpec cmd;
    cmd.argv = {ctx.params().GetString("program"), "--token=" + ctx.params().GetString("token")};
    auto ran = ctx.host().commands().Run(cmd);
    if (!ran) return ran.error();
    if (ctx.params().GetBool("label_node")) {
      auto kube = ctx.Kube();
      if (!kube) return kube.error();
      auto patched = (*kube)->PatchNode(ctx.node_name(), {{"metadata", {{"labels", {{"audited", "yes"}}}}}},
                                        PatchType::kMerge);
      if (!patched) return patched.error();
    }
    Outcome out;
    out.status = RunStatus::kChanged;
    out.summary = "wrote, ran (exit " + std::to_string(ran->exit_code) + ")";
    out.changes = plan.changes;
    return out;
  }
};

Status ValidateTouch(const Params& p) {
  if (p.GetString("path").empty() || p.GetString("path")[0] != '/')
    return InvalidArgument("path: must be absolute, got \"" + p.GetString("path") + "\"");
  return Status::Ok();
}

const ActionSpec kActions[] = {
    {"test-touch", "Writes a file (plan shows a diff).", kTouchParams, false, false, &Make<TouchAction>, &ValidateTouch},
    {"test-crash", "Crashes with SIGSEGV.", {}, false, false, &Make<CrashAction>},
    {"test-sleep", "Sleeps; honours cancellation unless told not to.", kSleepParams, false, false, &Make<SleepAction>},
    {"test-command", "Runs a command and reports how it ended.", kCommandParams, false, false, &Make<CommandAction>},
    {"test-print", "Writes a lot to stdout and long or many log lines.", kPrintParams, false, false, &Make<PrintAction>},
    {"test-linger", "Finishes, leaving a child that holds the worker's output open.", kLingerParams, false, false,
     &Make<LingerAction>},
    {"test-disruptive", "Sleeps, as a disruptive action.", kSleepParams, true, false, &Make<SleepAction>},
    {"test-fail", "Reports a failed check.", {}, false, false, &Make<FailAction>},
    {"test-notify", "Sends one notification, optionally failing after.", kNotifyParams, false, false,
     &Make<NotifyAction>},
    {"test-resume", "Checkpoints, waits, resumes.", kResumeParams, true, true, &Make<ResumableAction>},
    {"test-plan-writes", "Tries to change the node while planning.", {}, false, false, &Make<PlanWritesAction>},
    {"test-unplanned", "Applies more than it planned.", kUnplannedParams, false, false, &Make<UnplannedAction>},
    {"test-audited", "Writes a file, runs a command with a secret in its argv, reports an unseen change.",
     kAuditParams, false, false, &Make<AuditedAction>},
    {"test-validate", "Its validate() crashes, throws or reads an unset parameter on request.", kValidateParams,
     false, false, &Make<FailAction>, &ValidateBadly},
};

}  // namespace

extern "C" NODEAGENT_EXPORT const nodeagent::PluginDescriptor* nodeagent_plugin() {
  static const nodeagent::PluginDescriptor d{nodeagent::kPluginAbiVersion, "testing", "0.0.1",
                                             "Actions for testing the agent itself.", "test", kActions};
  return &d;
}
