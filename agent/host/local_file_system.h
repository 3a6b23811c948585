// The real FileSystem: host paths resolved under a root prefix on the local
// disk. With root "/" it is the machine itself; tests give it a temp dir, so
// the same code that edits /etc/fstab on a node edits $TMP/etc/fstab in a test.
#pragma once

#include <optional>
#include <string>

#include "nodeagent/host.h"

namespace nodeagent {

class LocalFileSystem : public FileSystem {
 public:
  /// `root` is an absolute directory; "/" or "" means the real root.
  explicit LocalFileSystem(std::string root);

  const std::string& root() const override { return root_; }
  std::string Resolve(std::string_view host_path) const override;
  /// The real path of a host path with its symlinks followed inside the root
  /// prefix, as if the root were "/": an absolute target starts again at the
  /// root, ".." never climbs above it. Parts that do not exist are kept as
  /// named. Used by ReadFile and WriteFileAtomic, so a test's temp root sees
  /// the file the node would, never one of the test machine's.
  Result<std::string> ResolveFollowingLinks(std::string_view host_path) const;
  Result<std::string> ReadFile(std::string_view host_path) const override;
  bool Exists(std::string_view host_path) const override;
  Result<std::vector<std::string>> ListDir(std::string_view host_path) const override;
  Status WriteFileAtomic(std::string_view host_path, std::string_view content, mode_t mode,
                         std::optional<std::string> backup_suffix) override;
  Status MakeDirs(std::string_view host_path, mode_t mode) override;
  Status Remove(std::string_view host_path) override;

 private:
  std::string root_;
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
/// Writes all of `data` to `fd`, retrying short writes and EINTR. The error
/// names `what` ("writing <what>: ...").
Status WriteAll(int fd, std::string_view data, const std::string& what);
/// Reads a whole file by real path.
Result<std::string> ReadWholeFile(const std::string& real_path);
/// mkdir -p by real path.
Status MakeDirsReal(const std::string& real_path, mode_t mode);

}  // namespace nodeagent
