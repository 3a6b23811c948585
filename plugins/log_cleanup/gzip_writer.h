// Compressing a log in place the way logrotate users expect (NAME -> NAME.gz,
// same mtime, mode and owner), done so that a crash never loses data: the .gz
// is written under a temporary name, fsynced, renamed into place through the
// directory descriptor and the directory fsynced, and only then is the
// original unlinked, after checking it did not change while it was read.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "nodeagent/result.h"

namespace nodeagent::logc {

struct GzipResult {
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
};

/// Compresses `name` in directory `dir_fd` into `name`.gz. `expected` is the
/// fstatat result the caller checked (regular file, identity, age): the file
/// opened must still be that file, and must not change while being read.
/// Fails with kAlreadyExists when `name`.gz exists (nothing is replaced),
/// kConflict when the file changed (the partial .gz is removed, the original
/// kept), kIo on OS errors (the original is always kept on failure).
Result<GzipResult> GzipFileAt(int dir_fd, const std::string& name, const struct stat& expected);

}  // namespace nodeagent::logc
