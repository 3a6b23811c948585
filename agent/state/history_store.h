// The run history under `state_dir/runs/`: one JSON file per run, each write
// atomic (temp file, fsync, rename), so a kill -9 at any moment loses nothing
// already recorded. Live log lines are appended to `<id>.log` while a run goes
// on and folded into the record when it ends; checkpoints for resumable runs
// live in `<id>.checkpoint.json`. Retention is bounded by count and age.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "state/run_record.h"

namespace nodeagent {

class HistoryStore {
 public:
  explicit HistoryStore(std::string state_dir);

  /// Creates the folders. Error when the state dir cannot be created.
  Status Init();
  /// Writes (creates or replaces) the record atomically. Its secret
  /// parameters go to a separate file readable by root only, kept while the
  /// run is running (it may be resumed) and deleted once it has ended.
  Status Put(const RunRecord& record);
  /// NotFound for an unknown id; the record's logs include live lines.
  Result<RunRecord> Get(const std::string& id) const;
  /// Newest first; `task` or `action` filter when non-empty; at most `limit`.
  std::vector<RunRecord> List(const std::string& task, size_t limit) const;
  /// Runs still marked running (after a crash: interrupted or resumable).
  std::vector<RunRecord> Unfinished() const;

  /// Appends a live log line (O_APPEND; a torn last line is skipped on read).
  void AppendLog(const std::string& id, const LogLine& line);
  std::vector<LogLine> ReadLiveLog(const std::string& id) const;

  Status SaveCheckpoint(const std::string& id, const nlohmann::json& state);
  std::optional<nlohmann::json> LoadCheckpoint(const std::string& id) const;
  /// The secret parameters Put() kept for a running run (empty object when none).
  nlohmann::json LoadSecretParams(const std::string& id) const;

  /// Deletes finished runs beyond `max_runs` (oldest first) or older than
  /// `max_age_ms` before `now_ms`. Returns how many were removed.
  size_t Prune(size_t max_runs, int64_t max_age_ms, int64_t now_ms);

  const std::string& runs_dir() const { return runs_dir_; }

 private:
  std::vector<std::string> Ids() const;  // sorted ascending (ids sort by time)
  /// A record's JSON; null when missing or unreadable.
  nlohmann::json ReadRecordJson(const std::string& id) const;
  std::string Path(const std::string& id, const char* suffix) const;

  std::string runs_dir_;
};

/// Last run per task, for the scheduler (`state_dir/tasks.json`).
struct TaskRunState {
  int64_t last_run_ms = 0;   // when the last scheduled or manual run started
  std::string last_boot_id;  // boot id then (for @reboot)
};

class TaskStateStore {
 public:
  explicit TaskStateStore(std::string state_dir) : path_(std::move(state_dir) + "/tasks.json") {}
  std::map<std::string, TaskRunState> Load() const;
  Status Record(const std::string& task, const TaskRunState& state);

 private:
  std::string path_;
};

}  // namespace nodeagent
