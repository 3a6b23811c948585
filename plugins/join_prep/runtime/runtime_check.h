// The container-runtime side of join-prep: is there exactly one CRI socket
// (or the one the operator named), does a runtime answer on it, and does its
// cgroup driver match the kubelet's. kubeadm checks the first two (its "CRI"
// check, and its refusal of several sockets); the third it leaves to the
// operator, and a mismatch shows only later as pods killed under pressure.
// The fix edits containerd's config.toml by one line and restarts containerd.
#pragma once

#include <vector>

#include "check.h"

namespace nodeagent::join_prep {

/// "CRI" (kubeadm's id: the socket, and a runtime answering on it) and
/// "CgroupDriver" (ours: the runtime's driver against the kubelet's).
/// Reads only: files, `crictl info` and `containerd --version` (read-only),
/// and a connect(2) to the socket when crictl is missing.
std::vector<CheckResult> CheckRuntime(const CheckInputs& in);

}  // namespace nodeagent::join_prep
