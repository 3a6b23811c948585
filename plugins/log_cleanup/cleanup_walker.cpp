#include "cleanup_walker.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "dir_under_root.h"
#include "linux_dirent.h"
#include "mount_point.h"
#include "path_escape.h"

namespace nodeagent::logc {

namespace {

constexpr size_t kDentsBuffer = 64 * 1024;  // find(1) reads 32 KiB at a time

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

bool HasDevice(const std::vector<dev_t>& devices, dev_t dev) {
  return std::find(devices.begin(), devices.end(), dev) != devices.end();
}

int64_t ToNs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

/// A file name glob; "*.log"-like ones are matched by a suffix compare.
class NameGlob {
 public:
  explicit NameGlob(const std::string& pattern) : pattern_(pattern) {
    if (pattern.size() > 1 && pattern[0] == '*' && !HasGlob(std::string_view(pattern).substr(1)) &&
        pattern.find('\\') == std::string::npos) {
      suffix_ = pattern.substr(1);
      suffix_only_ = true;
    }
  }
  bool Matches(const char* name, size_t len) const {
    if (suffix_only_) {
      return len >= suffix_.size() && std::memcmp(name + len - suffix_.size(), suffix_.data(), suffix_.size()) == 0;
    }
    return ::fnmatch(pattern_.c_str(), name, 0) == 0;
  }

