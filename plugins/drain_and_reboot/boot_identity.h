// How drain-and-reboot knows that this node rebooted and that its Node came
// back, without trusting one file that a sandbox or a container can hide. In
// a systemd-nspawn container, nspawn mounts a per-boot file over
// /proc/sys/kernel/random/boot_id, and a unit with ProtectControlGroups=yes
// sees the host's id instead, which stays the same across container reboots.
// So this node's boot is identified by the kernel boot id and PID 1's start
// time together (either changing means a reboot), and the Node's return by
// what the kubelet reports: a nodeInfo.bootID different from the one recorded
// before the reboot, or (when the kubelet cannot see the container's boot) a
// Ready condition that went through a transition since. Pure functions over
// the host seam and Node JSON, so every branch is unit-tested.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "nodeagent/host.h"

namespace nodeagent::drain {

/// This node's boot as the agent can see it.
struct BootIdentity {
  std::string kernel_boot_id;  // /proc/sys/kernel/random/boot_id
  std::string pid1_start;      // field 22 of /proc/1/stat (clock ticks after the kernel booted); "" when unreadable
};

/// Reads both through the host seam (under its root prefix). Error only when
/// the kernel boot id cannot be read; an unreadable /proc/1/stat leaves
/// pid1_start empty.
Result<BootIdentity> ReadBootIdentity(Host& host);

/// starttime (field 22) of a /proc/PID/stat line; nullopt when malformed.
/// The command name (field 2) may hold spaces and parentheses.
std::optional<std::string> StartTimeFromStat(std::string_view stat);

/// What shows that `now` is a later boot than `before` ("kernel boot id A -> B"
/// or "PID 1 start time X -> Y"), or "" when nothing does. A part unknown on
/// either side is not compared.
std::string BootChange(const BootIdentity& before, const BootIdentity& now);

/// What the Node reported before our reboot, kept in the run's checkpoint.
struct NodeBootRecord {
  bool recorded = false;  // false: a checkpoint from before this record existed
  std::string boot_id;          // status.nodeInfo.bootID
  std::string ready_transition;  // lastTransitionTime of the Ready condition
};

NodeBootRecord RecordNodeBoot(const nlohmann::json& node);

/// Why `node` counts as back from our reboot, or "" while it does not. It must
/// be Ready, and then: its bootID differs from the recorded one; or, with no
/// record, it equals `local_kernel_boot_id`; or, when its bootID shows nothing
/// (empty or unchanged), its Ready condition changed since the record.
std::string NodeBackReason(const nlohmann::json& node, const NodeBootRecord& before,
                           const std::string& local_kernel_boot_id);

}  // namespace nodeagent::drain
