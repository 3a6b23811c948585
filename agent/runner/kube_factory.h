// Builds the KubeFactory the runner hands to actions from the agent's
// [kubernetes] settings, so the Kubernetes client is only created (and the
// kubeconfig only read) when an action actually asks for it.
#pragma once

#include "config/agent_config.h"
#include "runner/run_executor.h"

namespace nodeagent {

/// `host` must outlive every client the factory makes. `log` receives the
/// client's log lines (never secrets).
KubeFactory MakeKubeFactory(const AgentSettings& settings, Host& host,
                            std::function<void(LogLevel, std::string_view)> log);

}  // namespace nodeagent
