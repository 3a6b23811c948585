#include "audit/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>

namespace nodeagent {

using json = nlohmann::json;

namespace {

constexpr const char* kCurrentName = "audit.jsonl";
constexpr const char* kLockName = "audit.lock";
constexpr size_t kCutStringBytes = 256;

std::string Rfc3339Millis(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  ::gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void CutStrings(json& j) {
  if (j.is_string()) {
    auto& s = j.get_ref<std::string&>();
    if (s.size() > kCutStringBytes) {
      s.resize(kCutStringBytes);
      s += "[... cut]";
    }
  } else if (j.is_structured()) {
    for (auto& item : j) CutStrings(item);
  }
}

/// The line, at most `max` bytes with its newline.
std::string CappedLine(json line, size_t max) {
  std::string text = Dump(line);
  if (text.size() + 1 <= max) return text + "\n";
  CutStrings(line);
  line["truncated"] = true;
  text = Dump(line);
  if (text.size() + 1 <= max) return text + "\n";
  json core = json::object();
  for (const char* key : {"time", "time_ms", "run", "action", "task", "node", "kind", "op", "result", "reported_by"})
    if (line.contains(key)) core[key] = line[key];
  core["truncated"] = true;
  text = Dump(core);
  if (text.size() + 1 <= max) return text + "\n";
  return Dump(json{{"truncated", true}}) + "\n";
}

std::string RotatedName(int i) { return std::string(kCurrentName) + "." + std::to_string(i); }

void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

/// Writes all of `data` with as few write(2) calls as the kernel allows
/// (one, for a regular file); EINTR retried.
Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("appending to " + path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

std::string_view AuditKindName(AuditKind kind) {
  switch (kind) {
    case AuditKind::kFile: return "file";
    case AuditKind::kCommand: return "command";
    case AuditKind::kKube: return "kube";
  }
  return "unknown";
}

json AuditEntryToJson(const AuditEntry& e) {
  json j = {{"time", Rfc3339Millis(e.time_ms)}, {"time_ms", e.time_ms}, {"run", e.run_id},
            {"action", e.action},                {"task", e.task},         {"node", e.node},
            {"kind", AuditKindName(e.kind)},     {"op", e.op}};
  if (e.detail.is_object())
    for (const auto& [key, value] : e.detail.items())
      if (!j.contains(key)) j[key] = value;
  j["result"] = e.error.empty() ? "ok" : "error";
  if (!e.error.empty()) j["error"] = e.error;
  j["reported_by"] = e.reported_by_action ? "action" : "core";
  return j;
}

AuditLog::AuditLog(std::string dir, AuditLogOptions options) : dir_(std::move(dir)), options_(options) {
  if (options_.max_files < 1) options_.max_files = 1;
  if (options_.max_line_bytes < 256) options_.max_line_bytes = 256;
}

AuditLog::~AuditLog() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string AuditLog::current_path() const { return dir_ + "/" + kCurrentName; }

Status AuditLog::OpenLock() {
  if (lock_fd_ >= 0) return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dir_).parent_path(), ec);
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoError("creating " + dir_, errno);
  std::string path = dir_ + "/" + kLockName;
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock_fd_ < 0) return ErrnoError("opening " + path, errno);
  return Status::Ok();
}

Status AuditLog::RotateLocked() {
  std::string oldest = dir_ + "/" + RotatedName(options_.max_files - 1);
  if (options_.max_files == 1) oldest = current_path();
  if (::unlink(oldest.c_str()) != 0 && errno != ENOENT) return ErrnoError("removing " + oldest, errno);
  for (int i = options_.max_files - 2; i >= 1; --i) {
    std::string from = dir_ + "/" + RotatedName(i), to = dir_ + "/" + RotatedName(i + 1);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return ErrnoError("rotating " + from, errno);
  }
  if (options_.max_files > 1) {
    std::string to = dir_ + "/" + RotatedName(1);
    if (::rename(current_path().c_str(), to.c_str()) != 0 && errno != ENOENT)
      return ErrnoError("rotating " + current_path(), errno);
  }
  SyncDir(dir_);
  return Status::Ok();
}

Status AuditLog::Append(const AuditEntry& entry) { return AppendJson(AuditEntryToJson(entry)); }

Status AuditLog::AppendJson(json line) {
  std::vector<std::string> lines;
  lines.push_back(CappedLine(std::move(line), options_.max_line_bytes));
  return AppendLines(std::move(lines));
}

Status AuditLog::AppendMany(const std::vector<AuditEntry>& entries) {
  std::vector<std::string> lines;
  lines.reserve(entries.size());
  for (const AuditEntry& e : entries) lines.push_back(CappedLine(AuditEntryToJson(e), options_.max_line_bytes));
  if (lines.empty()) return Status::Ok();
  return AppendLines(std::move(lines));
}

Status AuditLog::AppendLines(std::vector<std::string> lines) {
  if (Status st = OpenLock(); !st.ok()) return st;
  while (::flock(lock_fd_, LOCK_EX) != 0)
    if (errno != EINTR) return ErrnoError("locking " + dir_ + "/" + kLockName, errno);
  struct Unlock {
    int fd;
    ~Unlock() { ::flock(fd, LOCK_UN); }
  } unlock{lock_fd_};

  const std::string path = current_path();
  // One write(2) and one fdatasync per chunk of whole lines, at most 1 MiB
  // and at most a file's size (one line may be more).
  const size_t max_write = static_cast<size_t>(std::min<uint64_t>(uint64_t{1} << 20, options_.max_file_bytes));
  bool created = false;
  for (size_t next = 0; next < lines.size();) {
    std::string text = std::move(lines[next++]);
    while (next < lines.size() && text.size() + lines[next].size() <= max_write) text += lines[next++];
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && st.st_size > 0 &&
        static_cast<uint64_t>(st.st_size) + text.size() > options_.max_file_bytes) {
      if (Status s = RotateLocked(); !s.ok()) return s;
    }
    int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return ErrnoError("opening " + path, errno);
    struct Close {
      int fd;
      ~Close() { ::close(fd); }
    } close{fd};
    if (::fstat(fd, &st) != 0) return ErrnoError("stat " + path, errno);
    if (st.st_size == 0) {
      created = true;
    } else {
      // A crash (or a full disk) mid-line left a torn line: end it, so this
      // line stays whole and the reader skips only the torn one.
      char last = '\n';  // the fd is O_RDWR: pread needs read access
      if (::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') text.insert(text.begin(), '\n');
    }
    if (Status s = WriteAll(fd, text, path); !s.ok()) return s;
    if (::fdatasync(fd) != 0) return ErrnoError("syncing " + path, errno);
  }
  if (created) SyncDir(dir_);
  return Status::Ok();
}

Result<AuditReadResult> ReadAuditLog(const std::string& dir, const AuditQuery& query) {
  AuditReadResult result;
  struct stat dst {};
  if (::stat(dir.c_str(), &dst) != 0) {
    if (errno == ENOENT) return result;
    return ErrnoError("reading " + dir, errno);
  }
  // Shared with other readers; a writer's rotation waits for us.
  int lock_fd = ::open((dir + "/" + kLockName).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (lock_fd >= 0) {
    while (::flock(lock_fd, LOCK_SH) != 0 && errno == EINTR) {
    }
  }
  struct Close {
    int fd;
    ~Close() {
      if (fd >= 0) ::close(fd);
    }
  } close{lock_fd};

  // Oldest first: the highest rotated number down to the current file.
  std::vector<std::string> files;
  for (int i = 1;; ++i) {
    std::string p = dir + "/" + RotatedName(i);
    if (::access(p.c_str(), F_OK) != 0) break;
    files.insert(files.begin(), p);
  }
  files.push_back(dir + "/" + kCurrentName);

  std::deque<json> kept;
  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      if (errno == ENOENT) continue;
      return ErrnoError("reading " + path, errno);
    }
    std::string line;
    size_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      const bool ended = !in.eof();  // getline stopped at a newline
      if (line.empty() && ended) continue;
      json j = ended ? json::parse(line, nullptr, false) : json(json::value_t::discarded);
      if (j.is_discarded() || !j.is_object()) {
        ++result.skipped_lines;
        result.notes.push_back(path + ":" + std::to_string(number) + ": " +
                               (ended ? "not a JSON object (a line torn by a crash, ended by the next append)"
                                      : "torn last line (the writer died mid-line), skipped"));
        continue;
      }
      if (query.since_ms > 0 && j.value("time_ms", int64_t{0}) < query.since_ms) continue;
      if (!query.run_id.empty() && j.value("run", "") != query.run_id) continue;
      kept.push_back(std::move(j));
      if (query.limit > 0 && kept.size() > query.limit) kept.pop_front();
    }
  }
  result.entries.assign(std::make_move_iterator(kept.begin()), std::make_move_iterator(kept.end()));
  return result;
}

