// What a sysctl will be after the next boot. systemd-sysctl applies the
// sysctl.d drop-ins (conf_dirs.h) in file-name order, a later assignment of
// a key overriding an earlier one; a key with a glob applies only where no
// explicit assignment names the key; "-key" (no "=") keeps a key out of the
// globs. Debian links /etc/sysctl.d/99-sysctl.conf to /etc/sysctl.conf;
// without that link /etc/sysctl.conf is read last, as `sysctl --system` does.
// The check needs the winning assignment (file:line) and every later one
// that resets the value, so that a fix file can be named to sort after them
// and a reset it cannot beat is named to the operator.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/host.h"

namespace nodeagent::join_prep {

struct SysctlAssignment {
  std::string file;        ///< host path the line is in ("/etc/sysctl.d/10-x.conf")
  std::string order_name;  ///< the name that places it in the boot's order ("10-x.conf")
  int line = 0;            ///< 1-based
  std::string key;         ///< as written, without a leading '-'
  std::string value;       ///< trimmed
  bool glob = false;       ///< the key has *, ? or [
  bool exclusion = false;  ///< "-key" without "=": keeps globs off this key
};

/// Every assignment of every drop-in, in the order the boot applies them.
struct SysctlConfig {
  std::vector<SysctlAssignment> assignments;
  std::vector<std::string> files_read;  ///< host paths, in order
  std::vector<std::string> problems;    ///< unreadable files, lines that are not assignments
  bool sysctl_conf_linked = false;      ///< /etc/sysctl.conf is read through a sysctl.d link
};

/// The most lines read per file, and assignments kept in all.
inline constexpr size_t kMaxSysctlLinesPerFile = 10000;
inline constexpr size_t kMaxSysctlAssignments = 100000;

SysctlConfig ReadSysctlConfig(const FileSystem& files);

/// "net.ipv4.ip_forward" and "net/ipv4/ip_forward" -> "net/ipv4/ip_forward"
/// (sysctl.d(5): when the first separator is a dot, dots and slashes swap).
std::string NormalizeSysctlKey(std::string_view key);

/// The assignment that sets `key` at boot (nullopt: none does, the kernel's
/// default stays), and the assignments of it that come after the one whose
/// value is `wanted`... see BootValue.
struct SysctlBootValue {
  std::optional<SysctlAssignment> winner;
  /// Every assignment that applies to the key, in boot order (globs too).
  std::vector<SysctlAssignment> applying;
};
SysctlBootValue BootValue(const SysctlConfig& config, std::string_view key);

}  // namespace nodeagent::join_prep
