// Reference material generated from the code itself: the man pages (the
// nodeagent.toml(5) reference comes from the core's key tables and every
// loaded plugin's parameter table, so docs cannot drift from validation),
// bash completion, and `agentctl kube check`.
#pragma once

#include <string>

namespace nodeagent {

/// Prints the requested document on stdout. 0 on success, 2 for an unknown one.
int GenerateDoc(const std::string& what, const std::string& config_path);
/// `agentctl kube check`: server version, identity, missing permissions.
int KubeCheck(const std::string& config_path, bool json_output);

}  // namespace nodeagent
