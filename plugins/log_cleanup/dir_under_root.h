// Opens the directories log-cleanup is configured with (and the parents of
// its globs) under the agent root. Root walks paths that services can write:
// if /var/log, or any other component on the way to a configured directory,
// were a symlink, following it would clean a directory nobody configured, or
// one outside the root. So every component is resolved without following a
// symlink and without leaving the root: one openat2 call with RESOLVE_IN_ROOT
// | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS relative to a descriptor of the
// root (Linux 5.6+), or, on kernels without openat2, one openat(O_NOFOLLOW)
// per component. A symlinked component is named in the error, never followed.
#pragma once

#include <string>
#include <string_view>

#include "nodeagent/result.h"

namespace nodeagent::logc {

/// Which call resolves the path: openat2 (falling back to the component walk
/// when the kernel has no openat2), or only the component walk (tests).
enum class ResolveMethod { kOpenat2, kComponentWalk };

/// Opens `host_path` (absolute, no "." or ".." components; "/" is the root
/// itself) as a directory below the directory descriptor `root_fd`, for
/// reading. Mount points on the way are crossed (a configured path may live
/// on its own filesystem). Returns the descriptor, which the caller owns.
/// Errors: kNotFound ("does not exist"); kInvalidArgument when a component is
/// a symlink ("/var/log is a symlink; not followed ...") or not a directory;
/// kPermissionDenied; kIo for anything else.
Result<int> OpenDirUnderRoot(int root_fd, std::string_view host_path,
                             ResolveMethod method = ResolveMethod::kOpenat2);

}  // namespace nodeagent::logc
