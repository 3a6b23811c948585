#include "state/history_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "host/local_file_system.h"

namespace nodeagent {

namespace fs = std::filesystem;

HistoryStore::HistoryStore(std::string state_dir) : runs_dir_(std::move(state_dir) + "/runs") {}

Status HistoryStore::Init() { return MakeDirsReal(runs_dir_, 0750); }

std::string HistoryStore::Path(const std::string& id, const char* suffix) const { return runs_dir_ + "/" + id + suffix; }

static bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 80) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; });
}

Status HistoryStore::Put(const RunRecord& record) {
  if (!ValidId(record.id)) return InvalidArgument("bad run id '" + record.id + "'");
  if (record.status != RunStatus::kRunning) {
    ::unlink(Path(record.id, ".secret.json").c_str());  // nothing left to resume
  } else if (!record.secret_params_wire.empty()) {
    if (Status st = WriteFileAtomically(Path(record.id, ".secret.json"), record.secret_params_wire.dump(), 0600);
        !st.ok())
      return st;
  }
  return WriteFileAtomically(Path(record.id, ".json"), ToJson(record).dump(), 0640);
}

nlohmann::json HistoryStore::LoadSecretParams(const std::string& id) const {
  if (!ValidId(id)) return nlohmann::json::object();
  auto text = ReadWholeFile(Path(id, ".secret.json"));
  if (!text) return nlohmann::json::object();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

Result<RunRecord> HistoryStore::Get(const std::string& id) const {
  if (!ValidId(id)) return NotFound("no run '" + id + "'");
  auto text = ReadWholeFile(Path(id, ".json"));
  if (!text) {
    if (text.error().code() == ErrorCode::kNotFound) return NotFound("no run '" + id + "' in the history");
    return text.error();
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) return Error(ErrorCode::kIo, "run record " + Path(id, ".json") + " is corrupt");
  RunRecord r = RunRecordFromJson(j);
  if (r.logs.empty()) r.logs = ReadLiveLog(id);
  return r;
}

std::vector<std::string> HistoryStore::Ids() const {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(runs_dir_, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() > 5 && name.ends_with(".json") && !name.ends_with(".checkpoint.json") &&
        !name.ends_with(".secret.json") &&
        name.find(".tmp.") == std::string::npos)
      ids.push_back(name.substr(0, name.size() - 5));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

nlohmann::json HistoryStore::ReadRecordJson(const std::string& id) const {
  auto text = ReadWholeFile(Path(id, ".json"));
  if (!text) return nullptr;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  return j.is_object() ? j : nlohmann::json();
}

nlohmann::json HistoryStore::ReadRecordHead(const std::string& id) const {
  auto text = ReadWholeFile(Path(id, ".json"));
  if (!text) return nullptr;
  // Only the top level's numbers and strings are kept: a record's changes,
  // data and logs (a dry run's plan lists up to 1000 files) are parsed past,
  // not built, so Prune and Unfinished stay small and quick.
  auto keep = [](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (depth == 0) return true;
    if (depth == 1 && event == nlohmann::json::parse_event_t::key) return true;
    if (depth == 1 && event == nlohmann::json::parse_event_t::value) return !parsed.is_structured();
    return event == nlohmann::json::parse_event_t::object_end || event == nlohmann::json::parse_event_t::array_end
               ? depth > 1
               : false;
  };
  auto j = nlohmann::json::parse(*text, keep, false);
  return j.is_object() ? j : nlohmann::json();
}

std::vector<RunRecord> HistoryStore::List(const std::string& task, size_t limit) const {
  std::vector<RunRecord> out;
  auto ids = Ids();
  for (auto it = ids.rbegin(); it != ids.rend() && out.size() < limit; ++it) {
    nlohmann::json j = ReadRecordJson(*it);
    if (j.is_null()) continue;
    if (!task.empty() && j.value("task", "") != task && j.value("action", "") != task) continue;
    j.erase("logs");
    out.push_back(RunRecordFromJson(j));
  }
  return out;
}

std::vector<RunRecord> HistoryStore::Unfinished() const {
  std::vector<RunRecord> out;
  for (const auto& id : Ids()) {
    // Only running records are loaded whole (with their live log).
    if (ReadRecordHead(id).value("status", "") != "running") continue;
    auto r = Get(id);
    if (r && r->status == RunStatus::kRunning) out.push_back(*r);
  }
  return out;
}

void HistoryStore::AppendLog(const std::string& id, const LogLine& line) {
  if (!ValidId(id)) return;
  std::string text = ToJson(line).dump() + "\n";
  int fd = ::open(Path(id, ".log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return;
  ssize_t n = ::write(fd, text.data(), text.size());
  (void)n;
  ::close(fd);
}

std::vector<LogLine> HistoryStore::ReadLiveLog(const std::string& id) const {
  std::vector<LogLine> out;
  auto text = ReadWholeFile(Path(id, ".log"));
  if (!text) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object()) out.push_back(LogLineFromJson(j));
  }
  return out;
}

RunListWriter::RunListWriter(std::string temp_path, std::string final_path, int fd, size_t max_bytes)
    : temp_path_(std::move(temp_path)), final_path_(std::move(final_path)), fd_(fd), max_bytes_(max_bytes) {}

RunListWriter::~RunListWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_path_.c_str());
  }
}

