// zram swap that comes back at boot. Two tools set it up on the nodes we
// meet: systemd's zram-generator (Fedora, newer Ubuntu/Debian), which turns
// each [zramN] section of its merged configuration into a dev-zramN.swap
// unit at every boot, and Debian's zram-tools, whose zramswap.service runs
// `zramswap start` with /etc/default/zramswap. This unit works out, the way
// each tool does, which zram swap devices the next boot will create, and
// builds the fix: for zram-generator a drop-in that sets
// host-memory-limit = 0 for each such device (the generator then skips it,
// leaves every other section and the operator's files alone, and deleting
// one file undoes it); for zram-tools `systemctl disable --now`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/host.h"

namespace nodeagent::join_prep {

/// Our drop-in: named to sort after the usual "NN-name.conf" drop-ins,
/// since zram-generator applies drop-ins in file name order.
inline constexpr std::string_view kZramNoSwapDropIn = "/etc/systemd/zram-generator.conf.d/zz-nodeagent-no-swap.conf";

/// At most this many lines per configuration file, this many drop-ins.
inline constexpr size_t kMaxZramConfigLines = 5000;
inline constexpr size_t kMaxZramDropIns = 200;

struct ZramDevice {
  std::string name;                 ///< "zram0"
  bool swap = true;                 ///< no mount-point= and fs-type= unset or "swap"
  bool created = true;              ///< the generator creates it at boot (limit and size allow it)
  std::string why_not;              ///< when !created: "host-memory-limit = 0", "size 0"
  std::vector<std::string> set_in;  ///< the files that configure it, in the order applied
  // The settings that decide, as last set.
  std::optional<std::string> host_memory_limit, zram_size, zram_fraction, max_zram_size, mount_point, fs_type;
};

struct ZramGeneratorView {
  std::string generator;                 ///< host path of the generator binary; "" not installed
  bool generator_masked = false;         ///< a /dev/null link in /etc or /run system-generators
  std::string kernel_setting;            ///< "systemd.zram=0" from /proc/cmdline, if any
  std::vector<std::string> files;        ///< configuration files read, in the order applied
  std::vector<ZramDevice> devices;       ///< sorted by name
  std::vector<std::string> already_off;  ///< sections in our drop-in
  std::vector<std::string> problems;     ///< "FILE:LINE: ..." or "cannot read FILE: ..."

  bool Active() const { return !generator.empty() && !generator_masked && kernel_setting != "systemd.zram=0"; }
  /// Swap devices the next boot creates (empty when the generator does not run).
  std::vector<const ZramDevice*> SwapAtBoot() const;
};

/// Reads the generator's binary, configuration (zram-generator.conf(5):
/// the main file from /run, /etc, /usr/local/lib or /usr/lib, whichever
/// exists first, then the *.conf drop-ins of all four by file name, a
/// same-named file in a later directory replacing an earlier one, a
/// /dev/null link removing it), /proc/cmdline and /proc/meminfo. Read-only.
ZramGeneratorView ReadZramGenerator(const FileSystem& files);

/// Our drop-in's content that turns off `devices` (plus those it already
/// turned off).
std::string ZramNoSwapDropInContent(const std::vector<std::string>& devices);

struct ZramToolsView {
  bool config_present = false;  ///< /etc/default/zramswap exists
  std::string fragment;         ///< zramswap.service's unit file ("" none)
  bool masked = false;
  std::vector<std::string> wanted_by;  ///< its wants links
  std::vector<std::string> problems;

  bool StartsAtBoot() const { return !fragment.empty() && !masked && !wanted_by.empty(); }
};

ZramToolsView ReadZramTools(const FileSystem& files);

}  // namespace nodeagent::join_prep
