#include "plan_executor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "cleanup_walker.h"
#include "gzip_writer.h"
#include "mount_point.h"
#include "path_escape.h"
#include "run_list.h"

namespace nodeagent::logc {

namespace {

constexpr size_t kRowsFlushBytes = 16 << 10;

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

int OpenDirAt(int parent_fd, const char* name) {
  constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::openat(parent_fd, name, kFlags | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::openat(parent_fd, name, kFlags);
  return fd;
}

class Execution {
 public:
  Execution(const CleanupPlan& plan, const ExecutorEnv& env, ExecutionResult& result)
      : plan_(plan), env_(env), result_(result) {
    result_.tops.resize(plan.tops.size());
  }

  void Run();

 private:
  /// The directories from the top down to `dir`, opened and verified one by
  /// one; reuses what is already open from the previous directory.
  class DirChain {
   public:
    DirChain(Execution& ex) : ex_(ex) {}
    ~DirChain() { Truncate(0); }
    /// The fd of `dir` (owned by the chain), or -1 after recording an issue.
    int Open(uint32_t dir);

   private:
    void Truncate(size_t n) {
      while (stack_.size() > n) {
        ::close(stack_.back().second);
        stack_.pop_back();
      }
    }
    Execution& ex_;
    std::vector<std::pair<uint32_t, int>> stack_;  // below the top directory
    std::vector<uint32_t> want_;
  };

  void Worker();
  void DoDir(uint32_t dir, DirChain& chain);
  void RemoveEmptyDirs();
  void AddIssue(uint32_t dir, std::string_view name, const std::string& message);
  void AddChange(const char* kind, uint32_t dir, std::string_view name, int64_t bytes);
  /// Hands `rows` to ExecutorEnv::list and clears them.
  void FlushRows(std::string& rows);
  bool listing() const { return list_on_.load(std::memory_order_relaxed); }
  TopOutcome& Top(uint32_t dir) { return result_.tops[plan_.dirs[dir].top]; }

  const CleanupPlan& plan_;
  const ExecutorEnv& env_;
  ExecutionResult& result_;
  std::vector<uint32_t> work_;
  std::atomic<size_t> next_{0};
  std::atomic<int64_t> done_files_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> list_on_{false};
  std::mutex mu_;       // guards result_
  std::mutex list_mu_;  // one FlushRows at a time
  std::mutex wake_mu_;  // with wake_cv_: a worker found no directory left
  std::condition_variable wake_cv_;
};

int Execution::DirChain::Open(uint32_t dir) {
  want_.clear();
  for (uint32_t d = dir; ex_.plan_.dirs[d].parent != kNoDir; d = ex_.plan_.dirs[d].parent) want_.push_back(d);
  std::reverse(want_.begin(), want_.end());
  size_t common = 0;
  while (common < stack_.size() && common < want_.size() && stack_[common].first == want_[common]) ++common;
  Truncate(common);
  const CleanupPlan& plan = ex_.plan_;
  for (size_t i = common; i < want_.size(); ++i) {
    const PlannedDir& d = plan.dirs[want_[i]];
    int parent_fd = stack_.empty() ? plan.tops[d.top].fd : stack_.back().second;
    std::string name(plan.Name(d.name_off, d.name_len));
    int fd = OpenDirAt(parent_fd, name.c_str());
    if (fd < 0) {
      int err = errno;
      std::lock_guard<std::mutex> lock(ex_.mu_);
      ex_.AddIssue(d.parent, name,
                   err == ENOENT ? "directory gone since the plan"
                   : err == ELOOP || err == ENOTDIR ? "replaced by a symlink since the plan; not followed"
                                                    : std::string("cannot open: ") + std::strerror(err));
      return -1;
    }
    DirIdentity id;
    if (IdentityAt(fd, "", id) != 0 || id.dev != d.dev || id.ino != d.ino) {
      ::close(fd);
      std::lock_guard<std::mutex> lock(ex_.mu_);
      ex_.AddIssue(d.parent, name, "replaced by another directory since the plan; left alone");
      return -1;
    }
    if (d.mount_id != kUnknownMountId && id.mount_id && *id.mount_id != d.mount_id) {
      ::close(fd);
      std::lock_guard<std::mutex> lock(ex_.mu_);
      ex_.AddIssue(d.parent, name, "a mount was placed on it since the plan (skipped mount point); left alone");
      return -1;
    }
    stack_.emplace_back(want_[i], fd);
  }
  return stack_.empty() ? plan.tops[plan.dirs[dir].top].fd : stack_.back().second;
}

void Execution::AddIssue(uint32_t dir, std::string_view name, const std::string& message) {
  std::string path = plan_.DirPath(dir);
  if (!name.empty()) {
    path += '/';
    path.append(name);
  }
  Top(dir).errors++;
  ++result_.issue_count;
  if (result_.issues.size() < CleanupPlan::kMaxIssues)
    result_.issues.push_back({EscapePath(path), message, IssueLevel::kWarning});
}

void Execution::AddChange(const char* kind, uint32_t dir, std::string_view name, int64_t bytes) {
  ++result_.changes_total;
  if (result_.changes.size() >= env_.list_limit) return;
  std::string path = plan_.DirPath(dir);
  path += '/';
  path.append(name);
  result_.changes.push_back({kind, EscapePath(path), bytes});
}

void Execution::FlushRows(std::string& rows) {
  if (!rows.empty()) {
    std::lock_guard<std::mutex> lock(list_mu_);
    if (list_on_ && !env_.list(rows)) list_on_ = false;
  }
  rows.clear();
}

void Execution::DoDir(uint32_t dir, DirChain& chain) {
  int dfd = chain.Open(dir);
  const PlannedDir& d = plan_.dirs[dir];
  if (dfd < 0) {
    std::lock_guard<std::mutex> lock(mu_);
    Top(dir).skipped_changed += d.file_count;
    return;
  }
  TopOutcome t;
  char name[NAME_MAX + 1];
  const std::string dir_path = EscapePath(plan_.DirPath(dir));
  const std::string dir_object = env_.planned ? "file:" + dir_path + "/" : "";
  // This directory's rows of the run's full list, handed on every 16 KiB:
  // one buffer per thread, so its size counts in the run's peak memory.
  std::string rows;
  if (listing()) rows.reserve(kRowsFlushBytes + 512);
  bool read_back = plan_.files.ForEach(d.spool_off, d.spool_bytes, [&](uint64_t, const PlannedFile& f,
                                                                       std::string_view file_name) {
    if (stop_ || f.open) return;
    std::memcpy(name, file_name.data(), f.name_len);
    name[f.name_len] = 0;
    if (env_.planned && !env_.planned->Covers(dir_object + EscapePath(file_name))) {
      std::lock_guard<std::mutex> lock(mu_);
      AddIssue(dir, name, "not in the plan given to Apply; left alone");
      return;
    }
    struct stat st;
    if (::fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) ++t.vanished;
      else {
        int err = errno;
        std::lock_guard<std::mutex> lock(mu_);
        AddIssue(dir, name, std::string("cannot stat: ") + std::strerror(err));
      }
      return;
    }
    const int64_t cutoff = f.action == FileAction::kDelete ? plan_.delete_cutoff_ns : *plan_.compress_cutoff_ns;
    if (!S_ISREG(st.st_mode) || st.st_dev != f.dev || st.st_ino != f.ino || MtimeNs(st) >= cutoff) {
      ++t.skipped_changed;
      return;
    }
    if (env_.open && env_.open->Contains(st.st_dev, st.st_ino)) {
      ++t.skipped_open;
      return;
    }
    if (f.action == FileAction::kDelete) {
      if (::unlinkat(dfd, name, 0) != 0) {
        int err = errno;
        if (err == ENOENT) { ++t.vanished; return; }
        std::lock_guard<std::mutex> lock(mu_);
        AddIssue(dir, name, std::string("cannot delete: ") + std::strerror(err));
        return;
      }
      ++t.deleted_files;
      t.deleted_bytes += st.st_size;
      if (listing()) AppendListRow(rows, "delete", st.st_size, MtimeNs(st), dir_path, EscapePath(file_name));
      std::lock_guard<std::mutex> lock(mu_);
      AddChange("delete", dir, name, st.st_size);
    } else {
      Result<GzipResult> r = GzipFileAt(dfd, name, st);
      std::lock_guard<std::mutex> lock(mu_);
      if (!r.ok()) {
        if (r.error().code() == ErrorCode::kConflict) ++t.skipped_changed;
        AddIssue(dir, "", r.error().message());
        return;
      }
      ++t.compressed_files;
      t.compressed_bytes_in += r->bytes_in;
      t.compressed_bytes_out += r->bytes_out;
      AddChange("compress", dir, name, r->bytes_in);
      if (listing()) AppendListRow(rows, "compress", r->bytes_in, MtimeNs(st), dir_path, EscapePath(file_name));
    }
    done_files_.fetch_add(1, std::memory_order_relaxed);
    if (rows.size() >= kRowsFlushBytes) FlushRows(rows);
  });
  if (!read_back) {
    std::lock_guard<std::mutex> lock(mu_);
    AddIssue(dir, "", "reading back the planned files failed; the rest of this directory is left alone");
  }
  FlushRows(rows);
  std::lock_guard<std::mutex> lock(mu_);
  TopOutcome& o = Top(dir);
  o.deleted_files += t.deleted_files; o.deleted_bytes += t.deleted_bytes;
  o.compressed_files += t.compressed_files; o.compressed_bytes_in += t.compressed_bytes_in;
  o.compressed_bytes_out += t.compressed_bytes_out; o.skipped_changed += t.skipped_changed;
  o.skipped_open += t.skipped_open; o.vanished += t.vanished;
}

void Execution::Worker() {
  DirChain chain(*this);
  for (;;) {
    size_t i = next_.fetch_add(1);
    if (i >= work_.size() || stop_) {
      { std::lock_guard<std::mutex> l(wake_mu_); }
      wake_cv_.notify_all();  // the run's thread joins now instead of at its next tick
      return;
    }
    DoDir(work_[i], chain);
  }
}

void Execution::RemoveEmptyDirs() {
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < plan_.dirs.size(); ++i) {
    if (plan_.dirs[i].remove_if_emptied) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return plan_.dirs[a].depth > plan_.dirs[b].depth; });
  DirChain chain(*this);
  std::string rows;
  for (uint32_t i : order) {
    const PlannedDir& d = plan_.dirs[i];
    int pfd = chain.Open(d.parent);
    if (pfd < 0) continue;
    std::string name(plan_.Name(d.name_off, d.name_len));
    if (env_.planned && !env_.planned->Covers("file:" + EscapePath(plan_.DirPath(i)))) {
      AddIssue(d.parent, name, "not in the plan given to Apply; left alone");
      continue;
    }
    struct stat st;
    if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) || st.st_dev != d.dev ||
        st.st_ino != d.ino)
      continue;
    // Fails with ENOTEMPTY when anything is left or appeared: then it stays.
    if (::unlinkat(pfd, name.c_str(), AT_REMOVEDIR) == 0) {
      Top(i).removed_dirs++;
      AddChange("rmdir", d.parent, name, 0);
      if (listing()) AppendRmdirRow(rows, EscapePath(plan_.DirPath(i)));
    }
  }
  FlushRows(rows);
}

