// Builds the network clients the runner hands to actions from the agent's
// settings: the Kubernetes client (from [kubernetes]) and the HTTP client.
// Each is only created (and the kubeconfig only read) when an action actually
// asks for it. Linked by the worker side only; the daemon maps no libcurl.
#pragma once

#include "config/agent_config.h"
#include "runner/run_executor.h"

namespace nodeagent {

/// `host` must outlive every client the factories make. `log` receives the
/// Kubernetes client's log lines (never secrets).
ClientFactories MakeClientFactories(const AgentSettings& settings, Host& host,
                                    std::function<void(LogLevel, std::string_view)> log);

}  // namespace nodeagent