bool RunListWriter::Flush() {
  size_t done = 0;
  while (done < buffer_.size() && error_ == 0) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) error_ = n < 0 ? errno : EIO;
    else done += static_cast<size_t>(n);
  }
  buffer_.clear();
  return error_ == 0;
}

bool RunListWriter::Append(std::string_view lines) {
  if (fd_ < 0 || error_) return false;
  int64_t count = std::count(lines.begin(), lines.end(), '\n');
  if (bytes_ + lines.size() > max_bytes_) {
    // Whole lines that still fit are kept; the rest is counted.
    while (!lines.empty() && bytes_ < max_bytes_) {
      size_t end = lines.find('\n');
      if (end == std::string_view::npos || bytes_ + end + 1 > max_bytes_) break;
      buffer_.append(lines.substr(0, end + 1));
      bytes_ += end + 1;
      ++lines_;
      --count;
      lines.remove_prefix(end + 1);
    }
    dropped_lines_ += count;
    bytes_ = max_bytes_;
    return Flush();
  }
  buffer_.append(lines);
  bytes_ += lines.size();
  lines_ += count;
  return buffer_.size() < (64 << 10) || Flush();
}

Status RunListWriter::Finish() {
  if (fd_ < 0) return Internal("run list finished twice");
  if (dropped_lines_ > 0)
    buffer_ += "[... " + std::to_string(dropped_lines_) + " more lines not kept: a run's list is kept up to " +
               std::to_string(max_bytes_ >> 20) + " MiB ...]\n";
  bool ok = Flush() && ::fsync(fd_) == 0;
  int err = ok ? 0 : (error_ ? error_ : errno);
  ::close(fd_);
  fd_ = -1;
  if (ok && ::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(temp_path_.c_str());
    return ErrnoError("writing the run's list " + final_path_, err);
  }
  std::string dir = final_path_.substr(0, final_path_.rfind('/'));
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Result<std::unique_ptr<RunListWriter>> HistoryStore::OpenList(const std::string& id) const {
  if (!ValidId(id)) return InvalidArgument("bad run id '" + id + "'");
  std::string temp = Path(id, ".list.tmp");
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoError("creating " + temp, errno);
  return std::make_unique<RunListWriter>(temp, Path(id, ".list"), fd, kMaxListBytes);
}

Result<std::string> HistoryStore::ReadList(const std::string& id, int64_t offset, size_t max_bytes, bool& eof) const {
  eof = true;
  if (!ValidId(id)) return NotFound("no run '" + id + "'");
  int fd = ::open(Path(id, ".list").c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound("run '" + id + "' kept no list");
    return ErrnoError("reading " + Path(id, ".list"), errno);
  }
  std::string out(max_bytes, '\0');
  size_t got = 0;
  while (got < max_bytes) {
    ssize_t n = ::pread(fd, out.data() + got, max_bytes - got, offset + static_cast<int64_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError("reading " + Path(id, ".list"), err);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  char probe;
  eof = got < max_bytes || ::pread(fd, &probe, 1, offset + static_cast<int64_t>(got)) <= 0;
  ::close(fd);
  out.resize(got);
  if (!eof) {
    size_t last = out.rfind('\n');
    if (last != std::string::npos) out.resize(last + 1);
  }
  return out;
}

Status HistoryStore::SaveCheckpoint(const std::string& id, const nlohmann::json& state) {
  if (!ValidId(id)) return InvalidArgument("bad run id '" + id + "'");
  return WriteFileAtomically(Path(id, ".checkpoint.json"), state.dump(), 0640);
}

std::optional<nlohmann::json> HistoryStore::LoadCheckpoint(const std::string& id) const {
  auto text = ReadWholeFile(Path(id, ".checkpoint.json"));
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

size_t HistoryStore::Prune(size_t max_runs, int64_t max_age_ms, int64_t now_ms) {
  // Ids sort by start time, so the scan goes oldest first and stops at the
  // first finished run that is kept: every later one is newer and, as nothing
  // more is removed, no longer beyond max_runs either.
  auto ids = Ids();
  size_t removed = 0;
  size_t remaining = ids.size();
  for (const auto& id : ids) {
    nlohmann::json j = ReadRecordHead(id);
    if (j.is_null()) continue;
    if (j.value("status", "") == "running") continue;
    bool too_many = remaining > max_runs;
    bool too_old = now_ms - j.value("started_ms", int64_t{0}) > max_age_ms;
    if (!too_many && !too_old) break;
    for (const char* suffix : {".json", ".log", ".checkpoint.json", ".secret.json", ".list", ".list.tmp"}) ::unlink(Path(id, suffix).c_str());
    ++removed;
    --remaining;
  }
  return removed;
}

std::map<std::string, TaskRunState> TaskStateStore::Load() const {
  std::map<std::string, TaskRunState> out;
  auto text = ReadWholeFile(path_);
  if (!text) return out;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return out;
  for (auto& [k, v] : j.items()) out[k] = {v.value("last_run_ms", int64_t{0}), v.value("last_boot_id", "")};
  return out;
}

Status TaskStateStore::Record(const std::string& task, const TaskRunState& state) {
  auto all = Load();
  all[task] = state;
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : all) j[k] = {{"last_run_ms", v.last_run_ms}, {"last_boot_id", v.last_boot_id}};
  return WriteFileAtomically(path_, j.dump(2), 0640);
}

}  // namespace nodeagent
