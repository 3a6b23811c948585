// One run of an action, as kept in the history: who asked, what ran, how it
// ended, and its log. The same record is written when the run starts
// (status "running"), and again when it ends, so a crash in between leaves a
// record that the next start marks "interrupted" (or resumes).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeagent/action.h"

namespace nodeagent {

struct LogLine {
  int64_t time_ms = 0;  // unix epoch ms
  LogLevel level = LogLevel::kInfo;
  std::string message;
};

/// The plan a run made, kept beside what it did (RunRecord's summary,
/// findings and changes are the outcome): `agentctl run -o json` and the
/// history show both, and a resumed run is held to it.
struct RecordedPlan {
  std::string summary;
  std::vector<Finding> findings;
  std::vector<Change> changes;
  /// PlanFingerprint() of `changes` (runner/plan_fingerprint.h).
  std::string fingerprint;
};

struct RunRecord {
  std::string id;
  std::string task;     // empty for ad-hoc runs of an action
  std::string action;
  std::string plugin;
  std::string node;
  std::string trigger;  // "manual", "schedule", "catch-up", "boot", "resume"
  std::string requested_by;  // "uid 0", "scheduler"
  bool dry_run = false;
  /// Planned as a real run would and stopped there (dry_run is set too): the
  /// first half of `agentctl run --confirm`.
  bool preview = false;
  /// The fingerprint of the plan the user confirmed (`agentctl run
  /// --confirm`); empty when none. The run refuses to apply another plan.
  std::string confirmed_plan;
  /// Set once the plan is made (absent in records written before it was).
  std::optional<RecordedPlan> plan;
  RunStatus status = RunStatus::kRunning;
  std::string summary;
  std::vector<Finding> findings;
  std::vector<Change> changes;
  nlohmann::json data = nlohmann::json::object();
  nlohmann::json params = nlohmann::json::object();       // for people: "10d"
  nlohmann::json params_wire = nlohmann::json::object();  // typed, to resume the run
  /// Secret parameters (ParamSpec::secret), typed. Never in ToJson(): the
  /// history keeps them in a root-only file only while the run may resume.
  nlohmann::json secret_params_wire = nlohmann::json::object();
  int64_t timeout_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  std::string boot_id;       // at start
  int64_t worker_pid = 0;
  /// Who the worker was (see state/worker_identity.h): its start time in
  /// clock ticks and the real kernel's boot id, so that a later start only
  /// ever signals that very process.
  int64_t worker_start_ticks = 0;
  std::string worker_kernel_boot_id;
  int resumes = 0;           // times it was resumed after a crash or reboot
  /// Notifications ([[notify]] targets) of this run that could not be sent,
  /// retries spent or given up at its end: one per message and target.
  int notifications_failed = 0;
  std::vector<LogLine> logs; // kept in the record once the run ended
  /// The run's full list (ActionContext::AppendListLines), kept in
  /// `runs/<id>.list` beside the record: its lines (those kept) and the lines
  /// past the cap that were counted only. Both 0 when the run kept no list.
  int64_t list_lines = 0;
  int64_t list_lines_dropped = 0;

  int64_t duration_ms() const { return finished_ms > started_ms ? finished_ms - started_ms : 0; }
};

nlohmann::json ToJson(const RunRecord& r, bool with_logs = true);
RunRecord RunRecordFromJson(const nlohmann::json& j);
nlohmann::json ToJson(const Finding& f);
nlohmann::json ToJson(const Change& c);
nlohmann::json ToJson(const LogLine& l);
Finding FindingFromJson(const nlohmann::json& j);
Change ChangeFromJson(const nlohmann::json& j);
LogLine LogLineFromJson(const nlohmann::json& j);
const char* LogLevelName(LogLevel level);
LogLevel ParseLogLevel(std::string_view s);

/// A new sortable run id: "20261128T101500Z-3fa9c2".
std::string NewRunId(std::chrono::system_clock::time_point now);

}  // namespace nodeagent
