#include "runner/audit_hooks.h"

#include <algorithm>
#include <cstdio>

#include "audit/sha256.h"
#include "nodeagent/plan_objects.h"
#include "runner/forwarding_file_system.h"
#include "runner/forwarding_kube_client.h"
#include "runner/run_executor.h"

namespace nodeagent {

using json = nlohmann::json;

RunAuditTrail::RunAuditTrail(AuditLog& log, Clock& clock, const SecretScrubber& scrubber, AuditEntry identity,
                             ErrorReporter on_error)
    : log_(log), clock_(clock), scrubber_(scrubber), identity_(std::move(identity)), on_error_(std::move(on_error)) {}

void RunAuditTrail::Record(AuditKind kind, std::string op, json detail, std::string error, bool reported_by_action) {
  AuditEntry e = identity_;
  e.time_ms = ToMillis(clock_.Now());
  e.kind = kind;
  e.op = std::move(op);
  scrubber_.Scrub(detail);
  e.detail = std::move(detail);
  e.error = scrubber_.Scrub(error);
  e.reported_by_action = reported_by_action;
  if (!reported_by_action && error.empty()) {
    std::string object = kind == AuditKind::kFile      ? FileObject(e.detail.value("path", ""))
                         : kind == AuditKind::kCommand ? CommandObject(e.detail.value("argv", json::array()).empty()
                                                                           ? ""
                                                                           : e.detail["argv"][0].get<std::string>())
                                                       : KubeObject(e.detail.value("resource", ""),
                                                                    e.detail.value("namespace", ""),
                                                                    e.detail.value("name", ""));
    std::lock_guard<std::mutex> lock(mu_);
    seen_.insert(std::move(object));
  }
  if (Status st = log_.Append(e); !st.ok()) {
    ++failures_;
    if (on_error_) on_error_("audit trail: " + st.error().message());
  }
}

namespace {

std::string Octal(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

/// The file's SHA-256 now: a hex string, null when there is no file, or the
/// reason it could not be read (a directory, too large).
json HashNow(const FileSystem& files, std::string_view path) {
  auto content = files.ReadFile(path);
  if (content) return Sha256Hex(*content);
  if (content.error().code() == ErrorCode::kNotFound) return nullptr;
  return json{{"unreadable", content.error().message()}};
}

std::string ErrorText(const Status& st) { return st.ok() ? "" : st.error().message(); }

class AuditFiles : public ForwardingFileSystem {
 public:
  AuditFiles(FileSystem& inner, RunAuditTrail& trail) : ForwardingFileSystem(inner), trail_(trail) {}

  Status WriteFileAtomic(std::string_view p, std::string_view content, mode_t mode,
                         std::optional<std::string> backup_suffix) override {
    json detail = {{"path", std::string(p)}, {"sha256_before", HashNow(inner(), p)}};
    if (backup_suffix) detail["backup"] = std::string(p) + *backup_suffix;
    Status st = inner().WriteFileAtomic(p, content, mode, backup_suffix);
    detail["sha256_after"] = st.ok() ? json(Sha256Hex(content)) : HashNow(inner(), p);
    trail_.Record(AuditKind::kFile, "write", std::move(detail), ErrorText(st));
    return st;
  }
  Status WriteInPlace(std::string_view p, std::string_view content) override {
    json detail = {{"path", std::string(p)}, {"sha256_before", HashNow(inner(), p)}};
    Status st = inner().WriteInPlace(p, content);
    detail["sha256_after"] = st.ok() ? json(Sha256Hex(content)) : HashNow(inner(), p);
    trail_.Record(AuditKind::kFile, "write-in-place", std::move(detail), ErrorText(st));
    return st;
  }
  // A directory that is already there is no change.
  Status MakeDirs(std::string_view p, mode_t mode) override {
    bool existed = inner().Exists(p);
    Status st = inner().MakeDirs(p, mode);
    if (!existed) trail_.Record(AuditKind::kFile, "mkdir", {{"path", std::string(p)}, {"mode", Octal(mode)}}, ErrorText(st));
    return st;
  }
  // Removing what is not there is no change.
  Status Remove(std::string_view p) override {
    auto info = inner().Lstat(p);
    if (!info && info.error().code() == ErrorCode::kNotFound) return inner().Remove(p);
    json detail = {{"path", std::string(p)}};
    if (info && info->type == FileType::kRegular) detail["sha256_before"] = HashNow(inner(), p);
    else if (info) detail["type"] = info->type == FileType::kDirectory ? "directory"
                                    : info->type == FileType::kSymlink ? "symlink"
                                                                        : "special";
    Status st = inner().Remove(p);
    detail["sha256_after"] = nullptr;
    trail_.Record(AuditKind::kFile, "remove", std::move(detail), ErrorText(st));
    return st;
  }
  Status Chmod(std::string_view p, mode_t mode) override {
    auto before = inner().Stat(p);
    Status st = inner().Chmod(p, mode);
    trail_.Record(AuditKind::kFile, "chmod",
                  {{"path", std::string(p)}, {"mode_before", before ? json(Octal(before->mode)) : json(nullptr)},
                   {"mode_after", Octal(mode)}},
                  ErrorText(st));
    return st;
  }

 private:
  RunAuditTrail& trail_;
};

class AuditCommands : public CommandRunner {
 public:
  AuditCommands(CommandRunner& inner, RunAuditTrail& trail) : inner_(inner), trail_(trail) {}
  // Only commands that may change something; stdin and env are not kept
  // (they carry what the argv must not: tokens).
  Result<CommandResult> Run(const CommandSpec& spec) override {
    auto result = inner_.Run(spec);
    if (spec.read_only) return result;
    json detail = {{"argv", spec.argv}};
    std::string error;
    if (!result) {
      error = result.error().message();
    } else {
      detail["exit_code"] = result->exit_code;
      if (result->term_signal) detail["signal"] = result->term_signal;
      if (result->timed_out) detail["timed_out"] = true;
      if (result->cancelled) detail["cancelled"] = true;
      detail["duration_ms"] = result->duration.count();
      if (!result->succeeded())
        error = result->timed_out ? "timed out"
                : result->cancelled ? "cancelled"
                : result->term_signal ? "killed by signal " + std::to_string(result->term_signal)
                                      : "exit code " + std::to_string(result->exit_code);
    }
    trail_.Record(AuditKind::kCommand, "run", std::move(detail), error);
    return result;
  }

 private:
  CommandRunner& inner_;
  RunAuditTrail& trail_;
};

std::string LeaseName(const json& lease) {
  if (lease.is_object() && lease.contains("metadata") && lease["metadata"].is_object() &&
      lease["metadata"].contains("name") && lease["metadata"]["name"].is_string())
    return lease["metadata"]["name"].get<std::string>();
  return "";
}

std::string VerbOf(std::string_view method, const json& fields) {
  if (method == "POST") return fields.value("subresource", "") == "eviction" ? "evict" : "create";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return fields.value("name", "").empty() ? "deletecollection" : "delete";
  return std::string(method);
}

class AuditKube : public ForwardingKubeClient {
 public:
  AuditKube(std::unique_ptr<KubeClient> inner, RunAuditTrail& trail)
      : ForwardingKubeClient(std::move(inner)), trail_(trail) {}

  KubeResult<json> Request(const KubeRequest& r) override {
    auto result = inner().Request(r);
    if (IsReadOnlyMethod(r.method)) return result;
    json fields = KubePathFields(r.path);
    if (fields.value("name", "").empty() && r.method == "POST") fields["name"] = LeaseName(r.body);
    std::string verb = VerbOf(r.method, fields);
    Record(std::move(verb), r.method, std::move(fields), result);
    return result;
  }
  KubeResult<json> PatchNode(const std::string& name, const json& patch, PatchType t) override {
    auto result = inner().PatchNode(name, patch, t);
    Record("patch", "PATCH", Fields("", "nodes", "", name), result);
    return result;
  }
  KubeResult<json> DeletePod(const std::string& ns, const std::string& name, const DeleteOptions& o) override {
    auto result = inner().DeletePod(ns, name, o);
    Record("delete", "DELETE", Fields("", "pods", ns, name), result);
    return result;
  }
  KubeResult<json> EvictPod(const std::string& ns, const std::string& name, const DeleteOptions& o) override {
    auto result = inner().EvictPod(ns, name, o);
    Record("evict", "POST", Fields("", "pods", ns, name, "eviction"), result);
    return result;
  }
  KubeResult<json> CreateLease(const std::string& ns, const json& lease) override {
    auto result = inner().CreateLease(ns, lease);
    Record("create", "POST", Fields("coordination.k8s.io", "leases", ns, LeaseName(lease)), result);
    return result;
  }
  KubeResult<json> UpdateLease(const std::string& ns, const json& lease) override {
    auto result = inner().UpdateLease(ns, lease);
    Record("update", "PUT", Fields("coordination.k8s.io", "leases", ns, LeaseName(lease)), result);
    return result;
  }
  KubeResult<json> DeleteLease(const std::string& ns, const std::string& name, const std::string& rv) override {
    auto result = inner().DeleteLease(ns, name, rv);
    Record("delete", "DELETE", Fields("coordination.k8s.io", "leases", ns, name), result);
    return result;
  }
  KubeResult<json> CreateEvent(const EventSpec& e) override {
    auto result = inner().CreateEvent(e);
    std::string name = result && result->is_object() ? LeaseName(*result) : "";
    json fields = Fields("", "events", e.ns, name);
    fields["reason"] = e.reason;
    Record("create", "POST", std::move(fields), result);
    return result;
  }
  KubeResult<json> PatchDaemonSet(const std::string& ns, const std::string& name, const json& patch,
                                  PatchType t) override {
    auto result = inner().PatchDaemonSet(ns, name, patch, t);
    Record("patch", "PATCH", Fields("apps", "daemonsets", ns, name), result);
    return result;
  }

 private:
  static json Fields(std::string group, std::string resource, std::string ns, std::string name,
                     std::string subresource = "") {
    return {{"group", std::move(group)}, {"resource", std::move(resource)}, {"namespace", std::move(ns)},
            {"name", std::move(name)},   {"subresource", std::move(subresource)}};
  }
  template <typename T>
  void Record(std::string verb, std::string method, json fields, const KubeResult<T>& result) {
    fields["verb"] = verb;
    fields["method"] = std::move(method);
    std::string error;
    if (!result) {
      error = result.error().message();
      if (result.http_status()) fields["http_status"] = result.http_status();
    }
    trail_.Record(AuditKind::kKube, std::move(verb), std::move(fields), std::move(error));
  }

  RunAuditTrail& trail_;
};

}  // namespace

json KubePathFields(std::string_view path) {
  std::vector<std::string> segs;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) segs.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  size_t at = 0;
  std::string group;
  if (segs.size() >= 2 && segs[0] == "api") {
    at = 2;
  } else if (segs.size() >= 3 && segs[0] == "apis") {
    group = segs[1];
    at = 3;
  } else {
    return {{"path", std::string(path)}};
  }
  std::string ns;
  if (segs.size() >= at + 3 && segs[at] == "namespaces") {
    ns = segs[at + 1];
    at += 2;
  }
  auto seg = [&](size_t k) { return k < segs.size() ? segs[k] : std::string(); };
  return {{"group", group}, {"resource", seg(at)}, {"namespace", ns}, {"name", seg(at + 1)},
          {"subresource", seg(at + 2)}};
}

bool RunAuditTrail::Saw(const std::string& object) const {
  std::lock_guard<std::mutex> lock(mu_);
  return seen_.count(object) > 0;
}

void RunAuditTrail::RecordReported(std::vector<Reported> changes) {
  std::vector<AuditEntry> entries;
  entries.reserve(changes.size());
  for (Reported& c : changes) {
    AuditEntry e = identity_;
    e.time_ms = ToMillis(clock_.Now());
    e.kind = c.kind;
    e.op = std::move(c.op);
    scrubber_.Scrub(c.detail);
    e.detail = std::move(c.detail);
    e.reported_by_action = true;
    entries.push_back(std::move(e));
  }
  if (Status st = log_.AppendMany(entries); !st.ok()) {
    failures_ += static_cast<int>(entries.size());
    if (on_error_) on_error_("audit trail: " + st.error().message());
  }
}

void RecordReportedChanges(const std::vector<Change>& changes, RunAuditTrail& trail) {
  std::vector<RunAuditTrail::Reported> reported;
  for (const Change& c : changes) {
    if (c.objects.empty()) continue;
    bool all_seen = std::all_of(c.objects.begin(), c.objects.end(), [&](const std::string& o) {
      return trail.Saw(o.starts_with("file:") ? FileObject(std::string_view(o).substr(5)) : o);
    });
    if (all_seen) continue;  // the hooks recorded it as it happened
    const std::string& first = c.objects.front();
    AuditKind kind = first.starts_with("command:") ? AuditKind::kCommand
                     : first.starts_with("kube:")  ? AuditKind::kKube
                                                   : AuditKind::kFile;
    reported.push_back({kind, c.kind, {{"target", c.target}, {"objects", c.objects}}});
  }
  trail.RecordReported(std::move(reported));
}


class AuditingHost::Files : public AuditFiles {
  using AuditFiles::AuditFiles;
};
class AuditingHost::Commands : public AuditCommands {
  using AuditCommands::AuditCommands;
};

AuditingHost::AuditingHost(Host& inner, RunAuditTrail& trail)
    : ForwardingHost(inner), files_(std::make_unique<Files>(inner.files(), trail)),
      commands_(std::make_unique<Commands>(inner.commands(), trail)) {}
AuditingHost::~AuditingHost() = default;
FileSystem& AuditingHost::files() { return *files_; }
CommandRunner& AuditingHost::commands() { return *commands_; }

std::unique_ptr<KubeClient> AuditKubeClient(std::unique_ptr<KubeClient> inner, RunAuditTrail& trail) {
  return std::make_unique<AuditKube>(std::move(inner), trail);
}

}  // namespace nodeagent
