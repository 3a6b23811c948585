// The audit trail: one JSON line for every change the agent makes to the
// host or the cluster (a file written, a command that changes something, an
// API mutation), appended by the core, never by a plugin, under the state
// dir. An operator asks "what did the agent do to this node, and when"
// (`agentctl audit`) without trusting each plugin to say so. Each line is one
// write(2) to an O_APPEND file followed by fdatasync, so a crash (kill -9, a
// power cut) loses at most the line being written and never an earlier one;
// the reader skips a torn last line and says so. Files rotate by size
// (audit.jsonl -> .1 -> .2 ...) with a bounded count, under an flock that the
// daemon's workers and `agentctl --local` share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeagent/result.h"

namespace nodeagent {

enum class AuditKind { kFile, kCommand, kKube };
/// "file", "command", "kube".
std::string_view AuditKindName(AuditKind kind);

/// One change. `detail` holds the kind's fields: for a file "path",
/// "sha256_before", "sha256_after" (null when absent), "mode"; for a command
/// "argv", "exit_code", "signal", "timed_out"; for the cluster "verb",
/// "method", "resource", "namespace", "name", "subresource", "http_status".
struct AuditEntry {
  int64_t time_ms = 0;
  std::string run_id;
  std::string action;
  std::string task;
  std::string node;
  AuditKind kind = AuditKind::kFile;
  std::string op;  ///< file: write, write-in-place, mkdir, remove, chmod; command: run; kube: the verb
  nlohmann::json detail = nlohmann::json::object();
  std::string error;  ///< empty: the change succeeded ("result": "ok")
  /// Seen by no hook of the core, but named in the changes the action's
  /// outcome reports (log-cleanup's own unlinkat, an exec plugin's process).
  bool reported_by_action = false;
};

/// The line's JSON: time (RFC 3339, UTC, ms), time_ms, run, action, task,
/// node, kind, op, the detail's fields, result ("ok" or "error"), error,
/// reported_by ("core" or "action").
nlohmann::json AuditEntryToJson(const AuditEntry& entry);

struct AuditLogOptions {
  /// A file is rotated before a line would take it past this. Default 8 MiB.
  uint64_t max_file_bytes = uint64_t{8} << 20;
  /// Files kept, the current one included (audit.jsonl, .1 ... .N-1). Default 5.
  int max_files = 5;
  /// A longer line has its detail's strings cut, then its detail dropped
  /// ("truncated": true). Default 64 KiB.
  size_t max_line_bytes = size_t{64} << 10;
};

/// Appends entries to <dir>/audit.jsonl (0600; `dir` made 0700 if missing).
/// Safe across threads and processes: rotate and append happen under an
/// exclusive flock on <dir>/audit.lock.
class AuditLog {
 public:
  explicit AuditLog(std::string dir, AuditLogOptions options = {});
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  /// Writes the entry as one line with one write(2), then fdatasync. An
  /// IoError names the file; a short write is an error (the torn line it
  /// leaves is ended with a newline by the next append, so it never glues
  /// onto a good line).
  Status Append(const AuditEntry& entry);
  /// Appends a line already rendered as JSON (AuditEntryToJson), capped the same way.
  Status AppendJson(nlohmann::json line);
  /// Appends several entries, each one line capped the same way, under one
  /// lock, in writes of at most 1 MiB of whole lines and ONE fdatasync at the
  /// end: for records made after the fact (the changes an action reports),
  /// where a sync per line cost a disk flush per deleted file. A crash may
  /// lose the unsynced lines of the batch; a torn line is handled as above.
  Status AppendMany(const std::vector<AuditEntry>& entries);

  const std::string& dir() const { return dir_; }
  /// <dir>/audit.jsonl
  std::string current_path() const;

 private:
  Status OpenLock();
  Status RotateLocked();
  /// Writes `lines` (each ending in a newline) under the lock, then fdatasync.
  Status AppendLines(std::vector<std::string> lines);
  std::string dir_;
  AuditLogOptions options_;
  int lock_fd_ = -1;
};

/// What to read back.
struct AuditQuery {
  int64_t since_ms = 0;  ///< entries at or after this time; 0: all
  std::string run_id;    ///< only this run's entries; empty: all
  size_t limit = 10000;  ///< the newest this many matches
};

struct AuditReadResult {
  std::vector<nlohmann::json> entries;  ///< oldest first
  /// Lines that did not parse (a torn last line after a crash), skipped.
  size_t skipped_lines = 0;
  /// One sentence per skipped line: file and line number.
  std::vector<std::string> notes;
};

/// Reads every file of the trail in <dir>, oldest first, under a shared
/// lock. A missing directory is an empty trail. IoError when a file cannot be read.
Result<AuditReadResult> ReadAuditLog(const std::string& dir, const AuditQuery& query);

/// The most entries `agentctl audit` asks for, and the most bytes of them
/// one answer holds (the daemon drops a client with 8 MiB waiting).
inline constexpr size_t kMaxAuditAnswerEntries = 10000;
inline constexpr size_t kMaxAuditAnswerBytes = size_t{4} << 20;

/// The query of an "audit" request: since_ms, run_id, n (default 1000, at
/// most kMaxAuditAnswerEntries).
AuditQuery AuditQueryFromRequest(const nlohmann::json& request);
/// The answer to `agentctl audit`, from the daemon or --local: {"type":
/// "audit", "entries": [oldest first], "skipped_lines", "notes",
/// "left_off": older matches left out to keep it within
/// kMaxAuditAnswerBytes}, or an {"type": "error"} reply when unreadable.
nlohmann::json AuditAnswer(const std::string& dir, const AuditQuery& query);

}  // namespace nodeagent
