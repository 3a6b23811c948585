// The swap checks and fixes of join-prep. The kubelet refuses to start while
// swap is on unless failSwapOn is false, and kubeadm only warns about it, so
// a node that joins with swap on (or with swap set to come back at the next
// boot) fails later and far from the cause. This unit looks at every place
// swap comes from: the kernel now (/proc/swaps, kubeadm's `Swap` check),
// /etc/fstab, systemd swap units (installed, enabled, generated) and zram
// (zram-generator, zram-tools), and plans for each the fix that turns it off
// for good. It only reads; the fixes run later, in this order: swapoff,
// fstab, units, zram.
#pragma once

#include <vector>

#include "check.h"

namespace nodeagent::join_prep {

/// Check ids: `Swap` is kubeadm's (active now); the others are ours.
inline constexpr std::string_view kCheckSwap = "Swap";
inline constexpr std::string_view kCheckSwapFstab = "SwapFstab";
inline constexpr std::string_view kCheckSwapUnits = "SwapUnits";
inline constexpr std::string_view kCheckSwapZram = "SwapZram";

/// One result per source (and one warning per source that could not be
/// read), in the order their fixes must run. Swap on now or at boot is an
/// error unless the kubelet's failSwapOn is false (then a warning naming the
/// config that says so). Never throws; reads through in.host only.
std::vector<CheckResult> CheckSwap(const CheckInputs& in);

}  // namespace nodeagent::join_prep
