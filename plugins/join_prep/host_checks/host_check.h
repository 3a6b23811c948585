// The host-side preflight checks kubeadm runs before a join (the binaries it
// needs in PATH, the kubelet unit, free ports, the node name, the
// control-plane minimums, leftovers of an earlier join) plus a few of ours
// (the clock synchronised, the node's identity unique in the cluster), all
// answered by looking only: files under the root, read-only commands
// (systemctl is-enabled, timedatectl show, chronyc tracking), the kernel's
// socket tables, the resolver (through EndpointProbe) and, when there is a
// cluster client, a list of Nodes. Ids and severities are kubeadm's where
// kubeadm has the check (cmd/kubeadm/app/preflight/checks.go), so an
// --ignore-preflight-errors list means the same here.
#pragma once

#include <string>
#include <vector>

#include "check.h"
#include "discovery/endpoint_probe.h"

namespace nodeagent::join_prep {

/// kubeadm's control-plane minimums (constants.ControlPlaneNumCPU, ControlPlaneMem).
inline constexpr int kControlPlaneMinCpus = 2;
inline constexpr long kControlPlaneMinMemoryMB = 1700;

/// Where executables are looked up, under the root (a service's PATH).
inline constexpr const char* kExecutableDirs[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                                                  "/usr/bin",        "/sbin",           "/bin"};

/// One executable kubeadm looks up with InPathCheck (FileExisting-<name>).
struct RequiredExecutable {
  const char* name;
  CheckSeverity severity;  ///< kubeadm: mandatory -> error, else warning
};
/// kubeadm's list for join (checks_linux.go addExecChecks; conntrack only
/// for Kubernetes < 1.32, which join does not know: not checked), and the
/// kubelet (ours: kubeadm's KubeletVersion runs `kubelet --version`).
inline constexpr RequiredExecutable kRequiredExecutables[] = {
    {"ip", CheckSeverity::kError},          {"iptables", CheckSeverity::kError},
    {"mount", CheckSeverity::kError},       {"nsenter", CheckSeverity::kError},
    {"ebtables", CheckSeverity::kWarning},  {"ethtool", CheckSeverity::kWarning},
    {"socat", CheckSeverity::kWarning},     {"tc", CheckSeverity::kWarning},
    {"touch", CheckSeverity::kWarning},     {"kubelet", CheckSeverity::kError},
};

/// The node name kubeadm would register: options.node_name, else the
/// hostname lowercased (kubeadm's GetHostname). Empty when neither is known.
std::string EffectiveNodeName(Host& host, const std::string& configured);

/// Every host finding, resolving names with the real resolver.
std::vector<CheckResult> CheckHost(const CheckInputs& in);
/// The same with `probe` for name resolution (a fake in unit tests).
std::vector<CheckResult> CheckHost(const CheckInputs& in, EndpointProbe& probe);

// The parts, each also callable alone.
std::vector<CheckResult> CheckExecutables(const FileSystem& files);
CheckResult CheckKubeletService(CommandRunner& commands);
std::vector<CheckResult> CheckPorts(const FileSystem& files, const std::vector<int>& ports);
std::vector<CheckResult> CheckNodeName(const std::string& node_name, EndpointProbe& probe);
CheckResult CheckTimeSync(CommandRunner& commands);
std::vector<CheckResult> CheckControlPlaneResources(const FileSystem& files);
std::vector<CheckResult> CheckLeftovers(const FileSystem& files, bool control_plane);

/// The ports a role needs free: 10250; a control plane also 6443, 10259,
/// 10257, 2379, 2380 (kubeadm's Port-N checks).
std::vector<int> PortsToBeFree(bool control_plane);

}  // namespace nodeagent::join_prep
