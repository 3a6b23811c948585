// The five ActionSpec rows of the drain_and_reboot plugin (cordon, uncordon,
// drain, drain-and-reboot, reboot-if-required): thin Action classes that read
// the options, take the seams from the context (KubeClient for the API
// server, HttpClient for webhooks and Prometheus) and hand over to
// RebootCoordinator.
#pragma once

#include <span>

#include "nodeagent/action.h"

namespace nodeagent::drain {

std::span<const ActionSpec> DrainActionSpecs();

}  // namespace nodeagent::drain
