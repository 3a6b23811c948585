// What the kubelet this node will run is configured to do, read before the
// join: swap is fatal to a kubelet with failSwapOn (its default) and the
// runtime's cgroup driver must match the kubelet's cgroupDriver. After a join
// the kubelet reads /var/lib/kubelet/config.yaml, which kubeadm writes from
// the cluster's kube-system/kubelet-config ConfigMap; so that file is asked
// first (a node joined before, or prepared by hand), then the ConfigMap
// (when a kubeconfig is usable), else the kubelet's defaults are assumed and
// said so. Only the two top-level scalars the checks need are read, from
// YAML as kubeadm writes it or from JSON: no YAML library in the plugin.
#pragma once

#include <string>
#include <string_view>

#include "check.h"

namespace nodeagent::join_prep {

inline constexpr std::string_view kKubeletConfigPath = "/var/lib/kubelet/config.yaml";

/// failSwapOn and cgroupDriver from a KubeletConfiguration document (YAML or
/// JSON); `source` names it in messages. Keys it does not find keep the
/// kubelet's defaults; `known` is true. A document it cannot read sets
/// `problem` (with the line) and keeps the defaults.
KubeletConfigView ParseKubeletConfig(std::string_view text, std::string source);

/// The local file, else the ConfigMap through `kube` (may be null), else the
/// defaults with `known` false.
KubeletConfigView ReadKubeletConfig(const FileSystem& files, KubeClient* kube);

}  // namespace nodeagent::join_prep
