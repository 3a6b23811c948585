// What an action is and what it produces. Every action separates plan from
// apply: MakePlan() looks at the host and says what it would change (with a
// unified diff for file edits) without changing anything; `--dry-run` stops
// there. Apply() then carries the plan out. The core owns everything around
// that: parameters, timeouts, history, progress streaming, isolation.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeagent/host.h"
#include "nodeagent/kube_permission.h"
#include "nodeagent/params.h"
#include "nodeagent/result.h"

namespace nodeagent {

class KubeClient;  // nodeagent/kube.h
class HttpClient;  // nodeagent/http.h

enum class RunStatus {
  kOk,           // nothing needed doing, or the checks passed
  kChanged,      // the host or cluster was changed as planned
  kFailed,       // the action failed or its checks found errors
  kSkipped,      // not applicable now (outside the window, no trigger)
  kInterrupted,  // the run died (crash, kill, daemon stop) before finishing
  kRunning,      // in history: not finished yet. Returned by Apply() or Resume()
                 // of a resumable action: "leave the run open", e.g. while the
                 // node goes down for a reboot; it resumes from its checkpoint.
};
const char* RunStatusName(RunStatus status);
std::optional<RunStatus> ParseRunStatus(std::string_view name);

enum class Severity { kInfo, kWarning, kError };
const char* SeverityName(Severity severity);

/// Something an action noticed: "swap is on", "PDB web has 0 allowed disruptions".
struct Finding {
  Severity severity = Severity::kInfo;
  std::string subject;  // what it is about: a path, a pod, a unit
  std::string message;
  /// The Node condition (ActionSpec::conditions, by type) an error finding
  /// holds True; empty: the action's first declared condition. Ignored for
  /// info and warning findings and for actions that declare none.
  std::string condition;
};

/// One change the action makes (in a plan: would make).
struct Change {
  std::string kind;         // short verb: "delete", "compress", "edit", "cordon", "evict"
  std::string target;       // what: a path (escaped), "node/n1", "pod/ns/name"
  std::string description;  // optional detail
  std::string diff;         // unified diff for file edits, else empty
  int64_t bytes = 0;        // bytes affected, when it means something
  /// What this change acts on, in a form the core can check: in the apply
  /// phase, the context's host and clients refuse a change to anything no
  /// planned Change names here (the plan is the contract). Forms:
  ///   "file:/etc/fstab"            one host path (as given to FileSystem)
  ///   "file:/var/log/app/**"       a directory and everything under it
  ///   "command:/usr/sbin/swapoff"  a program (argv[0]) run not read_only
  ///   "kube:nodes/n1"              a cluster-scoped object (resource/name)
  ///   "kube:pods/default/web-1"    a namespaced object (resource/ns/name)
  ///   "kube:leases/kube-system/*"  any object of that resource there
  /// Empty for a change that touches nothing (a note).
  std::vector<std::string> objects;
};

struct Plan {
  std::string summary;
  std::vector<Finding> findings;
  std::vector<Change> changes;
  nlohmann::json data = nlohmann::json::object();  // machine-readable detail for -o json
};

struct Outcome {
  RunStatus status = RunStatus::kOk;
  std::string summary;
  std::vector<Finding> findings;
  std::vector<Change> changes;  // what was actually changed
  nlohmann::json data = nlohmann::json::object();
};

enum class LogLevel { kDebug, kInfo, kWarning, kError };

/// A Kubernetes Event's type.
enum class EventType { kNormal, kWarning };

/// A condition an action keeps on this Node (`kubectl describe node` shows
/// it): True with `true_reason` while a finding of the last real run holds it
/// (see Finding::condition), False with `false_reason` once none does. The
/// core patches only these types in the Node's status, after each real run.
struct ConditionSpec {
  std::string_view type;          // CamelCase, "NodeAgent" first: "NodeAgentCalicoNetwork"
  std::string_view true_reason;   // "CalicoNetworkProblem"
  std::string_view false_reason;  // "CalicoNetworkHealthy"
  std::string_view description;   // for `agentctl describe`
};

/// Everything a running action may use. Implemented by the core; one per run.
class ActionContext {
 public:
  virtual ~ActionContext() = default;

  virtual Host& host() = 0;
  virtual const Params& params() const = 0;
  /// This node's name in the cluster (`agent.node_name`).
  virtual const std::string& node_name() const = 0;
  virtual const std::string& run_id() const = 0;
  virtual bool dry_run() const = 0;

  /// A log line of this run: kept in its history and streamed live.
  virtual void Log(LogLevel level, std::string_view message) = 0;
  /// Live progress ("scanned 120000 entries, 40000/s"). `fraction` in [0,1] or
  /// negative when unknown. Cheap to call; rate-limited by the core.
  virtual void Progress(std::string_view message, double fraction = -1) = 0;
  /// True once the run should stop (timeout, daemon shutdown). Long loops
  /// check it and return an Outcome saying how far they got.
  virtual bool cancelled() const = 0;
  /// Pointer form for Clock::SleepFor.
  virtual const bool* cancel_flag() const = 0;

