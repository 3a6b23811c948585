// agentctl's command table and its daemon-facing half. The same code serves
// two binaries: `agentctl` itself, kept thin (no libcurl, no plugins) so a
// status round trip costs little more than a process start, and
// `nodeagent-runner ctl`, which adds the local half (LocalCommands: --local
// runs, config check, kube check, docs). The thin binary hands those commands
// to `nodeagent-runner ctl`.
#pragma once

#include <unistd.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctl/output.h"
#include "runner/run_observer.h"

namespace nodeagent {

inline constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 2, kExitUnreachable = 3;

struct CtlGlobals {
  std::string config = "/etc/nodeagent/agent.toml";
  std::string socket;
  bool local = false;
  std::string output = "text";
  bool json() const { return output == "json"; }
};

/// How `agentctl run` runs one request; --confirm makes two: a preview, then
/// the run of the confirmed plan.
struct RunMode {
  bool dry_run = false;
  /// Plan as the real run will, apply nothing; the record goes to
  /// `preview_record` instead of stdout.
  bool preview = false;
  nlohmann::json* preview_record = nullptr;
  /// The fingerprint of the plan the user confirmed: the run refuses another.
  std::string confirmed_plan;
};

/// The commands that work without the daemon, implemented in agentctl_local.cpp.
class LocalCommands {
 public:
  virtual ~LocalCommands() = default;
  virtual int Run(const CtlGlobals& g, const std::string& target, const std::vector<std::string>& sets,
                  const RunMode& mode) = 0;
  /// `with_cluster`: also the cluster's view of the node (ctl/cluster_view.h).
  virtual int Status(const CtlGlobals& g, bool with_cluster) = 0;
  virtual int List(const CtlGlobals& g) = 0;
  virtual int Describe(const CtlGlobals& g, const std::string& action) = 0;
  virtual int History(const CtlGlobals& g, const std::string& task, int n) = 0;
  /// `all`: the run's full list instead (runs/<id>.list), raw, one entry a line.
  virtual int Logs(const CtlGlobals& g, const std::string& run_id, bool all) = 0;
  virtual int ConfigCheck(const CtlGlobals& g) = 0;
  virtual int ConfigShow(const CtlGlobals& g) = 0;
  virtual int KubeCheck(const CtlGlobals& g) = 0;
  /// `agentctl status`'s cluster part as JSON on stdout (the hidden `cluster-status`).
  virtual int ClusterStatus(const CtlGlobals& g) = 0;
  virtual int Gen(const CtlGlobals& g, const std::string& what) = 0;
  /// `agentctl --local audit`: reads the trail under the state dir itself.
  /// `request` is the "audit" op's body (since_ms, run_id, n).
  virtual int Audit(const CtlGlobals& g, const nlohmann::json& request) = 0;
};

/// Parses and runs one agentctl command line. `local` null: the thin binary,
/// which execs `nodeagent-runner ctl ARGS` for commands that need LocalCommands.
int AgentctlMain(int argc, char** argv, LocalCommands* local);

/// `nodeagent-runner ctl ARGS`: AgentctlMain with the local half (agentctl_local.cpp).
int FullAgentctlMain(int argc, char** argv);

/// `agentctl run --confirm`: `run_once` with a preview, the plan shown on
/// stderr, a y/N question answered on `answers` (the terminal), then
/// `run_once` with the confirmed plan's fingerprint. Returns the exit code.
int RunWithConfirmation(const CtlGlobals& g, std::istream& answers,
                        const std::function<int(const RunMode&)>& run_once);

/// `agentctl audit --since`: a duration back from `now_ms` ("2h", "30m",
/// "1d") or a time ("2026-12-06T10:00:00Z", "...+01:00", fractions allowed),
/// as milliseconds since the epoch. InvalidArgument naming both forms.
Result<int64_t> ParseSince(std::string_view text, int64_t now_ms);
/// Prints an "audit" answer: the table, or with -o json one JSON line per
/// entry (oldest first); skipped torn lines are noted on stderr.
int PrintAudit(const CtlGlobals& g, const nlohmann::json& answer);

/// Helpers shared by both halves.
int CtlFail(int code, const std::string& message);
int ExitForRunStatus(const std::string& status);
int64_t CtlNowMs();

/// Prints a run's live output: log lines, and progress on a terminal
/// (overwritten in place) or every few seconds otherwise.
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

}  // namespace nodeagent
