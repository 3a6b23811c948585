// The drain-and-reboot state machine: take the cluster lock, cordon, drain,
// persist the state, reboot, and after the boot wait for the Node to come
// back (see boot_identity.h), uncordon and release the lock. Every step that
// changes the cluster is checkpointed first, so that a crash at any point is
// resumed into a safe end state: after a reboot the run finishes; in the same
// boot it rolls back (uncordon if we cordoned, drop our taint and annotations,
// release our lease) unless the reboot command was already issued. Takes the
// ActionContext (host, clock, checkpoint), a KubeClient and an HttpClient so
// every branch runs against the test API server or fakes.
#pragma once

#include <string>

#include "nodeagent/http.h"
#include "nodeagent/action.h"
#include "nodeagent/kube.h"
#include "run_options.h"

namespace nodeagent::drain {

/// Our node annotations (present while a run is in progress) and taint.
inline constexpr const char* kAnnotationRun = "nodeagent.io/run-id";
inline constexpr const char* kAnnotationAction = "nodeagent.io/action";
inline constexpr const char* kAnnotationPhase = "nodeagent.io/phase";
inline constexpr const char* kAnnotationSince = "nodeagent.io/since";
inline constexpr const char* kTaintKey = "nodeagent.io/reboot-pending";

class RebootCoordinator {
 public:
  /// `ctx`, `kube` and `http` (may be null: no notifications, no Prometheus)
  /// must outlive the coordinator. `action` names the action in annotations.
  RebootCoordinator(ActionContext& ctx, KubeClient& kube, HttpClient* http, RunOptions options, std::string action);

  /// Dry-run view: every pod on the node as evict/skip/block with the reason,
  /// predicted stalls (PDBs allowing 0 disruptions, pods without controller),
  /// and the node changes. Error when the node cannot be read.
  Result<Plan> PlanDrain();

  /// drain (reboot=false: the node stays cordoned) or drain-and-reboot.
  Result<Outcome> Run();

  /// Continues from a checkpoint written by Run() (see the file comment).
  Result<Outcome> Resume(const nlohmann::json& checkpoint);

  /// cordon / uncordon actions (uncordon also drops our annotations, taint and,
  /// with the lock options set, the node's reboot lock slot).
  Result<Outcome> Cordon(bool on);
  /// The reboot lock slot this node holds (nullopt: none, or no lock options).
  Result<std::optional<std::string>> HeldLockSlot();

 private:
  struct State;
  Status Save(const State& s);
  Result<Outcome> Rollback(State& s, const std::string& why, RunStatus status, std::vector<Finding> findings = {});
  Result<Outcome> WaitForReboot(State& s);
  Result<Outcome> FinishAfterBoot(State& s);
  /// Renews this run's lease (s.lock_name) when `next` has come, then moves
  /// `next` a third of the TTL on. The waits around the reboot run without the
  /// background renewer. A failure is a warning: the node is down or coming back.
  void RenewLockIfDue(const State& s, std::chrono::steady_clock::time_point& next);
  Status CleanNode(bool uncordon);
  /// Gives back this run's lock slot (`known_slot` from the checkpoint, else
  /// the one this node is found holding). For a summary: "", "; lock released"
  /// or "; LOCK RELEASE FAILED: ...".
  std::string ReleaseLock(const std::string& known_slot);
  void Event(const std::string& type, const std::string& reason, const std::string& message);
  void Notify(const std::string& event, const std::string& message);
  Result<nlohmann::json> ListPods(std::string* rv);

  ActionContext& ctx_;
  KubeClient& kube_;
  HttpClient* http_;
  RunOptions o_;
  std::string action_;
  std::string node_uid_;
};

}  // namespace nodeagent::drain
