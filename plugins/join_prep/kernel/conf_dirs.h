// The drop-in directories that systemd-sysctl and systemd-modules-load read
// at boot (sysctl.d(5), modules-load.d(5)): the same four directories, files
// sorted by name across all of them, a file in an earlier directory hiding a
// same-named one in a later directory, a symlink to /dev/null masking it.
// Both kernel checks must see exactly the files the boot will read, in the
// boot's order, or a "persisted" verdict means nothing; this unit is that
// one listing, read through the host seam.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/host.h"

namespace nodeagent::join_prep {

/// One drop-in the boot would read (or that is masked).
struct ConfFile {
  std::string name;   ///< "99-sysctl.conf"
  std::string path;   ///< the host path that wins for this name
  bool masked = false;  ///< a symlink to /dev/null (or the null device): read as empty
  std::vector<std::string> shadowed;  ///< same-named files in later directories, not read
};

/// The most drop-ins read per directory; more is reported, not read.
inline constexpr size_t kMaxConfFilesPerDir = 1000;

/// The directories of sysctl.d(5) / modules-load.d(5), highest precedence first.
std::vector<std::string> ConfDirs(std::string_view subdir);  // "sysctl.d" -> /etc/sysctl.d, /run/..., ...

/// The *.conf files of `dirs` in the boot's order (by file name), each name
/// taken from the first directory that has it. Unreadable directories other
/// than missing ones are listed in `problems`.
std::vector<ConfFile> ListConfFiles(const FileSystem& files, const std::vector<std::string>& dirs,
                                    std::vector<std::string>* problems);

/// Whether the path is a mask: a symlink to /dev/null, or the null device.
bool IsMasked(const FileSystem& files, const std::string& path);

/// The lines of a config text, without their newline ("\r" dropped too);
/// at most `max_lines` (the rest is dropped and *truncated set).
std::vector<std::string> SplitLines(std::string_view text, size_t max_lines, bool* truncated);

/// `s` without leading and trailing blanks (space, tab, CR).
std::string_view Trim(std::string_view s);

}  // namespace nodeagent::join_prep
