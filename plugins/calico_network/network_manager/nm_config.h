// NetworkManager must leave Calico's interfaces (cali*, tunl0, vxlan.calico,
// the WireGuard devices) alone, or it flushes their routes and addresses. What
// it leaves alone is decided by its configuration spread over several
// directories, merged in a fixed order with masking and `key+=`/`key-=` list
// edits (NetworkManager.conf(5)). This unit is that merge, read through the
// host seam without running NetworkManager: the effective
// `[keyfile] unmanaged-devices` list and `[device*]` sections, whether an
// interface name is unmanaged, and the one drop-in file that fixes it while
// keeping every device other files already made unmanaged.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/file_edit.h"
#include "nodeagent/host.h"
#include "nodeagent/result.h"

namespace nodeagent::calico {

/// Where NetworkManager reads its configuration (the defaults of Debian 12's
/// NetworkManager 1.42, i.e. no --config / --config-dir options).
struct NmConfLayout {
  std::string main_file = "/etc/NetworkManager/NetworkManager.conf";
  std::string system_dir = "/usr/lib/NetworkManager/conf.d";  ///< read first
  std::string run_dir = "/run/NetworkManager/conf.d";         ///< read second
  std::string etc_dir = "/etc/NetworkManager/conf.d";         ///< read after the main file
};

/// Bounds: files taken per directory, lines parsed per file.
inline constexpr size_t kMaxNmConfFilesPerDir = 1000;
inline constexpr size_t kMaxNmConfLines = 10000;

/// A line NetworkManager would refuse to load (it then fails to start).
struct NmParseError {
  std::string path;
  size_t line = 0;  ///< 1-based; 0 for the whole file (e.g. too long)
  std::string message;
  std::string Text() const;  ///< "path:line: message"
};

/// One `[device*]` section after the merge, in NetworkManager's lookup order.
struct NmDeviceSection {
  std::string name;  ///< "device", "device-calico", ...
  std::string file;  ///< the last file that set a key in it
  std::vector<std::string> match_device;  ///< the specs; empty: matches every device
  std::optional<bool> managed;
  bool stop_match = false;
};

/// The configuration NetworkManager would load.
struct NmConfig {
  std::vector<std::string> files_read;  ///< in reading order
  std::vector<std::string> shadowed;    ///< same-named files not read (masked by /etc or /run)
  std::vector<std::string> disabled;    ///< files skipped by `[.config] enable=false`
  /// The merged `[keyfile] unmanaged-devices` specs; nullopt when never set.
  std::optional<std::vector<std::string>> unmanaged_devices;
  /// Every file that set `unmanaged-devices=` (plain, replacing the list), in order.
  std::vector<std::string> unmanaged_replaced_by;
  /// Every file that removed specs from it (`unmanaged-devices-=`), in order.
  std::vector<std::string> unmanaged_removed_by;
  std::vector<NmDeviceSection> device_sections;
  std::vector<NmParseError> errors;   ///< files with errors are not merged
  std::vector<std::string> problems;  ///< unreadable directories, bounds hit, ...

  bool ok() const { return errors.empty(); }
};

/// Extra or replacing file contents (host path -> content), used to simulate
/// a planned file in place before writing it.
using NmOverlay = std::map<std::string, std::string>;

/// Reads and merges the configuration the way NetworkManager 1.42 does
/// (checked against its `NetworkManager --print-config`): /usr/lib conf.d
/// files by name, then /run's, then the main file (missing is fine), then
/// /etc's; a name in /etc hides it in /run and /usr/lib, /run hides
/// /usr/lib; every name ending in ".conf" counts, hidden ones too; a drop-in
/// that is not a regular file (a link to /dev/null, a directory) is an error,
/// as NetworkManager refuses to start on it. Unlike NetworkManager, invalid
/// UTF-8 anywhere in a file is an error here (NetworkManager loads it).
NmConfig ReadNmConfig(const FileSystem& files, const NmConfLayout& layout = {}, const NmOverlay& overlay = {});

/// Parses one file's text and merges it into `config` (used by ReadNmConfig;
/// exposed for tests). A file with an error is not merged at all.
void MergeNmConfFile(NmConfig& config, const std::string& path, std::string_view text);

/// Splits a device-spec list the way NetworkManager does: ',' or ';'
/// separators, backslash escapes (\, \; \s \t \n \\), blanks trimmed.
std::vector<std::string> SplitDeviceSpecs(std::string_view value);

/// What a spec list says about an interface known only by its name.
enum class SpecMatch {
  kNoMatch,
  kMatch,
  kExcluded,  ///< an `except:` spec matches: wins over every positive match
};

/// Matches `specs` against an interface name. `*`, a bare name,
/// `interface-name:[~|=]NAME` (globs `*` and `?`) and `except:` are
/// evaluated; mac:, type:, driver:, s390-subchannels: and bare MAC addresses
/// cannot be known from a name and never match (nor exclude). A list of only
/// `except:` specs matches every name not excluded.
SpecMatch MatchDeviceSpecs(const std::vector<std::string>& specs, std::string_view ifname);

/// Why an interface is (un)managed by the configuration.
struct NmVerdict {
  bool unmanaged = false;
  std::string reason;  ///< "keyfile.unmanaged-devices (…)", "[device-x] managed=false in …", "no rule"
};

/// Whether NetworkManager leaves the interface alone: matched by
/// `[keyfile] unmanaged-devices`, or the first `[device*]` section that
/// matches and sets `managed` says false.
NmVerdict IsUnmanaged(const NmConfig& config, std::string_view ifname);

/// The specs Calico's interfaces need (Calico's documented NetworkManager drop-in).
std::vector<std::string> DefaultCalicoSpecs();

/// An interface name a spec stands for ("interface-name:cali*" -> "cali0123abcd");
/// empty for specs that are not about names.
std::string SampleInterfaceName(std::string_view spec);

struct NmCoverage {
  std::string spec;
  bool covered = false;
  std::string reason;
};

/// For each spec, whether the interface it stands for is unmanaged.
std::vector<NmCoverage> CheckCoverage(const NmConfig& config, const std::vector<std::string>& specs);

struct NmFixOptions {
  NmConfLayout layout;
  std::string file_name = "calico.conf";  ///< our drop-in in layout.etc_dir
  std::vector<std::string> specs = DefaultCalicoSpecs();
};

/// The planned drop-in. `edit` is unset when nothing needs to change.
struct NmFixPlan {
  std::optional<FileEdit> edit;
  std::string path;                ///< the drop-in chosen (even when no edit)
  std::vector<std::string> notes;  ///< e.g. which later file forced another name
};

/// Plans the drop-in making every spec covered while keeping what other files
/// made unmanaged: `unmanaged-devices+=` in `file_name`, or in a name sorting
/// after the last /etc drop-in that replaces the list (`unmanaged-devices=`)
/// or removes from it. Verified by merging again with the file in place.
/// InvalidArgument when a file has parse errors (naming file:line; nothing is
/// planned then) or when no drop-in can make it right (e.g. an `except:` spec
/// read after ours), naming the specs left uncovered.
Result<NmFixPlan> PlanNmFix(const FileSystem& files, const NmFixOptions& options = {});

}  // namespace nodeagent::calico
