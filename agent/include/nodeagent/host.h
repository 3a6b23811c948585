// The host seam. Every touch of the machine a plugin or the core makes (files,
// commands, time, network state, boot id, hostname) goes through these interfaces, so that
// tests run against a temp root, a recording command runner and a fake clock and
// never against the real node. Files are resolved under a root prefix
// (`agent.root`, default "/"), the way fluent-bit takes `path.procfs`.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/network.h"
#include "nodeagent/result.h"

namespace nodeagent {

/// Wall and monotonic time, and sleeping. A fake clock advances on Sleep.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() = 0;
  virtual std::chrono::steady_clock::time_point Monotonic() = 0;
  /// Sleeps for `d`. Returns early (false) when `cancelled` becomes true; it is
  /// checked at least every 100 ms. `cancelled` may be null.
  virtual bool SleepFor(std::chrono::milliseconds d, const bool* cancelled = nullptr) = 0;
};

/// The most a whole-file read (FileSystem::ReadFile) returns: 16 MiB. Host
/// files the agent reads whole (fstab, kubeconfigs, zoneinfo, connection
/// profiles) are far smaller; a larger one is refused, not truncated.
inline constexpr size_t kMaxReadFileBytes = size_t{16} << 20;

/// The most FileSystem::WriteInPlace takes: 64 KiB. Pseudo-files take a
/// line (a sysctl value, an MTU); the kernel may take less in one write.
inline constexpr size_t kMaxInPlaceWriteBytes = size_t{64} << 10;

/// What kind of file a path names (the type bits of stat(2)'s st_mode).
enum class FileType { kRegular, kDirectory, kSymlink, kCharDevice, kBlockDevice, kFifo, kSocket };

/// What stat(2) says about a file, the parts actions check before they
/// change one (is it a link, who owns it, may others write it).
struct FileInfo {
  FileType type = FileType::kRegular;
  mode_t mode = 0;  ///< permission, set-id and sticky bits (07777), not the type
  uid_t uid = 0;
  gid_t gid = 0;
  uint64_t size = 0;  ///< bytes; for a symlink, the length of its target
  std::chrono::system_clock::time_point mtime;
};

/// How a path's symlinks are treated: followed inside the root prefix (an
/// absolute target starts again at the root, ".." stops at it), or refused.
enum class SymlinkPolicy { kFollowInsideRoot, kRefuse };

/// Files of the host, addressed by absolute host paths ("/etc/fstab") and
/// resolved under the root prefix. All writes that replace a file are atomic.
///
/// Every call resolves its path inside the root prefix: ".." never climbs
/// above it, an absolute symlink starts again at it, and the call acts on the
/// descriptors it resolved, so a path swapped for a symlink meanwhile cannot
/// lead it outside. Symlinks met on the way are followed (inside the root)
/// only when root or the caller owns them (PermissionDenied otherwise, like
/// fs.protected_symlinks); more than 40 of them is an error (a loop).
class FileSystem {
 public:
  virtual ~FileSystem() = default;

  /// The root prefix, without a trailing slash ("" when the root is "/").
  virtual const std::string& root() const = 0;
  /// The real path of a host path: root() + the path with "." and ".."
  /// resolved by name, never above the root. Symlinks are not looked at:
  /// use it in messages; to act on a directory, take OpenDirectory's
  /// descriptor rather than opening this path.
  virtual std::string Resolve(std::string_view host_path) const = 0;

  /// Whole file, symlinks followed inside the root prefix. NotFound when
  /// missing; TooLarge over kMaxReadFileBytes (naming the path and the limit);
  /// IoError otherwise.
  virtual Result<std::string> ReadFile(std::string_view host_path) const = 0;
  /// Whether something (a symlink too, not followed) is at the path.
  virtual bool Exists(std::string_view host_path) const = 0;
  /// Names in a directory (no "." or ".."), sorted.
  virtual Result<std::vector<std::string>> ListDir(std::string_view host_path) const = 0;
  /// What is at the path, a symlink followed inside the root (a dangling
  /// one is NotFound, like a missing file).
  virtual Result<FileInfo> Stat(std::string_view host_path) const = 0;
  /// Like Stat, but a symlink as the last component is described itself
  /// (type kSymlink); links before it are followed.
  virtual Result<FileInfo> Lstat(std::string_view host_path) const = 0;
  /// The target text of the symlink at the path, as stored (not resolved).
  /// NotFound when missing; InvalidArgument when it is not a symlink.
  virtual Result<std::string> ReadLink(std::string_view host_path) const = 0;

