// "What is applied is what was shown": `agentctl run --confirm` shows a plan,
// and the run it then starts must carry out that plan, not one the node has
// drifted to since. The fingerprint names a plan's changes compactly so the
// confirmed plan can travel with the run request and be compared with the plan
// the run makes again. It detects change, it does not authenticate: only root
// may start runs, and the run recomputes the fingerprint itself.
#pragma once

#include <string>
#include <vector>

#include "nodeagent/action.h"

namespace nodeagent {

/// "fnv1a64:<16 hex digits>" over each change's kind, target, diff and objects,
/// independent of the order of the changes. Descriptions and byte counts are
/// left out: they describe (a file's age grows by the second), they do not
/// say what is changed.
std::string PlanFingerprint(const std::vector<Change>& changes);

}  // namespace nodeagent
