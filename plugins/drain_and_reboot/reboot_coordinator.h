// The drain-and-reboot state machine: take the cluster lock, cordon, drain,
// persist the state, reboot, and after the boot wait for the Node to come
// back (see boot_identity.h), uncordon and release the lock. The steps are one
// Phase enum advanced by one loop, which Run() starts at the beginning and
// Resume() at the phase its checkpoint and the boot call for. Every step that
// changes the cluster is checkpointed first, so that a crash at any point is
// resumed into a safe end state: after a reboot a drain-and-reboot finishes;
// in the same boot (or a plain drain after any boot) it rolls back (uncordon
// if we cordoned, drop our taint and annotations, release our lease) unless
// the reboot command was already issued. What the run changes is what its
// plan names (Change::objects): the pods evicted are the plan's, and a pod
// that appeared after the plan fails the drain, unless the plan has the
// "evict-arrivals" change of a run that waits for the reboot lock. Takes the
// ActionContext (host, clock, checkpoint, Events, notifications) and a
// KubeClient so every branch runs against the test API server or fakes.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "nodeagent/action.h"
#include "nodeagent/kube.h"
#include "nodeagent/plan_objects.h"
#include "lease_lock.h"
#include "run_options.h"

namespace nodeagent::drain {

/// Our node annotations (present while a run is in progress) and taint.
inline constexpr const char* kAnnotationRun = "nodeagent.io/run-id";
inline constexpr const char* kAnnotationAction = "nodeagent.io/action";
inline constexpr const char* kAnnotationPhase = "nodeagent.io/phase";
inline constexpr const char* kAnnotationSince = "nodeagent.io/since";
inline constexpr const char* kTaintKey = "nodeagent.io/reboot-pending";
/// Our Node condition: True from the cordon of a reboot until the node is
/// uncordoned after its boot (or rolled back). A node whose agent never comes
/// back is left cordoned with it True, saying why; the node that takes over
/// its expired lock slot sets the reason kRebootLockExpiredReason.
inline constexpr const char* kRebootCondition = "NodeAgentReboot";
inline constexpr const char* kRebootInProgressReason = "RebootInProgress";
inline constexpr const char* kRebootLockExpiredReason = "RebootLockExpired";
inline constexpr const char* kNoRebootReason = "NoRebootInProgress";

/// The node's kRebootCondition, or null.
const nlohmann::json* RebootCondition(const nlohmann::json& node);
/// The strategic-merge patch of nodes/NAME/status that sets kRebootCondition
/// (merged by type: the kubelet's conditions are left alone); the transition
/// time is kept from `node` (as read) while the status stays the same.
nlohmann::json RebootConditionPatch(const nlohmann::json& node, bool on, const std::string& reason,
                                    const std::string& message, std::chrono::system_clock::time_point now);

/// Change::objects names (nodeagent/plan_objects.h), as the core's
/// apply-phase guard reads them; commands use nodeagent::CommandObject.
inline std::string NodeObject(const std::string& node) { return KubeObject("nodes", "", node); }
inline std::string PodObject(const std::string& ns, const std::string& name) { return KubeObject("pods", ns, name); }
inline std::string LeaseObject(const std::string& ns, const std::string& name) { return KubeObject("leases", ns, name); }
/// Any pod: what a plan names for pods that come to the node while the run
/// waits for the reboot lock, after the plan and before the cordon.
inline constexpr const char* kAnyPodObject = "kube:pods/*/*";
/// Every object the plan's changes name.
std::set<std::string> PlannedObjects(const Plan& plan);

/// The steps of a drain or drain-and-reboot run, in order (kRollBack and
/// kDone end it). Run() starts at kStart; Resume() at kAwaitBoot, kAwaitNode,
/// kRollBack or kDone, as the checkpoint and the boot call for (Resume()).
enum class Phase {
  kStart,      // read this boot and the Node; first checkpoint
  kLock,       // PreferNoSchedule taint, then a reboot lock slot
  kCordon,     // cordon and annotate in one patch
  kDrain,      // evict the planned pods and wait until they are gone
  kReboot,     // renew the lease, reboot_delay, run the reboot command
  kAwaitBoot,  // until the boot changes (reboot_timeout)
  kAwaitNode,  // after the boot: until the Node is back (ready_timeout)
  kFinish,     // uncordon, drop annotations and taint, release the lock
  kRollBack,   // undo what the run did, then end failed or interrupted
  kDone,
};
/// The checkpoint's `phase` for a Phase (the names older versions wrote:
/// starting, locking, cordoning, draining, rebooting, done).
const char* CheckpointPhaseName(Phase phase);
/// Inverse of CheckpointPhaseName; an unknown name reads as kStart.
Phase ParseCheckpointPhase(const std::string& name);

class RebootCoordinator {
 public:
  /// `ctx` and `kube` must outlive the coordinator. `action` names the
  /// action in annotations. Events and notifications go through `ctx`.
  RebootCoordinator(ActionContext& ctx, KubeClient& kube, RunOptions options, std::string action);

  /// Dry-run view: every pod on the node as evict/skip/block with the reason,
  /// predicted stalls (PDBs allowing 0 disruptions, pods without controller),
  /// and the node changes. Error when the node cannot be read.
  Result<Plan> PlanDrain();

