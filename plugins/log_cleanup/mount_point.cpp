#include "mount_point.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>

namespace nodeagent::logc {

namespace {

/// The mount id from name_to_handle_at (Linux 2.6.39+). The handle itself is
/// not needed; the kernel reports the mount id even when the buffer is too
/// small for it (EOVERFLOW). Filesystems that cannot make handles (EOPNOTSUPP)
/// tell nothing.
std::optional<uint64_t> MountIdFromHandle(int dir_fd, const char* name) {
  alignas(struct file_handle) unsigned char buffer[sizeof(struct file_handle) + MAX_HANDLE_SZ] = {};
  auto* handle = reinterpret_cast<struct file_handle*>(buffer);
  handle->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = -1;
  const int flags = name[0] == '\0' ? AT_EMPTY_PATH : 0;  // 0: a symlink is not followed
  if (::name_to_handle_at(dir_fd, name, handle, &mount_id, flags) != 0 && errno != EOVERFLOW)
    return std::nullopt;
  if (mount_id < 0) return std::nullopt;
  return static_cast<uint64_t>(mount_id);
}

}  // namespace

int IdentityAt(int dir_fd, const char* name, DirIdentity& out, MountIdSource source) {
  int flags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_SYNC_AS_STAT;
  if (name[0] == '\0') flags |= AT_EMPTY_PATH;
  struct statx sx;
  if (::statx(dir_fd, name, flags, STATX_TYPE | STATX_INO | STATX_MNT_ID, &sx) != 0) return errno;
  out = DirIdentity{};
  out.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  out.ino = static_cast<ino_t>(sx.stx_ino);
  if (source != MountIdSource::kHandleOnly) {
    if (sx.stx_mask & STATX_MNT_ID) out.mount_id = sx.stx_mnt_id;
    if (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) out.mount_root = (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  }
  if (!out.mount_id && source != MountIdSource::kStatxOnly) out.mount_id = MountIdFromHandle(dir_fd, name);
  return 0;
}

MountCrossing CrossingBetween(const DirIdentity& parent, const DirIdentity& child) {
  if (child.dev != parent.dev) return MountCrossing::kOtherFilesystem;
  if (child.mount_root) return MountCrossing::kMountPoint;
  if (child.mount_id && parent.mount_id && *child.mount_id != *parent.mount_id) return MountCrossing::kMountPoint;
  return MountCrossing::kNone;
}

std::string CrossingMessage(MountCrossing crossing, const DirIdentity& parent, const DirIdentity& child) {
  if (crossing == MountCrossing::kOtherFilesystem)
    return "on another filesystem (skipped mount point); not entered (one_file_system)";
  std::string ids;
  if (child.mount_id && parent.mount_id)
    ids = ", mount id " + std::to_string(*child.mount_id) + " under " + std::to_string(*parent.mount_id);
  return "skipped mount point (a bind mount from the same filesystem" + ids + "); not entered (one_file_system)";
}

}  // namespace nodeagent::logc