 private:
  std::string pattern_;
  std::string suffix_;
  bool suffix_only_ = false;
};

bool AnyMatch(const std::vector<NameGlob>& globs, const char* name, size_t len) {
  for (const NameGlob& g : globs) {
    if (g.Matches(name, len)) return true;
  }
  return false;
}

/// openat for a directory that must not be a symlink; retries without
/// O_NOATIME when not permitted (files of other users without CAP_FOWNER).
int OpenDirAt(int parent_fd, const char* name) {
  constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::openat(parent_fd, name, kFlags | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::openat(parent_fd, name, kFlags);
  return fd;
}

struct DirTask {
  int fd;
  uint32_t dir;
  uint32_t top;
  int depth;
  DirIdentity mount;  // the top path's device and mount (one_file_system)
};

struct Matched {
  uint32_t name_off;
  uint16_t name_len;
  bool keep;
  dev_t dev;
  ino_t ino;
  int64_t size;
  int64_t mtime_ns;
};

struct Subdir {
  uint32_t name_off;
  uint16_t name_len;
  dev_t dev;
  ino_t ino;
};

/// Per recursion level: the subdirectories still to visit.
struct Level {
  std::string names;
  std::vector<Subdir> subs;
};

/// Per thread scratch, reused for every directory.
struct Scratch {
  std::vector<char> dents;
  std::string names;
  std::vector<Matched> matched;
  std::vector<uint32_t> order;
  std::vector<Level> levels;
};

class Walk {
 public:
  Walk(const CleanupOptions& options, const WalkerEnv& env, CleanupPlan& plan)
      : options_(options), env_(env), plan_(plan) {
    for (const std::string& p : options.patterns) patterns_.emplace_back(p);
    for (const std::string& p : options.exclude) exclude_.emplace_back(p);
    threads_ = WorkerThreads(env.threads);
  }
  ~Walk() {
    if (open_reader_.joinable()) open_reader_.join();
  }

  Status Run();

 private:
  void OpenTops();
  void AddTop(const std::string& configured, const std::string& host_path, int fd, const DirIdentity& id);
  /// Records a subdirectory not entered because it begins another mount.
  void SkipMountPoint(const DirTask& task, const char* name, const DirIdentity& id, MountCrossing crossing,
                      TopTotals& t);
  void Worker();
  /// Starts reading the open-file index on a thread of its own, beside the
  /// walk: called (with mu_ held) when the walk plans its first file, so a
  /// walk that finds nothing reads no fd table, and a walk that waits on the
  /// disk hides most of the read.
  void StartOpenFileRead();
  /// Waits for that read and takes the open files out of the plan.
  Status LeaveOutOpenFiles();
  void ScanDir(const DirTask& task, size_t level, Scratch& s);
  void Issue(uint32_t dir, std::string_view name, const std::string& message);
  bool IsOtherTop(dev_t dev, ino_t ino, uint32_t self_top) const;

  const CleanupOptions& options_;
  const WalkerEnv& env_;
  CleanupPlan& plan_;
  std::vector<NameGlob> patterns_, exclude_;
  int threads_ = 1;

  std::mutex mu_;  // guards plan_, queue_, busy_
  std::condition_variable cv_;
  std::vector<DirTask> queue_;
  std::atomic<int> queue_size_{0};
  int busy_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> scanned_{0};

  std::thread open_reader_;  // started by StartOpenFileRead, joined by LeaveOutOpenFiles
  std::vector<dev_t> open_read_devices_;  // what it keeps; empty: every device
  std::optional<Error> open_read_error_;
  double open_read_seconds_ = 0;
};

void Walk::Issue(uint32_t dir, std::string_view name, const std::string& message) {
  // Called with mu_ held.
  std::string path = plan_.DirPath(dir);
  if (!name.empty()) {
    path += '/';
    path.append(name);
  }
  plan_.tops[plan_.dirs[dir].top].totals.errors++;
  plan_.AddIssue(EscapePath(path), message);
}

bool Walk::IsOtherTop(dev_t dev, ino_t ino, uint32_t self_top) const {
  for (size_t i = 0; i < plan_.tops.size(); ++i) {
    if (i != self_top && plan_.tops[i].fd >= 0 && plan_.dirs[plan_.tops[i].dir].dev == dev &&
        plan_.dirs[plan_.tops[i].dir].ino == ino)
      return true;
  }
  return false;
}

void Walk::AddTop(const std::string& configured, const std::string& host_path, int fd, const DirIdentity& id) {
  for (const TopPath& t : plan_.tops) {
    if (t.fd >= 0 && plan_.dirs[t.dir].dev == id.dev && plan_.dirs[t.dir].ino == id.ino) {
      ::close(fd);  // the same directory twice (two globs matching it)
      return;
    }
  }
  TopPath top;
  top.configured = configured;
  top.host_path = host_path;
  top.fd = fd;
  top.dir = static_cast<uint32_t>(plan_.dirs.size());
  PlannedDir d;
  d.top = static_cast<uint32_t>(plan_.tops.size());
  d.dev = id.dev;
  d.ino = id.ino;
  d.mount_id = id.mount_id.value_or(kUnknownMountId);
  plan_.dirs.push_back(d);
  plan_.tops.push_back(std::move(top));
}

void Walk::SkipMountPoint(const DirTask& task, const char* name, const DirIdentity& id, MountCrossing crossing,
                          TopTotals& t) {
  ++t.mount_points;
  if (crossing == MountCrossing::kOtherFilesystem) ++t.other_filesystem;
  std::lock_guard<std::mutex> lock(mu_);
  std::string path = plan_.DirPath(task.dir) + "/" + name;
  plan_.AddIssue(EscapePath(path), CrossingMessage(crossing, task.mount, id), IssueLevel::kInfo);
}

void Walk::OpenTops() {
  auto top_error = [&](const std::string& configured, const std::string& path, const std::string& message) {
    TopPath t;
    t.configured = configured;
    t.host_path = path;
    t.totals.errors = 1;
    plan_.tops.push_back(std::move(t));
    plan_.AddIssue(EscapePath(path), message, IssueLevel::kPathFailed);
  };
  auto describe = [](int err) {
    if (err == ELOOP) return std::string("is a symlink; not followed (configure the directory it points to)");
    if (err == ENOTDIR) return std::string("is not a directory (or is a symlink)");
    if (err == ENOENT) return std::string("does not exist");
    return std::string(std::strerror(err));
  };
  // The configured paths and the parents of globs are resolved below the
  // root without following a symlink in any component (dir_under_root.h).
  // The root prefix itself is configuration, not something a service writes.
  const std::string root_path = env_.files->Resolve("/");
  int root_fd = ::open(root_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  const int root_err = errno;
  for (const std::string& configured : options_.paths) {
    std::string path = configured;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    size_t slash = path.find_last_of('/');
    std::string parent = slash == 0 ? "/" : path.substr(0, slash);
    std::string last = path.substr(slash + 1);
    if (root_fd < 0) {
      top_error(configured, path, "cannot open the agent root " + EscapePath(root_path) + ": " + describe(root_err));
      continue;
    }
    if (!HasGlob(last)) {
      Result<int> fd = OpenDirUnderRoot(root_fd, path);
      if (!fd.ok()) {
        top_error(configured, path, "cannot open: " + fd.error().message());
        continue;
      }
      DirIdentity id;
      if (int err = IdentityAt(*fd, "", id); err != 0) {
        ::close(*fd);
        top_error(configured, path, "cannot stat: " + describe(err));
        continue;
      }
      AddTop(configured, path, *fd, id);
      continue;
    }
    Result<int> parent_fd = OpenDirUnderRoot(root_fd, parent);
    if (!parent_fd.ok()) {
      top_error(configured, parent, "cannot open the parent of the glob: " + parent_fd.error().message());
      continue;
    }
    int pfd = *parent_fd;
    DIR* d = ::fdopendir(pfd);
    std::vector<std::string> matches;
    while (struct dirent* e = d ? ::readdir(d) : nullptr) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      if (::fnmatch(last.c_str(), e->d_name, FNM_PERIOD) == 0) matches.emplace_back(e->d_name);
    }
    std::sort(matches.begin(), matches.end());
    if (matches.empty()) plan_.AddIssue(EscapePath(path), "the glob matches no directory (nothing to clean)", IssueLevel::kInfo);
    for (const std::string& m : matches) {
      std::string host_path = (parent == "/" ? "" : parent) + "/" + m;
      if (Status st = CheckRoot(host_path); !st.ok()) {
        top_error(configured, host_path, st.error().message());
        continue;
      }
      struct stat before;
      if (::fstatat(pfd, m.c_str(), &before, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished
      if (!S_ISDIR(before.st_mode)) continue;  // files and symlinks matching the glob are not roots
      int fd = OpenDirAt(pfd, m.c_str());
      if (fd < 0) {
        if (errno != ENOENT) top_error(configured, host_path, "cannot open: " + describe(errno));
        continue;
      }
      DirIdentity id;
      int err = IdentityAt(fd, "", id);
      if (err != 0 || id.dev != before.st_dev || id.ino != before.st_ino) {
        ::close(fd);
        top_error(configured, host_path, err != 0 ? "cannot stat: " + describe(err)
                                                  : "replaced while it was being opened; skipped");
        continue;
      }
      AddTop(configured, host_path, fd, id);
    }
    if (d) ::closedir(d);
    else ::close(pfd);
  }
  if (root_fd >= 0) ::close(root_fd);
}

Status Walk::Run() {
  OpenTops();
  for (const TopPath& t : plan_.tops) {
    if (t.fd < 0) continue;
    // The walker closes task fds; the top's own fd stays with the plan.
    int fd = ::fcntl(t.fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return ErrnoError("duplicating a directory descriptor", errno);
    const PlannedDir& d = plan_.dirs[t.dir];
    DirIdentity mount;
    mount.dev = d.dev;
    mount.ino = d.ino;
    if (d.mount_id != kUnknownMountId) mount.mount_id = d.mount_id;
    queue_.push_back({fd, t.dir, d.top, 0, mount});
  }
  std::reverse(queue_.begin(), queue_.end());  // first path first
  queue_size_ = static_cast<int>(queue_.size());
  busy_ = 0;

  auto t0 = env_.clock->Monotonic();
  std::vector<std::thread> workers;
  for (int i = 0; i < threads_; ++i) workers.emplace_back([this] { Worker(); });
  auto last = t0;
  int64_t last_scanned = 0;
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (!(queue_.empty() && busy_ == 0)) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));
      if (env_.cancelled && env_.cancelled()) {
        stop_ = true;
        cv_.notify_all();
      }
      auto now = env_.clock->Monotonic();
      if (env_.progress && now - last >= std::chrono::seconds(1)) {
        int64_t n = scanned_.load();
        double secs = std::chrono::duration<double>(now - last).count();
        lock.unlock();
        env_.progress("scanned " + std::to_string(n) + " entries, " +
                      std::to_string(static_cast<int64_t>((n - last_scanned) / secs)) + "/s");
        lock.lock();
        last = now;
        last_scanned = n;
      }
    }
    stop_ = true;  // release idle workers
    cv_.notify_all();
  }
  for (std::thread& w : workers) w.join();
  plan_.walk_seconds = std::chrono::duration<double>(env_.clock->Monotonic() - t0).count();
  plan_.scanned = scanned_.load();
  if (env_.progress) env_.progress("scanned " + std::to_string(plan_.scanned) + " entries");

  if (Status st = LeaveOutOpenFiles(); !st.ok()) return st;

  // Which subdirectories this run empties: deepest first.
  if (options_.remove_empty_dirs) {
    std::vector<uint32_t> order(plan_.dirs.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return plan_.dirs[a].depth > plan_.dirs[b].depth; });
    for (uint32_t i : order) {
      PlannedDir& d = plan_.dirs[i];
      if (d.parent == kNoDir) continue;
      uint32_t gone = d.deletes + d.subtree_deletes;
      if (gone > 0 && d.entries == d.deletes + d.removable_children) {
        d.remove_if_emptied = true;
        plan_.dirs[d.parent].removable_children++;
        plan_.dirs[d.parent].subtree_deletes += gone;
      }
    }
  }
  if (env_.cancelled && env_.cancelled()) return Error(ErrorCode::kCancelled, "log-cleanup: walk cancelled");
  return Status::Ok();
}

void Walk::StartOpenFileRead() {
  if (!env_.open || open_reader_.joinable()) return;
  // Which devices the planned files are on is known only once the walk ends.
  // Without crossing mounts they are the top paths' (a file on another
  // device is caught after the walk); else every device is kept.
  open_read_devices_.clear();
  if (options_.one_file_system) {
    for (const TopPath& t : plan_.tops)
      if (t.fd >= 0 && !HasDevice(open_read_devices_, plan_.dirs[t.dir].dev))
        open_read_devices_.push_back(plan_.dirs[t.dir].dev);
  }
  open_reader_ = std::thread([this] {
    auto t0 = env_.clock->Monotonic();
    if (Status st = env_.open->Read(open_read_devices_); !st.ok()) open_read_error_ = st.error();
    open_read_seconds_ = std::chrono::duration<double>(env_.clock->Monotonic() - t0).count();
  });
}

Status Walk::LeaveOutOpenFiles() {
  plan_.files.Seal();
  if (!env_.open || plan_.file_total == 0) return Status::Ok();
  auto t0 = env_.clock->Monotonic();
  if (!open_reader_.joinable()) StartOpenFileRead();  // not started by the walk (cannot happen today)
  open_reader_.join();
  if (open_read_error_) return *open_read_error_;
  plan_.open_files_read_seconds += open_read_seconds_;
  // A planned file on a device that read left out (a file bind-mounted from
  // elsewhere): read again, now for the planned files' devices.
  if (!open_read_devices_.empty() &&
      !std::all_of(plan_.file_devices.begin(), plan_.file_devices.end(),
                   [&](dev_t d) { return HasDevice(open_read_devices_, d); })) {
    auto t1 = env_.clock->Monotonic();
    if (Status st = env_.open->Read(plan_.file_devices); !st.ok()) return st;
    plan_.open_files_read_seconds += std::chrono::duration<double>(env_.clock->Monotonic() - t1).count();
  }
  plan_.open_files_read = true;
  plan_.open_descriptors = env_.open->descriptors();
  if (env_.open->size() > 0) {
    for (PlannedDir& dir : plan_.dirs) {
      if (dir.spool_bytes == 0) continue;
      std::vector<uint64_t> open_records;
      plan_.files.ForEach(dir.spool_off, dir.spool_bytes, [&](uint64_t off, const PlannedFile& f, std::string_view) {
        if (!env_.open->Contains(f.dev, f.ino)) return;
        open_records.push_back(off);
        TopTotals& t = plan_.tops[dir.top].totals;
        ++t.skipped_open;
        --dir.file_count;
        --plan_.file_total;
        if (f.action == FileAction::kDelete) {
          --t.delete_files;
          t.delete_bytes -= f.size;
          --dir.deletes;
        } else {
          --t.compress_files;
          t.compress_bytes -= f.size;
        }
      });
      for (uint64_t off : open_records) plan_.files.MarkOpen(off);
    }
  }
  plan_.open_files_seconds += std::chrono::duration<double>(env_.clock->Monotonic() - t0).count();
  return Status::Ok();
}

void Walk::Worker() {
  Scratch s;
  s.dents.resize(kDentsBuffer);
  for (;;) {
    DirTask task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || busy_ == 0 || stop_; });
      if (queue_.empty()) {
        cv_.notify_all();
        return;
      }
      task = queue_.back();
      queue_.pop_back();
      queue_size_--;
      ++busy_;
    }
    if (!stop_) ScanDir(task, 0, s);
    ::close(task.fd);
    {
      std::lock_guard<std::mutex> lock(mu_);
      --busy_;
    }
    cv_.notify_all();
  }
}

