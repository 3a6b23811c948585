#include "dir_under_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "path_escape.h"

namespace nodeagent::logc {

namespace {

constexpr int kReadDir = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
constexpr int kPassDir = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
constexpr int kOpenat2Retries = 16;  // EAGAIN: a rename raced the lookup

std::vector<std::string> Components(std::string_view host_path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < host_path.size()) {
    size_t slash = host_path.find('/', i);
    if (slash == std::string_view::npos) slash = host_path.size();
    if (slash > i) out.emplace_back(host_path.substr(i, slash - i));
    i = slash + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& components, size_t count) {
  std::string path;
  for (size_t i = 0; i < count; ++i) path += "/" + components[i];
  return path.empty() ? "/" : path;
}

/// openat2 below root_fd; -1 with errno set (ENOSYS without openat2).
int Openat2(int root_fd, const std::string& relative, int flags) {
  struct open_how how{};
  how.flags = static_cast<uint64_t>(flags);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0;; ++attempt) {
    long fd = ::syscall(SYS_openat2, root_fd, relative.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno != EAGAIN || attempt + 1 >= kOpenat2Retries) return -1;
  }
}

/// One openat per component, none of them following a symlink; -1 with errno.
int WalkComponents(int root_fd, const std::vector<std::string>& components, int flags) {
  if (components.empty()) return ::openat(root_fd, ".", flags);
  int current = root_fd;
  for (size_t i = 0; i < components.size(); ++i) {
    const bool last = i + 1 == components.size();
    int next = ::openat(current, components[i].c_str(), last ? flags : kPassDir);
    int err = errno;
    if (current != root_fd) ::close(current);
    if (next < 0) {
      errno = err;
      return -1;
    }
    current = next;
  }
  return current;
}

int OpenOnce(int root_fd, const std::vector<std::string>& components, int flags, ResolveMethod method) {
  if (method == ResolveMethod::kOpenat2) {
    std::string relative = components.empty() ? "." : Join(components, components.size()).substr(1);
    int fd = Openat2(root_fd, relative, flags);
    if (fd >= 0 || errno != ENOSYS) return fd;
  }
  return WalkComponents(root_fd, components, flags);
}

/// The first component of the path that is a symlink ("" when none is, or
/// when the path cannot be walked far enough to tell).
std::string FirstSymlink(int root_fd, const std::vector<std::string>& components) {
  int current = root_fd;
  std::string found;
  for (size_t i = 0; i < components.size(); ++i) {
    struct stat st;
    if (::fstatat(current, components[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) break;
    if (S_ISLNK(st.st_mode)) {
      found = Join(components, i + 1);
      break;
    }
    int next = ::openat(current, components[i].c_str(), kPassDir);
    if (current != root_fd) ::close(current);
    current = next;
    if (current < 0) return found;
  }
  if (current != root_fd) ::close(current);
  return found;
}

}  // namespace

Result<int> OpenDirUnderRoot(int root_fd, std::string_view host_path, ResolveMethod method) {
  std::vector<std::string> components = Components(host_path);
  for (const std::string& c : components) {
    if (c == "." || c == "..") return InvalidArgument("has a '.' or '..' component; refused");
  }
  // O_NOATIME is refused (EPERM) for directories of other users without CAP_FOWNER.
  int fd = OpenOnce(root_fd, components, kReadDir | O_NOATIME, method);
  if (fd < 0 && errno == EPERM) fd = OpenOnce(root_fd, components, kReadDir, method);
  if (fd >= 0) return fd;
  const int err = errno;
  switch (err) {
    case ENOENT:
      return NotFound("does not exist");
    case ELOOP:
    case ENOTDIR:
    case EXDEV: {
      std::string link = FirstSymlink(root_fd, components);
      if (!link.empty())
        return InvalidArgument(EscapePath(link) +
                               " is a symlink; not followed (configure the directory by its real path)");
      if (err == ENOTDIR) return InvalidArgument("is not a directory");
      return InvalidArgument("a component is a symlink or leads out of the root; not followed");
    }
    case EACCES:
    case EPERM:
      return Error(ErrorCode::kPermissionDenied, std::strerror(err));
    default:
      return IoError(std::strerror(err));
  }
}

}  // namespace nodeagent::logc
