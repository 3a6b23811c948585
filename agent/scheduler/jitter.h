// Spreading a cluster's nodes out. When every node runs "0 3 * * *", they all
// hit the API server and the registry at once; Jitter gives each (task, node,
// due time) a stable offset instead of a random one, so the spread is the same
// after a restart and tests can predict it.
#pragma once

#include <chrono>
#include <string_view>

#include "scheduler/time_zone.h"

namespace nodeagent {

/// A deterministic offset in [0, max_jitter) from a hash of the task name, the
/// node name and the due time (at second resolution). Zero when max_jitter <= 0.
std::chrono::milliseconds Jitter(std::string_view task, std::string_view node, TimePoint due,
                                 std::chrono::milliseconds max_jitter);

}  // namespace nodeagent
