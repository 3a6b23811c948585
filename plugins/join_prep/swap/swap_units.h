// systemd swap units that would turn swap on at boot, or hold it on now.
// Swap comes back through systemd in three ways besides an fstab line the
// operator can see: a *.swap unit file someone installed and enabled, a
// unit a generator wrote into /run/systemd/generator (fstab, zram), and a
// wants/requires link that pulls either into swap.target. This unit reads
// the unit directories itself (so it works on a root prefix and on hosts
// where systemd is not PID 1) and adds what systemctl says when it can
// (generated and runtime units, active state), each failure a problem with
// the command and its stderr, never a guess.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/host.h"

namespace nodeagent::join_prep {

/// The unit directories of the system manager, highest precedence first
/// (systemd.unit(5), "System Unit Search Path"); /lib/systemd/system is
/// read only where /lib is not a link to /usr/lib.
extern const std::vector<std::string_view> kUnitDirs;

/// At most this many names are read from one directory.
inline constexpr size_t kMaxUnitDirEntries = 20000;

struct UnitFileState {
  std::string name;      ///< "dev-sda2.swap", "zramswap.service"
  std::string fragment;  ///< host path of the file that wins ("" when none was found)
  bool masked = false;   ///< the winning file is a link to /dev/null or empty
  /// Host paths of the wants/requires links naming the unit
  /// ("/etc/systemd/system/swap.target.wants/swapfile.swap").
  std::vector<std::string> wanted_by;
  std::string unit_file_state;  ///< systemctl list-unit-files ("enabled", "generated"); "" unknown
  std::string load_state;       ///< systemctl list-units ("loaded", "masked"); "" not listed
  std::string active_state;     ///< systemctl list-units ("active", "inactive"); "" not listed

  bool IsMasked() const;
  /// Not masked and pulled in at boot (a wants/requires link, or enabled).
  bool StartsAtBoot() const;
  bool ActiveNow() const { return active_state == "active" || active_state == "activating"; }
  /// A unit systemd loads from a file (not only a runtime unit for an
  /// active device): the kind `systemctl mask` can override.
  bool HasUnitFile() const { return !fragment.empty() || !unit_file_state.empty(); }
  /// The fragment is a plain file in /etc/systemd/system: `systemctl mask`
  /// refuses to replace it, `systemctl disable` is the way.
  bool DefinedInEtc() const;
};

struct UnitScan {
  std::vector<UnitFileState> units;  ///< sorted by name
  /// What could not be read: "cannot list /etc/systemd/system: ...",
  /// "systemctl list-units ... exited 1: System has not been booted ...".
  std::vector<std::string> problems;
};

/// Reads the unit directories for units whose name `matches`, with their
/// masks and wants/requires links. Read-only.
UnitScan ScanUnitFiles(const FileSystem& files, const std::function<bool(std::string_view)>& matches);

/// ScanUnitFiles for *.swap, plus the state systemctl reports
/// (`systemctl list-unit-files --type swap`, `systemctl list-units --type
/// swap --all`, both read-only).
UnitScan ScanSwapUnits(Host& host);

/// Parses `systemctl list-unit-files --no-legend` text: "NAME STATE [PRESET]".
std::vector<std::pair<std::string, std::string>> ParseListUnitFiles(std::string_view text);
struct ListedUnit {
  std::string name, load, active, sub;
};
/// Parses `systemctl list-units --no-legend --plain` text ("NAME LOAD ACTIVE
/// SUB DESCRIPTION..."); a leading "●" (failed units without --plain) is skipped.
std::vector<ListedUnit> ParseListUnits(std::string_view text);

/// Runs a read-only command; its stdout, or a problem naming the command
/// and its stderr (or that it could not be started). With
/// `quiet_exit1_is_empty`, exit 1 with no output at all is an empty answer
/// (systemctl list-unit-files when nothing matches).
Result<std::string> RunReadOnly(Host& host, std::vector<std::string> argv, bool quiet_exit1_is_empty = false);

}  // namespace nodeagent::join_prep
