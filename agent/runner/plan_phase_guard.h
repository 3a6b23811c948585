// Making "a dry run changes nothing" a property the core enforces instead of a
// convention plugins keep. While an action makes its plan (always, and all a
// dry run or demo mode ever does), everything its context hands out refuses to
// change the node or the cluster: file writes fail, only commands the plugin
// marks `read_only` run (`nft -j list ruleset`, `ip -j addr`), the Kubernetes
// client only reads and the HTTP client only GETs. Each refusal is an error
// naming what was refused, so a plugin that plans by doing fails loudly in its
// own tests. The guards read the phase at every call, so an action that keeps
// a client or the host from MakePlan for Apply gets full access in Apply.
#pragma once

#include <atomic>
#include <memory>

#include "nodeagent/host.h"
#include "nodeagent/http.h"
#include "nodeagent/kube.h"
#include "runner/forwarding_host.h"

namespace nodeagent {

/// Which phase a run is in; shared by a run's guards. True while planning.
using PlanPhaseFlag = std::atomic<bool>;

/// The host as an action sees it: `inner` outside the plan phase; while
/// planning, reads and read-only commands only.
class PlanPhaseHost : public ForwardingHost {
 public:
  /// `inner` and `planning` must outlive this.
  PlanPhaseHost(Host& inner, const PlanPhaseFlag& planning);
  ~PlanPhaseHost() override;

  FileSystem& files() override;
  CommandRunner& commands() override;

 private:
  class Files;
  class Commands;
  std::unique_ptr<Files> files_;
  std::unique_ptr<Commands> commands_;
};

/// `inner` that refuses every call that would change the cluster while
/// `planning` is set: the typed writes, and Request with any method but GET
/// (Watch, which only reads, is allowed). Owns `inner`.
std::unique_ptr<KubeClient> GuardKubeClient(std::unique_ptr<KubeClient> inner, const PlanPhaseFlag& planning);
/// `inner` that refuses every method but GET while `planning` is set. Owns `inner`.
std::unique_ptr<HttpClient> GuardHttpClient(std::unique_ptr<HttpClient> inner, const PlanPhaseFlag& planning);

}  // namespace nodeagent
