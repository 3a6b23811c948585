#include "host/local_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>

#include <atomic>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <chrono>
#include <random>
#include <utility>

namespace nodeagent {

namespace {

/// As the kernel's MAXSYMLINKS: more links than this on one path is a loop.
constexpr int kMaxSymlinks = 40;

/// Closes its descriptor when it goes.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

/// Opens the single name `name` (one path component, never "..") inside
/// `dir_fd`: never through a symlink (an O_PATH open of a link returns the
/// link itself, any other open of one fails with ELOOP), never a magic link,
/// never above `dir_fd`. With openat2 (RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS |
/// RESOLVE_NO_MAGICLINKS) where the kernel has it; where it is missing or a
/// container's seccomp policy answers ENOSYS for it (systemd-nspawn, older
/// container runtimes), with openat(O_NOFOLLOW), which for one component
/// with no "/" and no ".." gives the same guarantees.
int OpenBeneath(int dir_fd, const char* name, uint64_t flags) {
  static std::atomic<bool> openat2_missing{false};
  if (!openat2_missing.load(std::memory_order_relaxed)) {
    struct open_how how {};
    how.flags = flags | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    for (int tries = 0;; ++tries) {
      long fd = ::syscall(SYS_openat2, dir_fd, name, &how, sizeof how);
      if (fd >= 0) return static_cast<int>(fd);
      if (errno == ENOSYS) break;
      // EAGAIN: a rename raced the lookup; the kernel asks to try again.
      if ((errno != EINTR && errno != EAGAIN) || tries == 100) return -1;
    }
    openat2_missing.store(true, std::memory_order_relaxed);
  }
  std::string_view n(name);
  if (n == ".." || n.find('/') != std::string_view::npos) {
    errno = EINVAL;  // callers walk one component at a time and handle ".." themselves
    return -1;
  }
  for (;;) {
    int fd = ::openat(dir_fd, name, static_cast<int>(flags) | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 || errno != EINTR) return fd;
  }
}

/// Splits a path into its components and pushes them so the first is last
/// (the walk pops from the back).
void PushComponents(std::vector<std::string>& todo, std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) parts.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  todo.insert(todo.end(), parts.rbegin(), parts.rend());
}

bool SameFile(int a, int b) {
  struct stat sa {}, sb {};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::string SizeText(size_t bytes) {
  if (bytes >= (size_t{1} << 20) && bytes % (size_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

Error TooLarge(const std::string& shown, size_t max_bytes, std::optional<off_t> size) {
  std::string message = shown + " is larger than the " + SizeText(max_bytes) + " limit for whole-file reads";
  if (size) message += " (" + std::to_string(*size) + " bytes)";
  return Error(ErrorCode::kTooLarge, message);
}

FileType TypeOf(mode_t mode) {
  if (S_ISDIR(mode)) return FileType::kDirectory;
  if (S_ISLNK(mode)) return FileType::kSymlink;
  if (S_ISCHR(mode)) return FileType::kCharDevice;
  if (S_ISBLK(mode)) return FileType::kBlockDevice;
  if (S_ISFIFO(mode)) return FileType::kFifo;
  if (S_ISSOCK(mode)) return FileType::kSocket;
  return FileType::kRegular;
}

FileInfo InfoOf(const struct stat& st) {
  FileInfo info;
  info.type = TypeOf(st.st_mode);
  info.mode = st.st_mode & 07777;
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  info.size = static_cast<uint64_t>(st.st_size);
  info.mtime = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  return info;
}

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452  // Linux 6.6; the same number on every architecture
#endif

/// chmod of exactly the file `fd` (an O_PATH descriptor, which fchmod(2)
/// refuses): fchmodat2(fd, "", AT_EMPTY_PATH) where the kernel has it (6.6+),
/// else through /proc/self/fd/N, which names that very inode (what glibc's
/// fchmodat(AT_SYMLINK_NOFOLLOW) does too). Never through a name that could
/// be swapped meanwhile. Returns 0 or -1 with errno.
int ChmodDescriptor(int fd, mode_t mode) {
  static std::atomic<bool> fchmodat2_missing{false};
  if (!fchmodat2_missing.load(std::memory_order_relaxed)) {
    if (::syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH) == 0) return 0;
    if (errno != ENOSYS) return -1;
    fchmodat2_missing.store(true, std::memory_order_relaxed);
  }
  const std::string proc = "/proc/self/fd/" + std::to_string(fd);
  return ::chmod(proc.c_str(), mode);
}

std::string Dirname(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

}  // namespace

Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("writing " + what, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status WriteFileAtomicallyAt(int dir_fd, const std::string& name, std::string_view content, mode_t mode,
                             std::optional<FileOwner> owner, const std::string& shown) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::string tmp = name + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rng() % 1000000);
  const std::string tmp_shown = shown + tmp.substr(name.size());
  // O_EXCL: an existing name (a symlink planted there too) is an error, never followed.
  int fd = ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return ErrnoError("creating " + tmp_shown, errno);
  Status st = WriteAll(fd, content, tmp_shown);
  // chown first: it may clear set-id bits that fchmod then sets as asked.
  if (st.ok() && owner && ::fchown(fd, owner->uid, owner->gid) != 0)
    st = ErrnoError("keeping owner " + std::to_string(owner->uid) + ":" + std::to_string(owner->gid) + " on " +
                        tmp_shown,
                    errno);
  if (st.ok() && ::fchmod(fd, mode) != 0) st = ErrnoError("chmod " + tmp_shown, errno);
  if (st.ok() && ::fsync(fd) != 0) st = ErrnoError("fsync " + tmp_shown, errno);
  if (::close(fd) != 0 && st.ok()) st = ErrnoError("closing " + tmp_shown, errno);
  if (st.ok() && ::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0)
    st = ErrnoError("renaming " + tmp_shown + " to " + shown, errno);
  if (!st.ok()) {
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return st;
  }
  UniqueFd dir(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) ::fsync(dir.get());
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& real_path, std::string_view content, mode_t mode,
                           std::optional<FileOwner> owner) {
  const std::string dir_path = Dirname(real_path);
  UniqueFd dir(::open(dir_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoError("opening the folder of " + real_path, errno);
  std::string name = real_path.substr(real_path.find_last_of('/') + 1);
  return WriteFileAtomicallyAt(dir.get(), name, content, mode, owner, real_path);
}

Result<std::string> ReadAllFromFd(int fd, size_t max_bytes, const std::string& shown) {
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<uintmax_t>(st.st_size) > max_bytes)
    return TooLarge(shown, max_bytes, st.st_size);
  std::string out;
  char buf[65536];
  for (;;) {
    // One byte past the limit is enough to know it is over (files in /proc report no size).
    const size_t room = max_bytes - out.size();  // out.size() <= max_bytes here
    const size_t want = room < sizeof buf ? room + 1 : sizeof buf;
    ssize_t n = ::read(fd, buf, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("reading " + shown, errno);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) return TooLarge(shown, max_bytes, std::nullopt);
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> ReadWholeFile(const std::string& real_path, size_t max_bytes) {
  UniqueFd fd(::open(real_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("reading " + real_path, errno);
  return ReadAllFromFd(fd.get(), max_bytes, real_path);
}

Status MakeDirsReal(const std::string& real_path, mode_t mode) {
  if (real_path.empty() || real_path == "/") return Status::Ok();
  struct stat st;
  if (::stat(real_path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return Error(ErrorCode::kAlreadyExists, real_path + " exists and is not a directory");
  }
  Status parent = MakeDirsReal(Dirname(real_path), mode);
  if (!parent.ok()) return parent;
  if (::mkdir(real_path.c_str(), mode) != 0 && errno != EEXIST) return ErrnoError("mkdir " + real_path, errno);
  return Status::Ok();
}

/// Where a walk ended: the directory holding the last component, its name
/// and what is there.
struct LocalFileSystem::Location {
  UniqueFd dir;       // O_PATH descriptor of the directory that holds `name`
  std::string name;   // "" when the path names `dir` itself (the root, ".." or "." at the end, a directory walk)
  UniqueFd target;    // O_PATH descriptor of what is at `name` (a symlink when not followed); invalid when nothing is
  std::string shown;  // root prefix + the path as walked, for messages
};

/// How a walk treats the path's last component and the symlinks it meets.
struct LocalFileSystem::WalkRules {
  bool follow_last = true;             // a symlink as last component is followed, not returned
  bool last_is_dir = false;            // the last component is a directory to walk into too
  std::optional<mode_t> create_dirs;   // missing directories on the way are made (the last too when last_is_dir)
  SymlinkPolicy links = SymlinkPolicy::kFollowInsideRoot;
};

LocalFileSystem::LocalFileSystem(std::string root) : root_(std::move(root)) {
  while (!root_.empty() && root_.back() == '/') root_.pop_back();
  const std::string path = root_.empty() ? "/" : root_;
  root_fd_ = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd_ < 0) {
    unusable_ = ErrnoError("opening the root prefix " + path, errno);
    return;
  }
}

LocalFileSystem::~LocalFileSystem() {
  if (root_fd_ >= 0) ::close(root_fd_);
}

std::string LocalFileSystem::Resolve(std::string_view host_path) const {
  std::vector<std::string> todo;
  PushComponents(todo, host_path);
  std::vector<std::string> parts;
  while (!todo.empty()) {
    std::string part = std::move(todo.back());
    todo.pop_back();
    if (part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();  // ".." of the root is the root
      continue;
    }
    parts.push_back(std::move(part));
  }
  std::string out = root_;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? std::string("/") : out;
}

Result<LocalFileSystem::Location> LocalFileSystem::Walk(std::string_view host_path, const WalkRules& rules,
                                                        const std::string& what) const {
  if (unusable_) return unusable_->Wrap(what + " " + Resolve(host_path));
  std::vector<std::string> todo;  // components still to walk, the next one last
  PushComponents(todo, host_path);
  std::vector<UniqueFd> dirs;      // directories walked into below the root
  std::vector<std::string> names;  // and their names
  auto top = [&] { return dirs.empty() ? root_fd_ : dirs.back().get(); };
  auto take_top = [&] {
    return dirs.empty() ? UniqueFd(::fcntl(root_fd_, F_DUPFD_CLOEXEC, 3)) : std::move(dirs.back());
  };
  auto shown = [&](std::string_view last) {
    std::string out = root_;
    for (const auto& n : names) out += "/" + n;
    if (!last.empty()) out += "/" + std::string(last);
    return out.empty() ? std::string("/") : out;
  };
  auto fail = [&](std::string_view at, int err) {
    std::string full = Resolve(host_path), here = shown(at);
    return ErrnoError(what + " " + full + (here == full ? "" : " (at " + here + ")"), err);
  };
  int links = 0, made = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.back());
    todo.pop_back();
    if (part == ".") continue;
    if (part == "..") {  // back to the directory walked before, never above the root
      if (!dirs.empty()) {
        dirs.pop_back();
        names.pop_back();
      }
      continue;
    }
    const bool last = todo.empty() && !rules.last_is_dir;
    UniqueFd fd(OpenBeneath(top(), part.c_str(), O_PATH));
    if (!fd.valid()) {
      int err = errno;
      if (err == ENOENT && last) {
        std::string at = shown(part);
        UniqueFd dir = take_top();
        if (!dir.valid()) return fail(part, errno);
        return Location{std::move(dir), std::move(part), UniqueFd(), std::move(at)};
      }
      if (err == ENOENT && rules.create_dirs && made++ < kMaxSymlinks) {
        if (::mkdirat(top(), part.c_str(), *rules.create_dirs) != 0 && errno != EEXIST) return fail(part, errno);
        todo.push_back(std::move(part));  // and open what was made, as any other directory
        continue;
      }
      return fail(part, err);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail(part, errno);
    if (S_ISLNK(st.st_mode) && (!last || rules.follow_last)) {
      const std::string link = shown(part);
      if (rules.links == SymlinkPolicy::kRefuse)
        return Error(ErrorCode::kPermissionDenied, what + " " + Resolve(host_path) + ": " + link +
                                                       " is a symlink, and symlinks are not followed here");
      if (++links > kMaxSymlinks)
        return Error(ErrorCode::kInvalidArgument, what + " " + Resolve(host_path) +
                                                      ": too many levels of symbolic links at " + link);
      // As fs.protected_symlinks does in sticky folders, but everywhere: root
      // follows only links that root (or the caller) made, so a user who can
      // write in some folder cannot point the agent's writes elsewhere.
      if (st.st_uid != 0 && st.st_uid != ::geteuid())
        return Error(ErrorCode::kPermissionDenied, "not following the symlink " + link + ", owned by uid " +
                                                       std::to_string(st.st_uid) + " (only root's links are followed)");
      std::string target(PATH_MAX, '\0');
      ssize_t n = ::readlinkat(fd.get(), "", target.data(), target.size());  // this very link, not its name
      if (n < 0) return ErrnoError("reading the symlink " + link, errno);
      target.resize(static_cast<size_t>(n));
      if (!target.empty() && target[0] == '/') {  // absolute: from the root prefix
        dirs.clear();
        names.clear();
      }
      PushComponents(todo, target);
      continue;
    }
    if (last) {
      std::string at = shown(part);
      UniqueFd dir = take_top();
      if (!dir.valid()) return fail(part, errno);
      return Location{std::move(dir), std::move(part), std::move(fd), std::move(at)};
    }
    if (!S_ISDIR(st.st_mode)) {
      if (todo.empty() && rules.create_dirs)
        return Error(ErrorCode::kAlreadyExists, shown(part) + " exists and is not a directory");
      return fail(part, ENOTDIR);
    }
    dirs.push_back(std::move(fd));
    names.push_back(std::move(part));
  }
  // The path names a directory itself: the root, a path ending in "." or
  // "..", or any directory when the last component is walked into.
  std::string at = shown("");
  UniqueFd dir = take_top();
  if (!dir.valid()) return fail("", errno);
  return Location{std::move(dir), "", UniqueFd(), std::move(at)};
}

Result<std::string> LocalFileSystem::ResolveFollowingLinks(std::string_view host_path) const {
  auto loc = Walk(host_path, WalkRules{}, "resolving");
  if (!loc) return loc.error();
  return loc->shown;
}

Result<std::string> LocalFileSystem::ReadFile(std::string_view host_path) const {
  for (int attempt = 1;; ++attempt) {
    auto loc = Walk(host_path, WalkRules{}, "reading");
    if (!loc) return loc.error();
    if (loc->name.empty()) return ErrnoError("reading " + loc->shown, EISDIR);
    if (!loc->target.valid()) return ErrnoError("reading " + loc->shown, ENOENT);
    // O_NONBLOCK: a FIFO put in a file's place must not hang the agent.
    UniqueFd fd(OpenBeneath(loc->dir.get(), loc->name.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK));
    if (fd.valid() && SameFile(fd.get(), loc->target.get()))
      return ReadAllFromFd(fd.get(), kMaxReadFileBytes, loc->shown);
    // Replaced between the walk and the open (by a symlink: ELOOP): walk again.
    if (!fd.valid() && errno != ELOOP && errno != ENOENT) return ErrnoError("reading " + loc->shown, errno);
    if (attempt == 4)
      return Error(ErrorCode::kConflict, "reading " + loc->shown + ": it was replaced while being opened, 4 times");
  }
}

bool LocalFileSystem::Exists(std::string_view host_path) const {
  auto loc = Walk(host_path, WalkRules{.follow_last = false}, "checking");
  return loc.ok() && (loc->name.empty() || loc->target.valid());
}

Result<std::vector<std::string>> LocalFileSystem::ListDir(std::string_view host_path) const {
  auto loc = Walk(host_path, WalkRules{.last_is_dir = true}, "listing");
  if (!loc) return loc.error();
  int fd = ::openat(loc->dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("listing " + loc->shown, errno);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    int err = errno;
    ::close(fd);
    return ErrnoError("listing " + loc->shown, err);
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Result<FileInfo> LocalFileSystem::StatWalked(std::string_view host_path, bool follow_last,
                                            const std::string& what) const {
  auto loc = Walk(host_path, WalkRules{.follow_last = follow_last}, what);
  if (!loc) return loc.error();
  // No name: the path is a directory itself (the root, a path ending in "..").
  const int fd = loc->name.empty() ? loc->dir.get() : loc->target.get();
  if (fd < 0) return ErrnoError(what + " " + loc->shown, ENOENT);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoError(what + " " + loc->shown, errno);
  return InfoOf(st);
}

Result<FileInfo> LocalFileSystem::Stat(std::string_view host_path) const {
  return StatWalked(host_path, true, "stat");
}

Result<FileInfo> LocalFileSystem::Lstat(std::string_view host_path) const {
  return StatWalked(host_path, false, "lstat");
}

Result<std::string> LocalFileSystem::ReadLink(std::string_view host_path) const {
  auto loc = Walk(host_path, WalkRules{.follow_last = false}, "reading the symlink");
  if (!loc) return loc.error();
  if (!loc->name.empty() && !loc->target.valid()) return ErrnoError("reading the symlink " + loc->shown, ENOENT);
  struct stat st {};
  if (loc->name.empty() || ::fstat(loc->target.get(), &st) != 0 || !S_ISLNK(st.st_mode))
    return Error(ErrorCode::kInvalidArgument, "reading the symlink " + loc->shown + ": it is not a symlink");
  std::string target(PATH_MAX, '\0');
  ssize_t n = ::readlinkat(loc->target.get(), "", target.data(), target.size());  // this very link
  if (n < 0) return ErrnoError("reading the symlink " + loc->shown, errno);
  if (static_cast<size_t>(n) >= target.size())
    return Error(ErrorCode::kTooLarge, "reading the symlink " + loc->shown + ": its target is over PATH_MAX");
  target.resize(static_cast<size_t>(n));
  return target;
}

Status LocalFileSystem::Chmod(std::string_view host_path, mode_t mode) {
  if ((mode & ~mode_t{07777}) != 0)
    return Error(ErrorCode::kInvalidArgument, "chmod " + Resolve(host_path) + ": mode " + std::to_string(mode) +
                                                  " has bits beyond 07777");
  auto loc = Walk(host_path, WalkRules{}, "chmod");
  if (!loc) return loc.error();
  const int fd = loc->name.empty() ? loc->dir.get() : loc->target.get();
  if (fd < 0) return ErrnoError("chmod " + loc->shown, ENOENT);
  if (ChmodDescriptor(fd, mode) != 0) return ErrnoError("chmod " + loc->shown, errno);
  return Status::Ok();
}

Status LocalFileSystem::WriteInPlace(std::string_view host_path, std::string_view content) {
  const std::string what = "writing in place";
  if (content.size() > kMaxInPlaceWriteBytes)
    return Error(ErrorCode::kTooLarge, what + " " + Resolve(host_path) + ": " + std::to_string(content.size()) +
                                           " bytes, over the " + SizeText(kMaxInPlaceWriteBytes) + " limit");
  const std::string never_creates = " (an in-place write never creates a file)";
  auto loc = Walk(host_path, WalkRules{}, what);
  if (!loc && loc.error().code() == ErrorCode::kNotFound)
    return Error(ErrorCode::kNotFound, loc.error().message() + never_creates);
  if (!loc) return loc.error();
  if (loc->name.empty()) return ErrnoError(what + " " + loc->shown, EISDIR);
  if (!loc->target.valid()) return Error(ErrorCode::kNotFound, what + " " + loc->shown + ": no such file" + never_creates);
  struct stat st {};
  if (::fstat(loc->target.get(), &st) != 0) return ErrnoError(what + " " + loc->shown, errno);
  // Checked before opening: opening a device or a FIFO can itself do something.
  if (!S_ISREG(st.st_mode))
    return Error(ErrorCode::kInvalidArgument, what + " " + loc->shown + ": not a regular file");
  // No O_TRUNC at open: the name is checked to still be the walked file first.
  UniqueFd fd(OpenBeneath(loc->dir.get(), loc->name.c_str(), O_WRONLY | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return ErrnoError(what + " " + loc->shown, errno);
  if (!SameFile(fd.get(), loc->target.get()))
    return Error(ErrorCode::kConflict, what + " " + loc->shown + ": it was replaced while being opened; nothing was written");
  // /proc files report size 0 (nothing to cut); sysfs ones 4096 and take the truncate.
  if (st.st_size > 0 && ::ftruncate(fd.get(), 0) != 0) return ErrnoError(what + " " + loc->shown, errno);
  // One write: a sysctl takes its value from a single write at offset 0, and a
  // second write at an offset would not continue it.
  for (;;) {
    ssize_t n = ::write(fd.get(), content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(what + " " + loc->shown, errno);
    if (static_cast<size_t>(n) != content.size())
      return Error(ErrorCode::kIo, what + " " + loc->shown + ": the kernel took " + std::to_string(n) + " of " +
                                       std::to_string(content.size()) + " bytes");
    break;
  }
  if (::close(fd.release()) != 0) return ErrnoError(what + " " + loc->shown, errno);
  return Status::Ok();
}

Status LocalFileSystem::WriteFileAtomic(std::string_view host_path, std::string_view content, mode_t mode,
                                        std::optional<std::string> backup_suffix) {
  // A symlink is kept and its target replaced, as an editor would: /etc/fstab
  // may be a link into a managed folder, and a plain file in its place would
  // silently cut it off. Missing folders on the way are made.
  auto loc = Walk(host_path, WalkRules{.create_dirs = 0755}, "writing");
  if (!loc) return loc.error();
  if (loc->name.empty()) return ErrnoError("writing " + loc->shown, EISDIR);
  // Replacing a file keeps its mode and owner, like an edit in place would:
  // a 0600 file must not become readable, nor root's file someone else's.
  std::optional<FileOwner> owner;
  struct stat existing {};
  const bool replacing = loc->target.valid() && ::fstat(loc->target.get(), &existing) == 0 && S_ISREG(existing.st_mode);
  if (replacing) {
    mode = existing.st_mode & 07777;
    owner = FileOwner{existing.st_uid, existing.st_gid};
  }
  if (backup_suffix && replacing) {
    UniqueFd fd(OpenBeneath(loc->dir.get(), loc->name.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid() || !SameFile(fd.get(), loc->target.get()))
      return Error(ErrorCode::kConflict,
                   "keeping a backup of " + loc->shown + ": it was replaced meanwhile; nothing was written");
    auto old = ReadAllFromFd(fd.get(), kMaxReadFileBytes, loc->shown);
    if (!old) return old.error().Wrap("keeping a backup");
    Status st = WriteFileAtomicallyAt(loc->dir.get(), loc->name + *backup_suffix, *old, mode, owner,
                                      loc->shown + *backup_suffix);
    if (!st.ok()) return st.error().Wrap("keeping a backup of " + loc->shown);
  }
  return WriteFileAtomicallyAt(loc->dir.get(), loc->name, content, mode, owner, loc->shown);
}

Status LocalFileSystem::MakeDirs(std::string_view host_path, mode_t mode) {
  auto loc = Walk(host_path, WalkRules{.last_is_dir = true, .create_dirs = mode}, "making the directory");
  if (!loc) return loc.error();
  return Status::Ok();
}

Status LocalFileSystem::Remove(std::string_view host_path) {
  auto loc = Walk(host_path, WalkRules{.follow_last = false}, "removing");
  if (!loc) return loc.error().code() == ErrorCode::kNotFound ? Status::Ok() : Status(loc.error());
  if (loc->name.empty())
    return Error(ErrorCode::kInvalidArgument,
                 "not removing " + loc->shown + ": the path names the root or ends in \".\" or \"..\"");
  if (!loc->target.valid()) return Status::Ok();
  const int dir = loc->dir.get();
  if (::unlinkat(dir, loc->name.c_str(), 0) == 0 || errno == ENOENT) return Status::Ok();
  if (errno == EISDIR || errno == EPERM) {
    if (::unlinkat(dir, loc->name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return Status::Ok();
  }
  return ErrnoError("removing " + loc->shown, errno);
}

Result<int> LocalFileSystem::OpenDirectory(std::string_view host_path, SymlinkPolicy links) const {
  auto loc = Walk(host_path, WalkRules{.last_is_dir = true, .links = links}, "opening the directory");
  if (!loc) return loc.error();
  int fd = ::openat(loc->dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("opening the directory " + loc->shown, errno);
  return fd;
}

}  // namespace nodeagent