void Execution::Run() {
  list_on_ = static_cast<bool>(env_.list);
  for (uint32_t i = 0; i < plan_.dirs.size(); ++i) {
    if (plan_.dirs[i].file_count > 0 && plan_.tops[plan_.dirs[i].top].fd >= 0) work_.push_back(i);
  }
  auto t0 = env_.clock->Monotonic();
  // unlinkat waits on the file system (directory locks, the journal), not on
  // the CPU: more threads than cores keep the disk busy.
  int wanted = env_.threads > 0 ? env_.threads : std::clamp(4 * WorkerThreads(0), 4, 16);
  int threads = std::min<int>(wanted, std::max<size_t>(work_.size(), 1));
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) workers.emplace_back([this] { Worker(); });
  auto last = t0;
  int64_t last_done = 0;
  auto all_taken = [&] { return next_.load() >= work_.size() || stop_; };
  while (!all_taken()) {
    {
      std::unique_lock<std::mutex> l(wake_mu_);
      if (wake_cv_.wait_for(l, std::chrono::milliseconds(50), all_taken)) break;
    }
    if (env_.cancelled && env_.cancelled()) stop_ = true;
    auto now = env_.clock->Monotonic();
    if (env_.progress && now - last >= std::chrono::seconds(1)) {
      int64_t n = done_files_.load();
      double secs = std::chrono::duration<double>(now - last).count();
      env_.progress("deleted/compressed " + std::to_string(n) + " of " + std::to_string(plan_.file_total) +
                    " files, " + std::to_string(static_cast<int64_t>((n - last_done) / secs)) + "/s");
      last = now;
      last_done = n;
    }
  }
  for (std::thread& w : workers) w.join();
  if (!stop_) RemoveEmptyDirs();
  result_.listed_all = list_on_;
  result_.seconds = std::chrono::duration<double>(env_.clock->Monotonic() - t0).count();
}

}  // namespace

ExecutionResult PlanExecutor::Execute(const CleanupPlan& plan) {
  ExecutionResult result;
  Execution ex(plan, env_, result);
  ex.Run();
  return result;
}

}  // namespace nodeagent::logc
