// One preflight check's verdict and the fix that would clear it. Every check
// unit (swap, firewall, kernel, runtime, discovery, host) answers with a list
// of CheckResult; the actions (join_prep_actions) filter them by the
// operator's `ignore` and `fix` lists, turn the fixes into plan changes (a
// diff per file, the exact command lines), carry them out in Apply and check
// again. Ids follow kubeadm's preflight names where kubeadm has the check
// ("Swap", "Port-10250", "FileContent--proc-sys-net-ipv4-ip_forward") so that
// an operator's --ignore-preflight-errors list means the same here.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeagent/action.h"
#include "nodeagent/file_edit.h"
#include "nodeagent/host.h"

namespace nodeagent {
class KubeClient;
}

namespace nodeagent::join_prep {

struct JoinOptions;

/// kubeadm's meaning: an error blocks the join, a warning does not.
enum class CheckSeverity { kError, kWarning };
enum class CheckStatus { kPass, kFail, kFixed, kIgnored };

const char* CheckSeverityName(CheckSeverity s);  // "error", "warning"
const char* CheckStatusName(CheckStatus s);      // "pass", "fail", "fixed", "ignored"

/// The fix ids an operator may list in `fix` (default: all of them).
inline constexpr std::string_view kFixSwapoff = "swapoff";            // swapoff each active device
inline constexpr std::string_view kFixFstabSwap = "fstab-swap";       // comment out fstab swap lines
inline constexpr std::string_view kFixSwapUnits = "swap-units";       // mask swap units
inline constexpr std::string_view kFixZram = "zram";                  // disable zram swap config
inline constexpr std::string_view kFixFirewall = "firewall";          // open the required ports
inline constexpr std::string_view kFixModules = "kernel-modules";     // modules-load.d file + modprobe
inline constexpr std::string_view kFixSysctl = "sysctl";              // sysctl.d file + value now
inline constexpr std::string_view kFixCgroupDriver = "containerd-cgroup";  // SystemdCgroup = true + restart
inline constexpr std::string_view kFixIds[] = {kFixSwapoff, kFixFstabSwap,  kFixSwapUnits,    kFixZram,
                                               kFixFirewall, kFixModules,   kFixSysctl,       kFixCgroupDriver};

/// One thing a fix does, in order. Each becomes one Change of the plan.
struct FixStep {
  enum class Kind {
    kEditFile,     ///< `edit` (file_edit.h): diff in the plan, atomic write with a backup
    kWriteInPlace, ///< `path` gets `content` (a /proc/sys value) via FileSystem::WriteInPlace
    kCommand,      ///< `argv` runs (not read-only); a non-zero exit fails the step
  };
  Kind kind = Kind::kCommand;
  FileEdit edit;
  std::string path;
  std::string content;
  std::vector<std::string> argv;
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  /// One line for the plan ("swapoff /dev/sda2", "mask dev-sda2.swap").
  std::string description;

  static FixStep Edit(FileEdit edit, std::string description = "");
  static FixStep WriteNow(std::string path, std::string content, std::string description = "");
  static FixStep Run(std::vector<std::string> argv, std::string description = "");
};

struct Fix {
  std::string id;  ///< one of kFixIds
  std::vector<FixStep> steps;
  /// Said after the fix (e.g. "applied at runtime only: add ... to /etc/nftables.conf").
  std::string warning;
};

struct CheckResult {
  std::string id;  ///< "Swap", "Port-10250", "FileExisting-iptables", ours: "SwapFstab"
  CheckSeverity severity = CheckSeverity::kError;
  CheckStatus status = CheckStatus::kPass;
  std::string message;  ///< what is wrong (or, when it passes, what was seen)
  std::string hint;     ///< what an operator does about it when no fix applies
  std::optional<Fix> fix;
  /// Machine-readable detail for -o json (the fstab lines, the verdicts...).
  nlohmann::json detail = nlohmann::json::object();

  static CheckResult Pass(std::string id, std::string message = "");
  static CheckResult Fail(std::string id, CheckSeverity severity, std::string message, std::string hint = "");
};

/// What the kubelet this node will run is configured to do, as far as it
/// is known before the join (kubelet_config.h reads it: the local
/// /var/lib/kubelet/config.yaml, else the cluster's kube-system/kubelet-config
/// ConfigMap). Unknown values take the kubelet's defaults.
struct KubeletConfigView {
  bool known = false;        ///< false: no config found, defaults assumed
  std::string source;        ///< "/var/lib/kubelet/config.yaml", "configmap kube-system/kubelet-config"
  bool fail_swap_on = true;  ///< failSwapOn (kubelet default true)
  std::string cgroup_driver = "systemd";  ///< cgroupDriver as kubeadm sets it (default "systemd" since 1.22)
  std::string problem;       ///< why it could not be read, when it could not ("" otherwise)
};

/// What every check unit gets: the host seam (read-only while planning),
/// the options and, when a kubeconfig is usable, the cluster (else null).
struct CheckInputs {
  Host& host;
  const JoinOptions& options;
  KubeClient* kube = nullptr;
  KubeletConfigView kubelet;
};

/// The plan's Change for a step (FileEditChange for an edit; "run" with the
/// command line and the program as object; "write" for an in-place write).
Change StepChange(const FixStep& step);
/// Carries a step out through the host seam. A command that exits non-zero
/// is an error quoting its stderr's last line.
Status ApplyStep(Host& host, const FixStep& step);

/// argv joined for display, each word quoted when it needs it.
std::string CommandLine(const std::vector<std::string>& argv);

}  // namespace nodeagent::join_prep
