// Where one mount ends and another begins. log-cleanup promises not to enter
// mount points (one_file_system), and on a node most of them are bind mounts
// of directories from the same filesystem (kubelet volumes, hostPath shares):
// they have the same st_dev as their parent, so comparing devices as
// `find -xdev` does lets them through. Like systemd-tmpfiles, this unit asks
// the kernel for the mount id of a directory (statx STATX_MNT_ID, Linux 5.8+,
// or name_to_handle_at before that) and whether it is the root of a mount
// (STATX_ATTR_MOUNT_ROOT); a directory whose mount id differs from its
// parent's is a mount point, whatever its device.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace nodeagent::logc {

/// What identifies a directory, and the mount it is reached through.
struct DirIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
  std::optional<uint64_t> mount_id;  // unset when the kernel told none
  bool mount_root = false;           // STATX_ATTR_MOUNT_ROOT was reported set
};

/// Where the mount id comes from: the normal order, or only one source (tests
/// check that both give the same answer).
enum class MountIdSource { kStatxThenHandle, kStatxOnly, kHandleOnly };

/// The identity of `name` in the directory `dir_fd`, or of `dir_fd` itself
/// when `name` is empty. Never follows a symlink and never triggers an
/// automount. Returns 0, or the errno of the failed statx (ENOENT when gone).
int IdentityAt(int dir_fd, const char* name, DirIdentity& out,
               MountIdSource source = MountIdSource::kStatxThenHandle);

enum class MountCrossing {
  kNone,             // the same mount as the parent
  kOtherFilesystem,  // another device (a separate filesystem is mounted here)
  kMountPoint,       // the same device, but another mount (a bind mount)
};

/// Whether `child`, a subdirectory of `parent`, begins another mount.
MountCrossing CrossingBetween(const DirIdentity& parent, const DirIdentity& child);

/// The finding text for a crossing that is not kNone ("skipped mount point: ...").
std::string CrossingMessage(MountCrossing crossing, const DirIdentity& parent, const DirIdentity& child);

}  // namespace nodeagent::logc
