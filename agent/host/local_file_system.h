// The real FileSystem: host paths resolved under a root prefix on the local
// disk. With root "/" it is the machine itself; tests give it a temp dir, so
// the same code that edits /etc/fstab on a node edits $TMP/etc/fstab in a test.
// The agent runs as root and the root prefix may hold folders other users
// can write, so no path is ever opened by its full name: the root is opened
// once, and every call walks its path one component at a time from that
// descriptor with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_MAGICLINKS), following the symlinks it meets itself (inside the
// root, only links that root or the caller owns), and then acts with *at()
// calls on the directory it resolved.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nodeagent/host.h"

namespace nodeagent {

class LocalFileSystem : public FileSystem {
 public:
  /// `root` is an absolute directory; "/" or "" means the real root. It is
  /// opened here; when that fails (or the kernel has no openat2, Linux < 5.6)
  /// every call returns that error.
  explicit LocalFileSystem(std::string root);
  ~LocalFileSystem() override;
  LocalFileSystem(const LocalFileSystem&) = delete;
  LocalFileSystem& operator=(const LocalFileSystem&) = delete;

  const std::string& root() const override { return root_; }
  std::string Resolve(std::string_view host_path) const override;
  /// The real path of a host path with its symlinks followed inside the root
  /// prefix, as if the root were "/": an absolute target starts again at the
  /// root, ".." never climbs above it. Parts that do not exist are kept as
  /// named. For messages and tests: the calls below never open this path by
  /// name, and neither should a caller.
  Result<std::string> ResolveFollowingLinks(std::string_view host_path) const;
  Result<std::string> ReadFile(std::string_view host_path) const override;
  bool Exists(std::string_view host_path) const override;
  Result<std::vector<std::string>> ListDir(std::string_view host_path) const override;
  Result<FileInfo> Stat(std::string_view host_path) const override;
  Result<FileInfo> Lstat(std::string_view host_path) const override;
  Result<std::string> ReadLink(std::string_view host_path) const override;
  Status WriteFileAtomic(std::string_view host_path, std::string_view content, mode_t mode,
                         std::optional<std::string> backup_suffix) override;
  Status MakeDirs(std::string_view host_path, mode_t mode) override;
  Status Remove(std::string_view host_path) override;
  Status Chmod(std::string_view host_path, mode_t mode) override;
  Status WriteInPlace(std::string_view host_path, std::string_view content) override;
  Result<int> OpenDirectory(std::string_view host_path, SymlinkPolicy links) const override;

 private:
  struct Location;
  struct WalkRules;
  /// Walks `host_path` from the root descriptor as `rules` say; errors start
  /// with `what` ("reading <path>").
  Result<Location> Walk(std::string_view host_path, const WalkRules& rules, const std::string& what) const;
  /// Stat and Lstat: the walk with `follow_last` as asked, then fstat of what it found.
  Result<FileInfo> StatWalked(std::string_view host_path, bool follow_last, const std::string& what) const;

  std::string root_;
  int root_fd_ = -1;
  std::optional<Error> unusable_;  // why root_fd_ cannot be used
};

/// Who owns a file.
struct FileOwner {
  uid_t uid;
  gid_t gid;
};

/// Writes `content` to `real_path` atomically (temp file in the same folder,
/// fsync, rename, fsync of the folder), with `mode` and, when given, `owner`
/// (set on the temp file, so the name never points at a file with the wrong
/// ones). Used for state files too.
Status WriteFileAtomically(const std::string& real_path, std::string_view content, mode_t mode,
                           std::optional<FileOwner> owner = std::nullopt);
/// The same inside the directory `dir_fd` (which may be an O_PATH
/// descriptor): the temp file, the rename and the fsync all act on `dir_fd`.
/// `shown` names the file in errors.
Status WriteFileAtomicallyAt(int dir_fd, const std::string& name, std::string_view content, mode_t mode,
                             std::optional<FileOwner> owner, const std::string& shown);
/// Writes all of `data` to `fd`, retrying short writes and EINTR. The error
/// names `what` ("writing <what>: ...").
Status WriteAll(int fd, std::string_view data, const std::string& what);
/// Reads a whole file by real path (agent-owned state files and /proc); TooLarge
/// beyond `max_bytes`.
Result<std::string> ReadWholeFile(const std::string& real_path, size_t max_bytes = SIZE_MAX);
/// Reads `fd` to its end; TooLarge (naming `shown` and the limit) beyond
/// `max_bytes`. Does not close `fd`.
Result<std::string> ReadAllFromFd(int fd, size_t max_bytes, const std::string& shown);
/// mkdir -p by real path.
Status MakeDirsReal(const std::string& real_path, mode_t mode);

}  // namespace nodeagent
