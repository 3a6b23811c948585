// Which kernel modules the next boot loads, and which are loaded now.
// systemd-modules-load reads the modules-load.d drop-ins (conf_dirs.h), one
// module name a line, '#' and ';' starting comments; Debian's /etc/modules
// is read through the /etc/modules-load.d/modules.conf link its systemd
// package ships (or, without the link, by kmod's init script). "Loaded now"
// is /proc/modules, or built in: /sys/module/NAME, or a line of
// /lib/modules/<release>/modules.builtin. The kernel check asks both
// questions for br_netfilter and overlay.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/host.h"

namespace nodeagent::join_prep {

/// Where a module is listed for boot.
struct ModuleListing {
  std::string file;  ///< host path
  int line = 0;
};

struct BootModules {
  std::map<std::string, ModuleListing> listed;  ///< module name ('-' as '_') -> first listing
  std::vector<std::string> files_read;
  std::vector<std::string> masked;              ///< drop-ins masked by a /dev/null link
  std::vector<std::string> problems;
};

inline constexpr size_t kMaxModuleLines = 10000;

/// The drop-ins' modules, plus /etc/modules when no drop-in links to it.
BootModules ReadBootModules(const FileSystem& files);

/// Module names compare with '-' and '_' the same (the kernel's rule).
std::string NormalizeModuleName(std::string_view name);

/// How a module is present in the running kernel, if it is.
enum class ModuleState { kAbsent, kLoaded, kBuiltin };
struct ModuleStatus {
  ModuleState state = ModuleState::kAbsent;
  std::string evidence;  ///< "/proc/modules", "/sys/module/overlay", "modules.builtin of 6.1.0-18-amd64"
  std::string problem;   ///< an unreadable /proc/modules, say
};
ModuleStatus LoadedModule(const FileSystem& files, std::string_view name);

}  // namespace nodeagent::join_prep