AuditQuery AuditQueryFromRequest(const json& request) {
  // A field of the wrong type is left at its default: a client's mistake
  // must not throw on the daemon's loop.
  auto integer = [&](const char* key, int64_t fallback) {
    auto it = request.find(key);
    return it != request.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
  };
  AuditQuery q;
  q.since_ms = integer("since_ms", 0);
  if (auto it = request.find("run_id"); it != request.end() && it->is_string()) q.run_id = it->get<std::string>();
  int64_t n = integer("n", 1000);
  q.limit = static_cast<size_t>(std::clamp<int64_t>(n, 1, kMaxAuditAnswerEntries));
  return q;
}

json AuditAnswer(const std::string& dir, const AuditQuery& query) {
  auto read = ReadAuditLog(dir, query);
  if (!read) return {{"type", "error"}, {"code", "io"}, {"error", read.error().message()}};
  json answer = {{"type", "audit"}, {"entries", json::array()}, {"skipped_lines", read->skipped_lines},
                 {"notes", read->notes}, {"left_off", 0}};
  // The newest that fit.
  size_t bytes = 0, first = read->entries.size();
  while (first > 0) {
    size_t size = Dump(read->entries[first - 1]).size() + 1;
    if (bytes + size > kMaxAuditAnswerBytes) break;
    bytes += size;
    --first;
  }
  answer["left_off"] = first;
  for (size_t i = first; i < read->entries.size(); ++i) answer["entries"].push_back(std::move(read->entries[i]));
  return answer;
}

}  // namespace nodeagent
