// Making "what you planned is what you apply" a property the core enforces.
// While an action applies its plan (and while it resumes one), everything its
// context hands out refuses to change what no planned Change names in
// Change::objects: file writes, directory creation and removal, commands not
// marked read_only (by argv[0]), and Kubernetes mutations (patch, delete,
// evict, create/update/delete of leases, patching DaemonSets). Each refusal is
// a PermissionDenied error ("not in the plan: file:/etc/x ...") and is logged
// as an error in the run, which then fails. Reads and read-only commands are
// always allowed. Events posted to the cluster (CreateEvent) and HTTP POSTs
// (webhooks) are allowed: they report on the run, like its log, and change
// nothing on the node. An action that acts through its own descriptors
// (log-cleanup's unlinkat) is beyond this guard and checks itself with
// PlanObjects; the executor also checks the objects Apply reports it changed.
// Like the plan-phase guard, the guards read the contract at every call.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "nodeagent/host.h"
#include "nodeagent/kube.h"
#include "nodeagent/plan_objects.h"
#include "runner/forwarding_host.h"

namespace nodeagent {

/// The plan being applied, shared by a run's apply-phase guards. Not enforced
/// until Enforce(); Check() is safe from any thread.
class PlanContract {
 public:
  /// Called (on the thread that was refused) with each refusal's message.
  using Reporter = std::function<void(const std::string& message)>;
  explicit PlanContract(Reporter report = {}) : report_(std::move(report)) {}

  /// From now on, only what `objects` covers may be changed.
  void Enforce(PlanObjects objects);
  /// No longer enforced (the apply phase is over).
  void Release() { enforcing_ = false; }
  bool enforcing() const { return enforcing_; }

  /// Ok when not enforcing or when `object` is covered; else PermissionDenied
  /// "not in the plan: <object> (<doing>) ..." after reporting it.
  Status Check(const std::string& object, const std::string& doing);
  /// How many calls were refused so far.
  int refusals() const { return refusals_; }

 private:
  Reporter report_;
  PlanObjects objects_;
  std::atomic<bool> enforcing_{false};
  std::atomic<int> refusals_{0};
};

/// The host as an action sees it while applying: `inner`, with its changes
/// checked against `contract`.
class ApplyPhaseHost : public ForwardingHost {
 public:
  /// `inner` and `contract` must outlive this.
  ApplyPhaseHost(Host& inner, PlanContract& contract);
  ~ApplyPhaseHost() override;

  FileSystem& files() override;
  CommandRunner& commands() override;

 private:
  class Files;
  class Commands;
  std::unique_ptr<Files> files_;
  std::unique_ptr<Commands> commands_;
};

/// `inner` whose mutations are checked against `contract` (which must
/// outlive it). Owns `inner`.
std::unique_ptr<KubeClient> ApplyGuardKubeClient(std::unique_ptr<KubeClient> inner, PlanContract& contract);

}  // namespace nodeagent
