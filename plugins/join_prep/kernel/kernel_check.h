// The kernel side of join-prep: the modules and sysctls a Kubernetes node
// needs, both as they are now and as the next boot will set them. kubeadm
// checks only the value now (and, since v1.30, only ip_forward); a node that
// passes until its first reboot is the common failure, so every check here
// has a "now" result and a "persist" result, and the fixes write our own
// drop-in files (named to win the boot's ordering) plus the value now.
#pragma once

#include <string_view>
#include <vector>

#include "check.h"

namespace nodeagent::join_prep {

/// The modules a node needs loaded: br_netfilter (bridged traffic through
/// iptables, for kube-proxy and Calico) and overlay (containerd's and CRI-O's
/// overlayfs snapshotter).
inline constexpr std::string_view kRequiredModules[] = {"br_netfilter", "overlay"};
/// Our drop-ins. The sysctl one sorts after /etc/sysctl.d/99-sysctl.conf.
inline constexpr std::string_view kModulesDropIn = "/etc/modules-load.d/nodeagent-kubernetes.conf";
inline constexpr std::string_view kSysctlDropInName = "99-zz-nodeagent-kubernetes.conf";
inline constexpr std::string_view kSysctlDropIn = "/etc/sysctl.d/99-zz-nodeagent-kubernetes.conf";

/// One result per module loaded now (KernelModule-NAME), one for the modules
/// the boot loads (KernelModulesPersist), one per sysctl now (kubeadm's
/// FileContent-- ids: ip_forward, the two bridge-nf-call ones, and IPv6
/// default forwarding when options.endpoint is IPv6) and one for the sysctls
/// after boot (SysctlPersist). Results come in that order: the module fixes
/// run before the bridge sysctl fixes that need the module loaded.
/// Reads only: files under the host root.
std::vector<CheckResult> CheckKernel(const CheckInputs& in);

}  // namespace nodeagent::join_prep