  /// Persists action state (atomically, fsynced) so that the run can be
  /// resumed after a crash or a reboot. Replaces the previous checkpoint.
  virtual Status SaveCheckpoint(const nlohmann::json& state) = 0;

  /// The Kubernetes client built from `[kubernetes]` config. Error when no
  /// kubeconfig is usable; the pointer is owned by the context.
  virtual Result<KubeClient*> Kube() = 0;
  /// An HTTP(S) client for other services (webhooks, Prometheus). Error when
  /// none is available; the pointer is owned by the context.
  virtual Result<HttpClient*> Http() = 0;

  /// A Kubernetes Event on this Node ("Cordoned", "Rebooting", "FilesFixed"):
  /// what `kubectl describe node` shows. The core posts it, counting a repeat
  /// of the same reason and message on the Event already there (as the
  /// kubelet does) instead of making a new one. Best effort and bounded in
  /// time: never fails the run. Nothing is posted in a dry run or without a
  /// usable kubeconfig. `reason` is CamelCase, without a "Nodeagent" prefix
  /// (the core adds it).
  virtual void Event(EventType type, std::string_view reason, std::string_view message) = 0;
  /// Tells people (chat, a webhook) through the targets of `[[notify]]` whose
  /// `events` filter takes `event` ("drain", "reboot", "uncordon", "failure",
  /// ...). Best effort: it returns within the notifier's per-message timeout
  /// whatever the target does (retries go on in the background until the run
  /// ends), never fails the run, and sends nothing in a dry run.
  virtual void Notify(std::string_view event, std::string_view message) = 0;

  /// The run's full list, for a plan or an outcome that names only its first
  /// entries (log-cleanup's files to delete): `lines` (each ending in '\n')
  /// are appended, in order, to a file the core keeps beside the run record
  /// and `agentctl logs RUN --all` prints. Bounded by the core (past its cap
  /// lines are counted, not kept). False when this context keeps no list:
  /// then the action need not build the lines. The default keeps none.
  virtual bool AppendListLines(std::string_view lines) {
    (void)lines;
    return false;
  }

  void Info(std::string_view m) { Log(LogLevel::kInfo, m); }
  void Warn(std::string_view m) { Log(LogLevel::kWarning, m); }
};

/// One action instance per run, created by ActionSpec::create.
class Action {
 public:
  virtual ~Action() = default;
  /// Looks, changes nothing. An Error means the plan could not be made. The
  /// core enforces it: while planning, the context's host refuses writes and
  /// commands not marked CommandSpec::read_only, and its clients refuse
  /// changes to the cluster (PermissionDenied, naming what was refused).
  virtual Result<Plan> MakePlan(ActionContext& ctx) = 0;
  /// Carries out `plan` (made by this object just before).
  virtual Result<Outcome> Apply(ActionContext& ctx, const Plan& plan) = 0;
  /// Continues a run interrupted after SaveCheckpoint(): after a reboot (the
  /// boot id differs from the one saved), or after the agent or the run's
  /// worker died in the same boot (then the safe course is usually to undo,
  /// e.g. uncordon). Only called when ActionSpec::resumable. The daemon
  /// resumes at most 3 times per run.
  virtual Result<Outcome> Resume(ActionContext& ctx, const nlohmann::json& checkpoint) {
    (void)ctx;
    (void)checkpoint;
    return Error(ErrorCode::kInternal, "this action cannot resume");
  }
};

/// Describes an action: the row a plugin registers.
struct ActionSpec {
  std::string_view name;  // globally unique: "log-cleanup", "drain-and-reboot"
  std::string_view description;
  std::span<const ParamSpec> params;
  /// Disrupts the node (drain, reboot, join): disruptive runs exclude each other.
  bool disruptive = false;
  /// Has Resume(); interrupted runs with a checkpoint are resumed at start.
  bool resumable = false;
  std::unique_ptr<Action> (*create)() = nullptr;
  /// Optional cross-parameter checks after type validation (e.g. refusing "/"
  /// as a cleanup root). Message names the parameter. The daemon and agentctl
  /// call it in a child process, so it must be a pure function of `params`.
  Status (*validate)(const Params& params) = nullptr;
  /// Every Kubernetes API permission the action may use (nodeagent/
  /// kube_permission.h); empty for an action that never calls the API. The
  /// only list: `agentctl kube check`, `agentctl describe` and conf/rbac.yaml
  /// follow it, and the loader refuses a malformed table.
  std::span<const KubePermission> permissions = {};
  /// The Node conditions the action keeps (see ConditionSpec); empty for
  /// most. Only a run that is not a dry run sets them.
  std::span<const ConditionSpec> conditions = {};
};

}  // namespace nodeagent
