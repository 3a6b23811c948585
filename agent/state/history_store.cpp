#include "state/history_store.h"

#include <fcntl.h>
#include <unistd.h>

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
    if (ReadRecordJson(id).value("status", "") != "running") continue;
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
    nlohmann::json j = ReadRecordJson(id);
    if (j.is_null()) continue;
    if (j.value("status", "") == "running") continue;
    bool too_many = remaining > max_runs;
    bool too_old = now_ms - j.value("started_ms", int64_t{0}) > max_age_ms;
    if (!too_many && !too_old) break;
    for (const char* suffix : {".json", ".log", ".checkpoint.json", ".secret.json"}) ::unlink(Path(id, suffix).c_str());
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
