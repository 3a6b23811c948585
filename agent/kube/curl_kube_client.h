// Building the real Kubernetes client. The daemon and agentctl call
// MakeKubeClient with the `[kubernetes]` options; what comes back is a
// CurlKubeClient behind the nodeagent::KubeClient interface, made of units
// with one concern each: credential_source (which credentials),
// retrying_requester (one call: rate limit, retries within a budget, typed
// errors), the shared libcurl transport (http/curl_transport: TLS always
// verified unless the kubeconfig says insecure-skip-tls-verify, caps, pooled
// connections), watch_loop and watch_stream (Watch), and resource_requests
// (what each typed call sends). The libcurl and yaml-cpp headers stay inside
// agent/.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "kube/kubeconfig.h"
#include "kube/retry_policy.h"
#include "nodeagent/action.h"
#include "nodeagent/host.h"
#include "nodeagent/kube.h"

namespace nodeagent::kube {

/// Receives the client's log lines (retries, insecure TLS). Never secrets.
using KubeLogger = std::function<void(LogLevel, std::string_view)>;

struct KubeOptions {
  /// Kubeconfig path (see ResolveKubeconfigPath). Ignored by MakeKubeClientFromConfig.
  std::string kubeconfig;
  /// Context to use; empty: the kubeconfig's current-context.
  std::string context;
  /// Client-side rate limit. Default: 50 requests/s, bursts of 100. qps <= 0: off.
  double qps = 50;
  int burst = 100;
  /// Sent as User-Agent: "nodeagent/<version>".
  std::string user_agent = "nodeagent";
  std::chrono::milliseconds connect_timeout{10'000};
  /// Whole-request limit for non-watch calls.
  std::chrono::milliseconds request_timeout{30'000};
  /// Bound on retries of one call (connection errors, 429, 5xx).
  RetryBudget retry;
  /// The run's cancel flag (may be null; read with atomic_ref). Once it is
  /// set, a failed call is not retried and a backoff wait ends at once
  /// (kCancelled); a call's first attempt still goes out, so a cancelled run
  /// can still roll back.
  const bool* cancelled = nullptr;
  /// A watch reconnects at least this often (server-side timeoutSeconds).
  std::chrono::seconds watch_reconnect{300};
  /// Bounds on what the server may make us hold. A response body over
  /// `max_response_bytes` is not read on and the call fails (not retried);
  /// a watch event (one line) over `max_watch_event_bytes` ends that watch
  /// connection like a malformed event. An error body is kept up to 64 KiB.
  size_t max_response_bytes = 64 * 1024 * 1024;
  size_t max_watch_event_bytes = 16 * 1024 * 1024;
};

/// Loads options.kubeconfig and builds a client. Errors name the kubeconfig
/// file and field. The runner, files and clock must outlive the client.
Result<std::unique_ptr<KubeClient>> MakeKubeClient(const KubeOptions& options, CommandRunner& runner,
                                                   FileSystem& files, Clock& clock, KubeLogger logger);

/// Same from an already loaded config (in-cluster, or tests).
Result<std::unique_ptr<KubeClient>> MakeKubeClientFromConfig(KubeConfig config, const KubeOptions& options,
                                                             CommandRunner& runner, FileSystem& files,
                                                             Clock& clock, KubeLogger logger);

/// The agent's choice: `configured`, else $KUBECONFIG, else
/// /etc/nodeagent/kubeconfig if it exists, else the pod's service account when
/// running in a pod (KUBERNETES_SERVICE_HOST), else an error naming the default.
Result<KubeConfig> LoadAgentKubeconfig(const std::string& configured, const std::string& context,
                                       const EnvLookup& env, const FileSystem& files);

}  // namespace nodeagent::kube