void Walk::ScanDir(const DirTask& task, size_t level, Scratch& s) {
  if (s.levels.size() <= level) s.levels.resize(level + 1);
  s.names.clear();
  s.matched.clear();
  s.levels[level].names.clear();
  s.levels[level].subs.clear();
  const bool can_descend = options_.max_depth < 0 || task.depth < options_.max_depth;
  TopTotals t;
  uint32_t entries = 0;
  int read_error = 0;

  for (;;) {
    long n = ::syscall(SYS_getdents64, task.fd, s.dents.data(), s.dents.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      read_error = errno;
      break;
    }
    if (n == 0) break;
    for (long off = 0; off < n;) {
      auto* e = reinterpret_cast<LinuxDirent64*>(s.dents.data() + off);
      off += e->d_reclen;
      const char* name = e->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      size_t len = std::strlen(name);
      ++entries;
      unsigned char type = e->d_type;
      if (type == DT_LNK) { ++t.symlinks; continue; }
      if (type == DT_FIFO || type == DT_SOCK || type == DT_CHR || type == DT_BLK) { ++t.special; continue; }
      if (type == DT_REG && !AnyMatch(patterns_, name, len)) continue;
      if (type == DT_DIR && !can_descend) continue;
      struct stat st;
      if (::fstatat(task.fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        int err = errno;
        if (err != ENOENT) {
          std::lock_guard<std::mutex> lock(mu_);
          Issue(task.dir, name, std::string("cannot stat: ") + std::strerror(err));
        }
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        if (!can_descend) continue;
        if (options_.one_file_system) {
          // Another device, or the same device through another mount (a bind
          // mount): asked without opening it, so no automount is triggered.
          DirIdentity id;
          if (int err = IdentityAt(task.fd, name, id); err != 0) {
            if (err != ENOENT) {
              std::lock_guard<std::mutex> lock(mu_);
              Issue(task.dir, name, std::string("cannot stat: ") + std::strerror(err));
            }
            continue;
          }
          if (MountCrossing crossing = CrossingBetween(task.mount, id); crossing != MountCrossing::kNone) {
            SkipMountPoint(task, name, id, crossing, t);
            continue;
          }
        }
        Level& lv = s.levels[level];
        lv.subs.push_back({static_cast<uint32_t>(lv.names.size()), static_cast<uint16_t>(len), st.st_dev, st.st_ino});
        lv.names.append(name, len + 1);
      } else if (S_ISREG(st.st_mode)) {
        if (type == DT_UNKNOWN && !AnyMatch(patterns_, name, len)) continue;
        if (AnyMatch(exclude_, name, len)) { ++t.excluded; continue; }
        ++t.matched;
        s.matched.push_back({static_cast<uint32_t>(s.names.size()), static_cast<uint16_t>(len), false, st.st_dev,
                             st.st_ino, static_cast<int64_t>(st.st_size), MtimeNs(st)});
        s.names.append(name, len);
      } else if (S_ISLNK(st.st_mode)) {
        ++t.symlinks;
      } else {
        ++t.special;
      }
    }
  }
  t.scanned = entries;
  scanned_.fetch_add(entries, std::memory_order_relaxed);

  // keep_newest: the N newest matching files stay, whatever their age.
  if (options_.keep_newest > 0 && !s.matched.empty()) {
    size_t k = std::min<size_t>(options_.keep_newest, s.matched.size());
    s.order.resize(s.matched.size());
    for (uint32_t i = 0; i < s.order.size(); ++i) s.order[i] = i;
    std::nth_element(s.order.begin(), s.order.begin() + (k - 1), s.order.end(), [&](uint32_t a, uint32_t b) {
      return s.matched[a].mtime_ns > s.matched[b].mtime_ns;
    });
    for (size_t i = 0; i < k; ++i) s.matched[s.order[i]].keep = true;
  }

  // Decide, then record under the lock in one go.
  const int64_t del_cut = plan_.delete_cutoff_ns;
  const int64_t cmp_cut = plan_.compress_cutoff_ns.value_or(INT64_MIN);
  {
  std::lock_guard<std::mutex> lock(mu_);
  PlannedDir& dir = plan_.dirs[task.dir];
  dir.spool_off = plan_.files.size();
  for (const Matched& m : s.matched) {
    FileAction action;
    if (m.mtime_ns < del_cut) {
      action = FileAction::kDelete;
    } else if (m.mtime_ns < cmp_cut && !(m.name_len > 3 && std::string_view(s.names).substr(m.name_off + m.name_len - 3, 3) == ".gz")) {
      action = FileAction::kCompress;
    } else {
      continue;  // young
    }
    if (m.keep) { ++t.kept_newest; continue; }
    if (action == FileAction::kDelete) { ++t.delete_files; t.delete_bytes += m.size; ++dir.deletes; }
    else { ++t.compress_files; t.compress_bytes += m.size; }
    if (!HasDevice(plan_.file_devices, m.dev)) plan_.file_devices.push_back(m.dev);
    plan_.files.Append({task.dir, 0, m.name_len, action, false, m.dev, m.ino, m.size, m.mtime_ns},
                       std::string_view(s.names).substr(m.name_off, m.name_len));
    ++dir.file_count;
  }
  if (dir.file_count > 0) StartOpenFileRead();
  dir.spool_bytes = plan_.files.size() - dir.spool_off;
  plan_.file_total += dir.file_count;
  dir.entries = entries;
  TopTotals& tt = plan_.tops[task.top].totals;
  tt.scanned += t.scanned; tt.matched += t.matched; tt.delete_files += t.delete_files;
  tt.delete_bytes += t.delete_bytes; tt.compress_files += t.compress_files; tt.compress_bytes += t.compress_bytes;
  tt.skipped_open += t.skipped_open; tt.kept_newest += t.kept_newest; tt.excluded += t.excluded;
  tt.symlinks += t.symlinks; tt.special += t.special; tt.other_filesystem += t.other_filesystem;
  tt.mount_points += t.mount_points;
  if (read_error) Issue(task.dir, "", std::string("reading the directory failed: ") + std::strerror(read_error));
  }

  // Subdirectories: opened through this directory's fd, never following a
  // symlink, and checked to be the directory fstatat saw.
  for (size_t i = 0; i < s.levels[level].subs.size() && !stop_; ++i) {
    const Subdir sub = s.levels[level].subs[i];
    char name[NAME_MAX + 1];
    std::memcpy(name, s.levels[level].names.data() + sub.name_off, sub.name_len + 1);
    int injected = 0;
    if (env_.hooks) {
      std::string path;
      {
        std::lock_guard<std::mutex> lock(mu_);
        path = plan_.DirPath(task.dir) + "/" + name;
      }
      injected = env_.hooks->BeforeOpenDir(path);
    }
    int fd = injected ? -1 : OpenDirAt(task.fd, name);
    int err = injected ? injected : errno;
    if (fd < 0) {
      if (err == ENOENT) continue;  // removed meanwhile
      std::string why = err == ELOOP || err == ENOTDIR
                            ? "replaced by a symlink or a non-directory during the walk; not followed"
                            : err == EACCES || err == EPERM ? "permission denied; not cleaned"
                                                             : std::string("cannot open: ") + std::strerror(err);
      std::lock_guard<std::mutex> lock(mu_);
      Issue(task.dir, name, why);
      continue;
    }
    DirIdentity id;
    if (IdentityAt(fd, "", id) != 0 || id.dev != sub.dev || id.ino != sub.ino) {
      ::close(fd);
      std::lock_guard<std::mutex> lock(mu_);
      Issue(task.dir, name, "replaced during the walk (device/inode changed); not entered");
      continue;
    }
    if (options_.one_file_system) {  // mounted on between the check above and the open
      if (MountCrossing crossing = CrossingBetween(task.mount, id); crossing != MountCrossing::kNone) {
        ::close(fd);
        TopTotals late;
        SkipMountPoint(task, name, id, crossing, late);
        std::lock_guard<std::mutex> lock(mu_);
        TopTotals& tt = plan_.tops[task.top].totals;
        tt.mount_points += late.mount_points;
        tt.other_filesystem += late.other_filesystem;
        continue;
      }
    }
    DirTask child{fd, 0, task.top, task.depth + 1, task.mount};
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (IsOtherTop(id.dev, id.ino, task.top)) {  // walked as its own configured path
        ::close(fd);
        continue;
      }
      child.dir = static_cast<uint32_t>(plan_.dirs.size());
      PlannedDir d;
      d.parent = task.dir;
      d.top = task.top;
      d.name_off = static_cast<uint32_t>(plan_.names.size());
      d.name_len = sub.name_len;
      d.depth = static_cast<uint16_t>(std::min(task.depth + 1, 65535));
      d.dev = id.dev;
      d.ino = id.ino;
      d.mount_id = id.mount_id.value_or(kUnknownMountId);
      plan_.names.append(name, sub.name_len);
      plan_.dirs.push_back(d);
      if (queue_size_.load(std::memory_order_relaxed) < 2 * threads_) {
        queue_.push_back(child);
        queue_size_++;
        cv_.notify_one();
        continue;
      }
    }
    ScanDir(child, level + 1, s);
    ::close(fd);
  }
}

}  // namespace

int WorkerThreads(int requested) {
  if (requested > 0) return requested;
  unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(n, 1u, 4u));
}

Status CleanupWalker::Walk(std::chrono::system_clock::time_point start, CleanupPlan& plan) {
  plan.start = start;
  plan.delete_cutoff_ns = ToNs(start) - std::chrono::duration_cast<std::chrono::nanoseconds>(options_.max_age).count();
  if (options_.compress_after)
    plan.compress_cutoff_ns = ToNs(start) - options_.compress_after->count();
  class Walk walk(options_, env_, plan);
  return walk.Run();
}

}  // namespace nodeagent::logc
