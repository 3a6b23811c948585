// The two ActionSpec rows of the join_prep plugin. join-prep runs every
// preflight check, plans the fixes the operator allows (a diff per file, the
// exact commands) and, unless it is a dry run, carries them out and checks
// again; it changes nothing disruptive, so it may be scheduled to catch drift
// on joined nodes. join does the same, stops while an error remains, then
// runs `kubeadm join` with a private JoinConfiguration and waits for the Node
// to be Ready.
#pragma once

#include <span>

#include "nodeagent/action.h"

namespace nodeagent::join_prep {

std::span<const ActionSpec> JoinPrepActionSpecs();

}  // namespace nodeagent::join_prep
