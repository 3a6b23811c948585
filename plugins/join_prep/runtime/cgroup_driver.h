// Which cgroup driver the container runtime uses, read from its config, and
// the edit that makes containerd's match the kubelet's. A kubelet on the
// systemd driver over a runtime on cgroupfs starts, then loses pods under
// load (two cgroup managers); kubeadm does not check it. The config is read
// with toml++ but never written back by it: the edit is a text edit of the
// one line (or the table) that matters, so every comment and every other
// line stays as the operator wrote it, and the result is parsed again to
// prove it says what we meant.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "nodeagent/file_edit.h"
#include "nodeagent/host.h"

namespace nodeagent::join_prep {

inline constexpr std::string_view kContainerdConfig = "/etc/containerd/config.toml";
inline constexpr std::string_view kCrioConfig = "/etc/crio/crio.conf";
inline constexpr std::string_view kCrioConfigDir = "/etc/crio/crio.conf.d";

/// What a runtime's config says about its cgroup driver.
struct RuntimeCgroup {
  std::string driver;    ///< "systemd" or "cgroupfs"; "" when the config could not be read
  std::string source;    ///< "/etc/containerd/config.toml:12" or "containerd's default (no config file)"
  std::string problem;   ///< unparseable (file:line:col) or not understood; no edit then
  std::string note;      ///< said along (imports not followed...)
  std::string cri_disabled;  ///< containerd's disabled_plugins names the CRI plugin (file:line: ...)
  int config_version = 0;  ///< containerd's `version` (1 when absent)
};

/// containerd's SystemdCgroup for the CRI plugin's default runtime (runc
/// unless default_runtime_name says otherwise): version 2 configs
/// (containerd 1.x) under plugins."io.containerd.grpc.v1.cri", version 3
/// (2.x) under plugins.'io.containerd.cri.v1.runtime'. `text` nullopt: no
/// config file, containerd's default (cgroupfs).
RuntimeCgroup ContainerdCgroup(const std::optional<std::string>& text);

/// The text of containerd's config with SystemdCgroup set to `systemd`:
/// the value changed in place, or the key inserted under its table header,
/// or the table appended. nullopt, with *why, when no safe edit exists
/// (unparseable, the table defined inline, version 1...). A missing file
/// becomes a minimal config of `new_file_version` (2 or 3).
std::optional<std::string> EditContainerdCgroup(const std::optional<std::string>& text, bool systemd,
                                                int new_file_version, std::string* why);

/// CRI-O's cgroup_manager: crio.conf, then the crio.conf.d drop-ins in
/// name order, a later one overriding; default "systemd".
RuntimeCgroup CrioCgroup(const FileSystem& files);

}  // namespace nodeagent::join_prep