  /// drain (reboot=false: the node stays cordoned) or drain-and-reboot,
  /// carrying out `plan` (from PlanDrain()): it evicts only pods the plan
  /// names, and fails (rolled back) when another evictable pod is on the node
  /// and the plan has no "evict-arrivals" change (kAnyPodObject).
  Result<Outcome> Run(const Plan& plan);
  /// PlanDrain(), then Run() of that plan.
  Result<Outcome> Run();

  /// Continues from a checkpoint written by Run() (see the file comment).
  Result<Outcome> Resume(const nlohmann::json& checkpoint);

  /// cordon / uncordon actions (uncordon also drops our annotations, taint and,
  /// with the lock options set, the node's reboot lock slot if `planned` names
  /// it; null `planned`: whichever it holds).
  Result<Outcome> Cordon(bool on, const std::set<std::string>* planned = nullptr);
  /// The reboot lock slot this node holds (nullopt: none, or no lock options).
  Result<std::optional<std::string>> HeldLockSlot();

 private:
  struct State;
  struct Walk;
  struct ClassifiedPod;
  using Step = Result<Phase> (RebootCoordinator::*)(Walk& w);

  /// The loop Run() and Resume() share: runs w.phase's step until one ends the run.
  Result<Outcome> Advance(Walk& w);
  Result<Phase> Start(Walk& w);
  Result<Phase> Lock(Walk& w);
  Result<Phase> CordonNode(Walk& w);
  Result<Phase> Drain(Walk& w);
  Result<Phase> Reboot(Walk& w);
  Result<Phase> AwaitBoot(Walk& w);
  Result<Phase> AwaitNode(Walk& w);
  Result<Phase> Finish(Walk& w);
  Result<Phase> RollBack(Walk& w);
  Result<Phase> Done(Walk& w);
  /// Records why the run fails and returns kRollBack.
  Phase Fail(Walk& w, std::string why, RunStatus status, std::vector<Finding> findings = {});
  /// Why the held slot is no longer ours (the renewer saw another holder, or
  /// could not renew for the TTL); nullopt while it is ours or none is held.
  std::optional<std::string> LockLost(Walk& w);
  /// Rolls back after the slot was lost before the reboot and, at most
  /// kMaxRequeues times per run, waits in the queue again instead of failing.
  Phase LostLock(Walk& w, std::string why);
  static constexpr int kMaxRequeues = 2;
  /// Ends the run with `status` and no rollback (waiting: kRunning).
  Phase End(Walk& w, RunStatus status, std::string summary);

  Status Save(const State& s);
  /// CleanNode(s.cordoned), retried on transient API errors for about a minute.
  Status CleanNodeRetrying(const State& s);
  /// The reboot lock, reporting through the context (warnings, takeovers).
  LeaseLock MakeLock();
  /// Events on the Lease and on the node that lost it, for a takeover this
  /// agent's write made (to itself, or handed to the head of the queue).
  void RecordTakeover(const std::string& slot, const std::string& previous, const std::string& renewed,
                      const std::string& to);
  /// Renews this run's lease (s.lock_name) when `next` has come, then moves
  /// `next` a third of the TTL on. The waits around the reboot run without the
  /// background renewer. A failure is a warning: the node is down or coming back.
  void RenewLockIfDue(const State& s, std::chrono::steady_clock::time_point& next);
  /// When the lease, renewed with its full TTL right before the reboot
  /// command, is next due while the node goes down and comes back: a third of
  /// the TTL after that renewal, as during the drain. At once when that has
  /// passed, or when the wall clock reads earlier than the reboot (set back).
  std::chrono::steady_clock::time_point FirstRenewalAfterReboot(const State& s);
  /// Removes our annotations and taint, uncordons when `uncordon`, and sets
  /// kRebootCondition False when it is True.
  Status CleanNode(bool uncordon);
  /// Patches kRebootCondition of `node` (as read in `current`). Best effort:
  /// a failure is a warning, the run goes on.
  void SetRebootCondition(const std::string& node, const nlohmann::json& current, bool on, const std::string& reason,
                          const std::string& message);
  /// Gives back this run's lock slot (`known_slot` from the checkpoint, else
  /// the one this node is found holding). For a summary: "", "; lock released"
  /// or "; LOCK RELEASE FAILED: ...".
  std::string ReleaseLock(const std::string& known_slot);
  void Event(const std::string& type, const std::string& reason, const std::string& message);
  /// Through the core's notifier (ActionContext::Notify, the [[notify]] targets).
  void Notify(const std::string& event, const std::string& message);
  Result<nlohmann::json> ListPods(std::string* rv);
  /// The one pod classification of the plan and the drain: each pod of the
  /// list with its verdict (kubectl's filters, see pod_filter.h).
  std::vector<ClassifiedPod> ClassifyNodePods(const nlohmann::json& pods);

  ActionContext& ctx_;
  KubeClient& kube_;
  RunOptions o_;
  std::string action_;
  /// When the run's plan began (Run(plan)): the reboot queue places this
  /// node from then, not from when it joined.
  std::optional<std::chrono::system_clock::time_point> wanted_since_;
};

}  // namespace nodeagent::drain
