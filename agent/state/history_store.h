// The run history under `state_dir/runs/`: one JSON file per run, each write
// atomic (temp file, fsync, rename), so a kill -9 at any moment loses nothing
// already recorded. Live log lines are appended to `<id>.log` while a run goes
// on and folded into the record when it ends; checkpoints for resumable runs
// live in `<id>.checkpoint.json`. Retention is bounded by count and age.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "state/run_record.h"

namespace nodeagent {

/// Writes one run's full list (`runs/<id>.list`): lines go to a temp file
/// beside the record (buffered, in order), at most `max_bytes` of them (the
/// lines past it are counted, and a last line says how many); Finish() fsyncs
/// it and renames it into place, so a reader sees either no list or a whole
/// one. Destroyed without Finish(), the temp file is removed.
class RunListWriter {
 public:
  RunListWriter(std::string temp_path, std::string final_path, int fd, size_t max_bytes);
  ~RunListWriter();
  RunListWriter(const RunListWriter&) = delete;
  RunListWriter& operator=(const RunListWriter&) = delete;

  /// Appends complete lines; false once a write failed (the list is then dropped).
  bool Append(std::string_view lines);
  /// Flushes, fsyncs and moves the list into place. Error when a write failed.
  Status Finish();
  int64_t lines() const { return lines_; }
  int64_t dropped_lines() const { return dropped_lines_; }

 private:
  bool Flush();

  std::string temp_path_, final_path_;
  int fd_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  int64_t lines_ = 0, dropped_lines_ = 0;
  std::string buffer_;
  int error_ = 0;
};

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

  /// A writer of the run's full list (see RunListWriter), at most
  /// kMaxListBytes. Error when the temp file cannot be created.
  Result<std::unique_ptr<RunListWriter>> OpenList(const std::string& id) const;
  /// Up to `max_bytes` of the run's list from `offset`, cut after a whole
  /// line when one fits (so a client pages through it line by line); `eof` is
  /// set when nothing follows. NotFound when the run kept no list.
  Result<std::string> ReadList(const std::string& id, int64_t offset, size_t max_bytes, bool& eof) const;
  static constexpr size_t kMaxListBytes = size_t{256} << 20;

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
  /// Its top-level strings and numbers only (status, started_ms...); null
  /// when missing or unreadable.
  nlohmann::json ReadRecordHead(const std::string& id) const;
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
