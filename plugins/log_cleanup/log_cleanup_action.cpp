#include "log_cleanup_action.h"

#include <algorithm>
#include <ctime>

#include "nodeagent/plan_objects.h"
#include "open_file_index.h"
#include "path_escape.h"
#include "plan_executor.h"
#include "run_list.h"

namespace nodeagent::logc {

namespace {

std::string IsoTime(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1'000'000'000);
  if (ns < 0 && ns % 1'000'000'000 != 0) --secs;
  struct tm tm;
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string HumanBytes(int64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) { v /= 1024; ++u; }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string AgeText(int64_t start_ns, int64_t mtime_ns) {
  double days = static_cast<double>(start_ns - mtime_ns) / 86'400e9;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f days old", days);
  return buf;
}

int64_t ToNs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Finding ToFinding(const Issue& i) {
  Severity s = i.level == IssueLevel::kInfo ? Severity::kInfo
               : i.level == IssueLevel::kWarning ? Severity::kWarning
                                                 : Severity::kError;
  return Finding{s, i.path, i.message};
}

nlohmann::json IssuesJson(const std::vector<Issue>& issues) {
  nlohmann::json a = nlohmann::json::array();
  for (const Issue& i : issues) {
    a.push_back({{"path", i.path}, {"message", i.message},
                 {"level", i.level == IssueLevel::kInfo ? "info" : i.level == IssueLevel::kWarning ? "warning" : "error"}});
  }
  return a;
}

bool AnyPathFailed(const std::vector<Issue>& issues) {
  for (const Issue& i : issues) {
    if (i.level == IssueLevel::kPathFailed) return true;
  }
  return false;
}

Result<OpenFileIndex> OpenProc(ActionContext& ctx) { return OpenFileIndex::Open(ctx.host().files().Resolve("/proc")); }


/// Hands the run's full list to the context in chunks of about 64 KiB.
class ListSink {
 public:
  explicit ListSink(ActionContext& ctx) : ctx_(ctx), on_(true) {}
  ~ListSink() { Flush(); }
  bool on() const { return on_; }
  /// One line: KIND TAB BYTES TAB MTIME TAB PATH (escaped: no tab, no newline).
  void Add(std::string_view kind, int64_t bytes, int64_t mtime_ns, std::string_view dir, std::string_view name) {
    if (!on_) return;
    AppendListRow(buffer_, kind, bytes, mtime_ns, dir, name);
    if (buffer_.size() >= (64 << 10)) Flush();
  }
  void AddRmdir(std::string_view dir) {
    if (on_) AppendRmdirRow(buffer_, dir);
  }
  void Flush() {
    if (on_ && !buffer_.empty()) on_ = ctx_.AppendListLines(buffer_);
    buffer_.clear();
  }

 private:
  ActionContext& ctx_;
  bool on_;
  std::string buffer_;
};

}  // namespace

Result<Plan> LogCleanupAction::MakePlan(ActionContext& ctx) {
  Result<CleanupOptions> options = OptionsFromParams(ctx.params());
  if (!options.ok()) return options.error();
  options_ = std::make_unique<CleanupOptions>(std::move(*options));
  const CleanupOptions& o = *options_;

  // /proc is opened now (a run without it fails before it walks); its fd
  // tables are read by the walk once it found files to act on.
  std::optional<OpenFileIndex> open;
  if (o.skip_open_files) {
    Result<OpenFileIndex> opened = OpenProc(ctx);
    if (!opened.ok()) return opened.error();
    open = std::move(*opened);
  }

  plan_ = std::make_unique<CleanupPlan>();
  WalkerEnv env;
  env.files = &ctx.host().files();
  env.clock = &ctx.host().clock();
  env.open = open ? &*open : nullptr;
  env.hooks = hooks_;
  env.threads = threads_;
  env.progress = [&ctx](std::string_view m) { ctx.Progress(m); };
  env.cancelled = [&ctx] { return ctx.cancelled(); };
  CleanupWalker walker(o, env);
  Status walked = walker.Walk(ctx.host().clock().Now(), *plan_);
  if (!walked.ok()) return walked.error();
  const CleanupPlan& p = *plan_;

  Plan plan;
  // The plan (and the run record) lists the first kListLimit rows; a dry run
  // streams every row to the run's full list (`agentctl logs RUN --all`).
  const size_t limit = kListLimit;
  std::optional<ListSink> list;
  if (ctx.dry_run()) list.emplace(ctx);
  const int64_t start_ns = ToNs(p.start);
  nlohmann::json files = nlohmann::json::array();
  // Rows in path order (the walk's threads find directories in any order),
  // so that two plans of the same tree list the same files.
  std::vector<std::pair<std::string, uint32_t>> dirs;
  for (uint32_t d = 0; d < p.dirs.size(); ++d) {
    if (p.dirs[d].file_count > 0 || p.dirs[d].remove_if_emptied) dirs.emplace_back(EscapePath(p.DirPath(d)), d);
  }
  std::sort(dirs.begin(), dirs.end());
  size_t listed_files = 0;
  bool truncated = false;  // some file or directory is not listed
  // One directory's files at a time, read back from the spool and sorted.
  std::vector<PlannedFile> in_dir;
  std::string in_dir_names;
  std::vector<uint32_t> name_at, order;
  for (const auto& [dir_path, d] : dirs) {
    if (truncated && !(list && list->on())) break;
    const PlannedDir& dir = p.dirs[d];
    in_dir.clear();
    in_dir_names.clear();
    name_at.clear();
    if (!p.files.ForEach(dir.spool_off, dir.spool_bytes, [&](uint64_t, const PlannedFile& f, std::string_view name) {
          if (f.open) return;
          in_dir.push_back(f);
          name_at.push_back(static_cast<uint32_t>(in_dir_names.size()));
          in_dir_names.append(name);
        }))
      return Error(ErrorCode::kIo, "log-cleanup: reading back the planned files failed");
    auto name_of = [&](uint32_t i) { return std::string_view(in_dir_names).substr(name_at[i], in_dir[i].name_len); };
    order.resize(in_dir.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return name_of(a) < name_of(b); });
    for (uint32_t i : order) {
      const PlannedFile* f = &in_dir[i];
      if (!truncated && plan.changes.size() >= limit) truncated = true;
      if (truncated) {
        if (!list || !list->on()) break;
        list->Add(FileActionName(f->action), f->size, f->mtime_ns, dir_path, EscapePath(name_of(i)));
        continue;
      }
      std::string path = dir_path + "/" + EscapePath(name_of(i));
      if (list) list->Add(FileActionName(f->action), f->size, f->mtime_ns, dir_path, EscapePath(name_of(i)));
      plan.changes.push_back({FileActionName(f->action), path, AgeText(start_ns, f->mtime_ns), "", f->size,
                              {"file:" + path}});
      if (files.size() < kDataFilesLimit)
        files.push_back({{"path", path}, {"action", FileActionName(f->action)}, {"bytes", f->size},
                         {"mtime", IsoTime(f->mtime_ns)}});
      ++listed_files;
    }
    if (!dir.remove_if_emptied) continue;
    if (list) list->AddRmdir(dir_path);
    if (truncated || plan.changes.size() >= limit) {
      truncated = true;
      continue;
    }
    plan.changes.push_back({"rmdir", dir_path, "once the files planned in it are gone, if nothing else is left", "",
                            0, {"file:" + dir_path}});
  }
  if (list) list->Flush();
  if (truncated) {
    // The rest is named by subtree: each configured path, whole.
    Change more{"note", "(" + std::to_string(p.file_total - static_cast<int64_t>(listed_files)) + " more files)",
                list && list->on() ? "every file: agentctl logs " + ctx.run_id() + " --all"
                                   : "use --dry-run to list every file",
                "", 0};
    for (const TopPath& t : p.tops) more.objects.push_back("file:" + EscapePath(t.host_path) + "/**");
    plan.changes.push_back(std::move(more));
  }
  int64_t del_files = 0, del_bytes = 0, cmp_files = 0, cmp_bytes = 0;
  nlohmann::json paths = nlohmann::json::array();
  for (const TopPath& t : p.tops) {
    const TopTotals& c = t.totals;
    del_files += c.delete_files; del_bytes += c.delete_bytes;
    cmp_files += c.compress_files; cmp_bytes += c.compress_bytes;
    paths.push_back({{"path", EscapePath(t.host_path)}, {"configured", EscapePath(t.configured)},
                     {"scanned", c.scanned}, {"matched", c.matched},
                     {"delete", {{"files", c.delete_files}, {"bytes", c.delete_bytes}}},
                     {"compress", {{"files", c.compress_files}, {"bytes", c.compress_bytes}}},
                     {"skipped", {{"open", c.skipped_open}, {"kept_newest", c.kept_newest}, {"excluded", c.excluded},
                                  {"symlinks", c.symlinks}, {"special", c.special},
                                  {"mount_points", c.mount_points}, {"other_filesystem", c.other_filesystem}}},
                     {"errors", c.errors}});
    ctx.Info(EscapePath(t.host_path) + ": would delete " + std::to_string(c.delete_files) + " files (" +
             HumanBytes(c.delete_bytes) + "), compress " + std::to_string(c.compress_files) + " (" +
             HumanBytes(c.compress_bytes) + "); " + std::to_string(c.scanned) + " entries scanned, " +
             std::to_string(c.errors) + " errors");
  }
  for (const Issue& i : p.issues) plan.findings.push_back(ToFinding(i));
  if (p.issue_count > static_cast<int64_t>(p.issues.size()))
    plan.findings.push_back({Severity::kWarning, "", std::to_string(p.issue_count - p.issues.size()) + " more problems not listed"});
  plan.summary = "would delete " + std::to_string(del_files) + " files (" + HumanBytes(del_bytes) + ")";
  if (o.compress_after) plan.summary += " and compress " + std::to_string(cmp_files) + " (" + HumanBytes(cmp_bytes) + ")";
  plan.summary += " under " + std::to_string(p.tops.size()) + " paths, " + std::to_string(p.scanned) +
                  " entries scanned in " + std::to_string(static_cast<int>(p.walk_seconds * 1000)) + " ms";
  if (p.issue_count) plan.summary += "; " + std::to_string(p.issue_count) + " problems";
  plan.data = {{"started", IsoTime(start_ns)},
               {"delete_cutoff", IsoTime(p.delete_cutoff_ns)},
               {"max_age", FormatDuration(std::chrono::duration_cast<Duration>(o.max_age))},
               {"paths", paths},
               {"totals", {{"delete", {{"files", del_files}, {"bytes", del_bytes}}},
                           {"compress", {{"files", cmp_files}, {"bytes", cmp_bytes}}},
                           {"scanned", p.scanned}, {"errors", p.issue_count}}},
               {"files", files},
               {"files_total", p.file_total},
               {"files_listed", files.size()},
               {"issues", IssuesJson(p.issues)},
               {"open_files_checked", open.has_value()},
               {"open_files_seconds", p.open_files_seconds},
               {"open_files_read_seconds", p.open_files_read_seconds},
               {"open_descriptors", p.open_descriptors},
               {"files_in_run_list", list && list->on()},
               {"walk_seconds", p.walk_seconds}};
  if (p.compress_cutoff_ns) plan.data["compress_cutoff"] = IsoTime(*p.compress_cutoff_ns);
  return plan;
}

Result<Outcome> LogCleanupAction::Apply(ActionContext& ctx, const Plan& plan) {
  if (!plan_ || !options_) return Internal("log-cleanup: Apply called without MakePlan on the same action");
  const CleanupPlan& p = *plan_;
  // The open-file set is read again: a file opened since the plan is kept.
  // Only when there is something to delete or compress, and only the
  // devices the planned files are on.
  std::optional<OpenFileIndex> open;
  double open_seconds = 0;
  if (options_->skip_open_files && p.file_total > 0) {
    auto t0 = ctx.host().clock().Monotonic();
    Result<OpenFileIndex> opened = OpenProc(ctx);
    if (!opened.ok()) return opened.error();
    if (Status st = opened->Read(p.file_devices); !st.ok()) return st.error();
    open = std::move(*opened);
    open_seconds = std::chrono::duration<double>(ctx.host().clock().Monotonic() - t0).count();
  }
  // The plan handed in is the contract: CleanupPlan is its detail (identity,
  // size, mtime of each file), and only what `plan` names is touched.
  const PlanObjects planned(plan.changes);
  ExecutorEnv env;
  env.clock = &ctx.host().clock();
  env.planned = &planned;
  env.open = open ? &*open : nullptr;
  env.threads = threads_;
  env.list_limit = kListLimit;
  // Every change done goes to the run's full list, as a dry run's plan does.
  env.list = [&ctx](std::string_view rows) { return ctx.AppendListLines(rows); };
  env.progress = [&ctx](std::string_view m) { ctx.Progress(m); };
  env.cancelled = [&ctx] { return ctx.cancelled(); };
  ExecutionResult r = PlanExecutor(env).Execute(p);

  Outcome out;
  for (const DoneChange& c : r.changes) out.changes.push_back({c.kind, c.path, "", "", c.bytes, {"file:" + c.path}});
  if (r.changes_total > static_cast<int64_t>(r.changes.size()))
    out.changes.push_back({"note", "(" + std::to_string(r.changes_total - r.changes.size()) + " more changes)",
                           r.listed_all ? "every change: agentctl logs " + ctx.run_id() + " --all" : "", "", 0});
  for (const Issue& i : p.issues) out.findings.push_back(ToFinding(i));
  for (const Issue& i : r.issues) out.findings.push_back(ToFinding(i));

  int64_t del_files = 0, del_bytes = 0, cmp_files = 0, cmp_in = 0, cmp_out = 0, dirs = 0, skipped = 0, errors = 0;
  nlohmann::json paths = nlohmann::json::array();
  for (size_t i = 0; i < p.tops.size(); ++i) {
    const TopOutcome& t = r.tops[i];
    const TopTotals& c = p.tops[i].totals;
    del_files += t.deleted_files; del_bytes += t.deleted_bytes;
    cmp_files += t.compressed_files; cmp_in += t.compressed_bytes_in; cmp_out += t.compressed_bytes_out;
    dirs += t.removed_dirs;
    skipped += t.skipped_changed + t.skipped_open + t.vanished;
    errors += t.errors + c.errors;
    paths.push_back({{"path", EscapePath(p.tops[i].host_path)}, {"configured", EscapePath(p.tops[i].configured)},
                     {"scanned", c.scanned},
                     {"deleted", {{"files", t.deleted_files}, {"bytes", t.deleted_bytes}}},
                     {"compressed", {{"files", t.compressed_files}, {"bytes_in", t.compressed_bytes_in},
                                     {"bytes_out", t.compressed_bytes_out}}},
                     {"removed_dirs", t.removed_dirs},
                     {"skipped", {{"open", c.skipped_open + t.skipped_open}, {"kept_newest", c.kept_newest},
                                  {"excluded", c.excluded}, {"symlinks", c.symlinks}, {"special", c.special},
                                  {"mount_points", c.mount_points}, {"other_filesystem", c.other_filesystem},
                                  {"changed_since_plan", t.skipped_changed},
                                  {"vanished", t.vanished}}},
                     {"errors", c.errors + t.errors}});
    ctx.Info(EscapePath(p.tops[i].host_path) + ": deleted " + std::to_string(t.deleted_files) + " files (" +
             HumanBytes(t.deleted_bytes) + "), compressed " + std::to_string(t.compressed_files) + " (" +
             HumanBytes(t.compressed_bytes_in) + " -> " + HumanBytes(t.compressed_bytes_out) + ")");
  }
  const bool changed = del_files + cmp_files + dirs > 0;
  out.status = AnyPathFailed(p.issues) ? RunStatus::kFailed : changed ? RunStatus::kChanged : RunStatus::kOk;
  out.summary = "deleted " + std::to_string(del_files) + " files (" + HumanBytes(del_bytes) + ")";
  if (options_->compress_after)
    out.summary += ", compressed " + std::to_string(cmp_files) + " (" + HumanBytes(cmp_in) + " -> " + HumanBytes(cmp_out) + ")";
  if (dirs) out.summary += ", removed " + std::to_string(dirs) + " empty directories";
  out.summary += " under " + std::to_string(p.tops.size()) + " paths";
  if (skipped) out.summary += "; " + std::to_string(skipped) + " skipped (changed, opened or gone since the plan)";
  if (errors) out.summary += "; " + std::to_string(errors) + " errors";
  if (ctx.cancelled()) {
    out.status = RunStatus::kFailed;
    out.summary += "; cancelled before finishing";
  }
  out.data = {{"started", IsoTime(ToNs(p.start))},
              {"delete_cutoff", IsoTime(p.delete_cutoff_ns)},
              {"paths", paths},
              {"totals", {{"deleted", {{"files", del_files}, {"bytes", del_bytes}}},
                          {"compressed", {{"files", cmp_files}, {"bytes_in", cmp_in}, {"bytes_out", cmp_out}}},
                          {"removed_dirs", dirs}, {"skipped", skipped}, {"errors", errors}, {"scanned", p.scanned}}},
              {"changes_total", r.changes_total},
              {"changes_in_run_list", r.listed_all},
              {"issues", IssuesJson(r.issues)},
              {"walk_seconds", p.walk_seconds},
              {"apply_seconds", r.seconds},
              {"open_files_seconds", p.open_files_seconds + open_seconds},
              {"open_files_read_seconds", p.open_files_read_seconds + open_seconds}};
  return out;
}

const ActionSpec& LogCleanupActionSpec() {
  static const ActionSpec spec{
      "log-cleanup",
      "Delete (and optionally gzip) old log files under given directories, safely as root: never follows "
      "symlinks, does not enter mount points (bind mounts included), skips files that are still open.",
      LogCleanupParams(),
      /*disruptive=*/false,
      /*resumable=*/false,
      [] () -> std::unique_ptr<Action> { return std::make_unique<LogCleanupAction>(); },
      &ValidateParams,
  };
  return spec;
}

}  // namespace nodeagent::logc
