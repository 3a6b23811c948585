#include "host/local_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include <algorithm>
#include <cerrno>
#include <random>

namespace nodeagent {

namespace {

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

Status WriteFileAtomically(const std::string& real_path, std::string_view content, mode_t mode,
                           std::optional<FileOwner> owner) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp = real_path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rng() % 1000000);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return ErrnoError("creating " + tmp, errno);
  Status st = WriteAll(fd, content, tmp);
  // chown first: it may clear set-id bits that fchmod then sets as asked.
  if (st.ok() && owner && ::fchown(fd, owner->uid, owner->gid) != 0)
    st = ErrnoError("keeping owner " + std::to_string(owner->uid) + ":" + std::to_string(owner->gid) + " on " + tmp,
                    errno);
  if (st.ok() && ::fchmod(fd, mode) != 0) st = ErrnoError("chmod " + tmp, errno);
  if (st.ok() && ::fsync(fd) != 0) st = ErrnoError("fsync " + tmp, errno);
  if (::close(fd) != 0 && st.ok()) st = ErrnoError("closing " + tmp, errno);
  if (st.ok() && ::rename(tmp.c_str(), real_path.c_str()) != 0) st = ErrnoError("renaming " + tmp + " to " + real_path, errno);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  int dfd = ::open(Dirname(real_path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Result<std::string> ReadWholeFile(const std::string& real_path) {
  int fd = ::open(real_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("reading " + real_path, errno);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoError("reading " + real_path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
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

LocalFileSystem::LocalFileSystem(std::string root) : root_(std::move(root)) {
  while (!root_.empty() && root_.back() == '/') root_.pop_back();
}

std::string LocalFileSystem::Resolve(std::string_view host_path) const {
  std::string p(host_path);
  if (p.empty() || p[0] != '/') p = "/" + p;
  return root_ + p;
}

Result<std::string> LocalFileSystem::ResolveFollowingLinks(std::string_view host_path) const {
  // Components still to walk, the next one last; and the ones walked so far.
  std::vector<std::string> todo;
  auto push_path = [&todo](std::string_view path) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string_view::npos) end = path.size();
      if (end > start) parts.emplace_back(path.substr(start, end - start));
      start = end + 1;
    }
    todo.insert(todo.end(), parts.rbegin(), parts.rend());
  };
  auto join = [this](const std::vector<std::string>& parts) {
    std::string out = root_;
    for (const auto& p : parts) out += "/" + p;
    return out.empty() ? std::string("/") : out;
  };
  push_path(host_path);
  std::vector<std::string> walked;
  int links = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.back());
    todo.pop_back();
    if (part == ".") continue;
    if (part == "..") {
      if (!walked.empty()) walked.pop_back();  // ".." of the root is the root
      continue;
    }
    walked.push_back(std::move(part));
    std::string real = join(walked);
    struct stat st {};
    if (::lstat(real.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) continue;  // missing parts stay as named
    if (++links > 40) return Error(ErrorCode::kInvalidArgument, "too many levels of symbolic links at " + real);
    // As fs.protected_symlinks does in sticky folders, but everywhere: root
    // follows only links that root (or the caller) made, so a user who can
    // write in some folder cannot point the agent's writes elsewhere.
    if (st.st_uid != 0 && st.st_uid != ::geteuid())
      return Error(ErrorCode::kPermissionDenied, "not following the symlink " + real + ", owned by uid " +
                                                     std::to_string(st.st_uid) + " (only root's links are followed)");
    std::string target(PATH_MAX, '\0');
    ssize_t n = ::readlink(real.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoError("reading the symlink " + real, errno);
    target.resize(static_cast<size_t>(n));
    walked.pop_back();
    if (!target.empty() && target[0] == '/') walked.clear();  // absolute: from the root prefix
    push_path(target);
  }
  return join(walked);
}

Result<std::string> LocalFileSystem::ReadFile(std::string_view host_path) const {
  auto real = ResolveFollowingLinks(host_path);
  if (!real.ok()) return real.error();
  return ReadWholeFile(*real);
}

bool LocalFileSystem::Exists(std::string_view host_path) const {
  struct stat st;
  return ::lstat(Resolve(host_path).c_str(), &st) == 0;
}

Result<std::vector<std::string>> LocalFileSystem::ListDir(std::string_view host_path) const {
  std::string real = Resolve(host_path);
  DIR* d = ::opendir(real.c_str());
  if (!d) return ErrnoError("listing " + real, errno);
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

Status LocalFileSystem::WriteFileAtomic(std::string_view host_path, std::string_view content, mode_t mode,
                                        std::optional<std::string> backup_suffix) {
  // A symlink is kept and its target replaced, as an editor would: /etc/fstab
  // may be a link into a managed folder, and a plain file in its place would
  // silently cut it off.
  auto resolved = ResolveFollowingLinks(host_path);
  if (!resolved.ok()) return resolved.error();
  const std::string& real = *resolved;
  Status st = MakeDirsReal(Dirname(real), 0755);
  if (!st.ok()) return st;
  // Replacing a file keeps its mode and owner, like an edit in place would:
  // a 0600 file must not become readable, nor root's file someone else's.
  std::optional<FileOwner> owner;
  struct stat existing {};
  if (::lstat(real.c_str(), &existing) == 0 && S_ISREG(existing.st_mode)) {
    mode = existing.st_mode & 07777;
    owner = FileOwner{existing.st_uid, existing.st_gid};
  }
  if (backup_suffix) {
    auto old = ReadWholeFile(real);
    if (old.ok()) {
      st = WriteFileAtomically(real + *backup_suffix, *old, mode, owner);
      if (!st.ok()) return st.error().Wrap("keeping a backup of " + real);
    } else if (old.error().code() != ErrorCode::kNotFound) {
      return old.error();
    }
  }
  return WriteFileAtomically(real, content, mode, owner);
}

Status LocalFileSystem::MakeDirs(std::string_view host_path, mode_t mode) { return MakeDirsReal(Resolve(host_path), mode); }

Status LocalFileSystem::Remove(std::string_view host_path) {
  std::string real = Resolve(host_path);
  if (::unlink(real.c_str()) == 0 || errno == ENOENT) return Status::Ok();
  if (errno == EISDIR || errno == EPERM) {
    if (::rmdir(real.c_str()) == 0 || errno == ENOENT) return Status::Ok();
  }
  return ErrnoError("removing " + real, errno);
}

}  // namespace nodeagent