  /// Replaces (or creates) the file atomically: writes a temp file beside it,
  /// fsyncs it, renames it over the target and fsyncs the directory. A file
  /// that exists keeps its mode and owner; `mode` is for a new one. With
  /// `backup_suffix` set (".nodeagent.bak"), the previous content is kept
  /// first under path + suffix, with the same mode and owner. Parent
  /// directories are created (mode 0755). A symlink is followed (inside the
  /// root prefix) and its target replaced, the link itself kept; the backup
  /// then sits beside the target. Links owned by anyone but root or the caller
  /// are refused (PermissionDenied).
  virtual Status WriteFileAtomic(std::string_view host_path, std::string_view content,
                                 mode_t mode = 0644,
                                 std::optional<std::string> backup_suffix = std::nullopt) = 0;
  /// mkdir -p inside the root prefix; symlinks to directories are followed.
  /// AlreadyExists when something other than a directory is in the way.
  virtual Status MakeDirs(std::string_view host_path, mode_t mode = 0755) = 0;
  /// Removes a file or an empty directory; a symlink is removed itself, not
  /// its target. Missing is not an error.
  virtual Status Remove(std::string_view host_path) = 0;
  /// Sets the permission bits (`mode` within 07777, else InvalidArgument).
  /// A symlink is followed inside the root and its target changed, as
  /// chmod(1) does (Linux links have no mode of their own). NotFound when
  /// missing.
  virtual Status Chmod(std::string_view host_path, mode_t mode) = 0;
  /// Writes `content` into an existing regular file in place, for
  /// pseudo-files (/proc/sys/net/ipv4/ip_forward, /sys/class/net/X/mtu)
  /// that cannot be replaced by a rename: opens it write-only, truncates it
  /// and writes everything in one write(2). No temp file, no backup, never
  /// creates (NotFound when missing); symlinks followed inside the root; a
  /// directory, device or FIFO is InvalidArgument; over kMaxInPlaceWriteBytes
  /// is TooLarge; a write the kernel takes only part of (or refuses, EINVAL
  /// for a bad sysctl value) is an error naming the path.
  virtual Status WriteInPlace(std::string_view host_path, std::string_view content) = 0;

  /// A directory descriptor (O_RDONLY | O_DIRECTORY | O_CLOEXEC) for a host
  /// path resolved as above, with every symlink on the way followed inside
  /// the root or refused (PermissionDenied, "... is a symlink"). For code that
  /// walks a tree with *at() calls (the log-cleanup walker). The caller owns
  /// the descriptor and closes it. The default, for file systems with no
  /// descriptors (test fakes), is an Internal error.
  virtual Result<int> OpenDirectory(std::string_view host_path, SymlinkPolicy links) const {
    return Error(ErrorCode::kInternal, "this file system has no directory descriptors");
  }
};

/// A command to run: argv only, never a shell string.
struct CommandSpec {
  std::vector<std::string> argv;
  /// Killed (SIGTERM, then SIGKILL after 2 s) when it runs longer. 0: no limit.
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  std::string stdin_data;
  /// Added to (or overriding) the inherited environment.
  std::map<std::string, std::string> env;
  /// Optional: called with each line of output as it arrives (without its
  /// newline; `is_stderr` says which stream), on the calling thread, so a long
  /// command (kubeadm join, an image pull) can show progress and log live.
  /// The output is collected in the CommandResult as well. Lines are
  /// bounded (the real runner cuts them at 64 KiB, with a marker).
  std::function<void(std::string_view line, bool is_stderr)> on_line;
  /// Only looks, changes nothing (`nft -j list ruleset`, `ip -j addr`, a
  /// check the operator configured). While an action plans, and so in every
  /// dry run, the core runs only such commands and refuses the others.
  bool read_only = false;
};

struct CommandResult {
  int exit_code = -1;     // -1 when killed by a signal
  int term_signal = 0;    // the signal that ended it, 0 if it exited
  bool timed_out = false;
  bool cancelled = false;  // stopped because the run was cancelled (its timeout, agent stop)
  std::string stdout_data;
  std::string stderr_data;
  std::chrono::milliseconds duration{0};
  /// The output was longer than the runner keeps (the real runner: 1 MiB of
  /// head and 1 MiB of tail per stream): its middle was dropped and a line
  /// "[... N bytes truncated ...]" stands in its place.
  bool output_truncated = false;

  bool succeeded() const { return exit_code == 0 && !timed_out && !cancelled; }
};

/// Runs commands. An Error means it could not be started at all (not found,
/// not executable, the run already cancelled); a non-zero exit is a
/// CommandResult, not an Error. The runner a run's context hands out stops a
/// command (and everything it started) when the run is cancelled.
class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  virtual Result<CommandResult> Run(const CommandSpec& spec) = 0;
};

/// One handle on the whole seam, passed to plugins and core logic.
class Host {
 public:
  virtual ~Host() = default;
  virtual FileSystem& files() = 0;
  virtual CommandRunner& commands() = 0;
  virtual Clock& clock() = 0;
  /// The node's interfaces, addresses and routes (nodeagent/network.h).
  virtual NetworkInfo& network() = 0;

  /// Contents of <root>/proc/sys/kernel/random/boot_id, trimmed.
  virtual Result<std::string> BootId() = 0;
  /// Contents of <root>/proc/sys/kernel/hostname, trimmed.
  virtual Result<std::string> Hostname() = 0;
};

}  // namespace nodeagent
