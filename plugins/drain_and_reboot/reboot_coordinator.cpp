#include "reboot_coordinator.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "api_retry.h"
#include "boot_identity.h"
#include "label_selector.h"
#include "lease_lock.h"

namespace nodeagent::drain {

using nlohmann::json;
using Ptr = json::json_pointer;

const char* CheckpointPhaseName(Phase phase) {
  switch (phase) {
    case Phase::kStart: return "starting";
    case Phase::kLock: return "locking";
    case Phase::kCordon: return "cordoning";
    case Phase::kDrain: return "draining";
    case Phase::kReboot:
    case Phase::kAwaitBoot:
    case Phase::kAwaitNode:
    case Phase::kFinish: return "rebooting";  // the reboot command may have been issued
    case Phase::kRollBack: return "rolling-back";
    case Phase::kDone: return "done";
  }
  return "starting";
}

Phase ParseCheckpointPhase(const std::string& name) {
  for (Phase p : {Phase::kStart, Phase::kLock, Phase::kCordon, Phase::kDrain, Phase::kReboot, Phase::kRollBack,
                  Phase::kDone})
    if (name == CheckpointPhaseName(p)) return p;
  return Phase::kStart;
}

std::set<std::string> PlannedObjects(const Plan& plan) {
  std::set<std::string> all;
  for (const auto& c : plan.changes) all.insert(c.objects.begin(), c.objects.end());
  return all;
}

/// What the checkpoint holds. Its JSON keys and phase names are those of
/// every earlier version, so a run checkpointed before an upgrade resumes.
struct RebootCoordinator::State {
  Phase phase = Phase::kStart;  // where the run is, as far as a resume must know
  bool was_unschedulable = false;
  bool cordoned = false;  // by us: undo on rollback, uncordon after the boot
  bool taint = false;
  std::string lock_name;
  BootIdentity boot;        // this node's boot when the run started
  NodeBootRecord node_boot;  // what the Node reported before the reboot
  int64_t started_ms = 0;
  int64_t reboot_issued_ms = 0;

  json ToJson(const std::string& node, const std::string& action) const {
    return {{"node", node},
            {"action", action},
            {"phase", CheckpointPhaseName(phase)},
            {"was_unschedulable", was_unschedulable},
            {"cordoned", cordoned},
            {"taint", taint},
            {"lock_name", lock_name},
            {"boot_id", boot.kernel_boot_id},
            {"pid1_start", boot.pid1_start},
            {"node_boot_recorded", node_boot.recorded},
            {"node_boot_id", node_boot.boot_id},
            {"node_ready_transition", node_boot.ready_transition},
            {"started_ms", started_ms},
            {"reboot_issued_ms", reboot_issued_ms}};
  }
  static State From(const json& j) {
    State s;
    s.phase = ParseCheckpointPhase(j.value("phase", "starting"));
    s.was_unschedulable = j.value("was_unschedulable", false);
    s.cordoned = j.value("cordoned", false);
    s.taint = j.value("taint", false);
    s.lock_name = j.value("lock_name", "");
    s.boot.kernel_boot_id = j.value("boot_id", "");
    s.boot.pid1_start = j.value("pid1_start", "");
    s.node_boot.recorded = j.value("node_boot_recorded", false);
    s.node_boot.boot_id = j.value("node_boot_id", "");
    s.node_boot.ready_transition = j.value("node_ready_transition", "");
    s.started_ms = j.value("started_ms", int64_t{0});
    s.reboot_issued_ms = j.value("reboot_issued_ms", int64_t{0});
    return s;
  }
};

namespace {

int64_t ToMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string Seconds(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

/// Renews the held lease in the background while the agent works, and says
/// when the slot is no longer ours: another node holds it or it was deleted,
/// or no renewal has succeeded for the lease's TTL (other nodes then count it
/// as expired and may take it over). The drain asks Lost() and stops.
class LeaseRenewer {
 public:
  LeaseRenewer(KubeClient& kube, Clock& clock, const LeaseLockOptions& o, HeldLease held,
               std::function<void(const std::string&)> warn)
      : lock_(kube, clock, o), held_(std::move(held)) {
    const auto every = std::max<std::chrono::milliseconds>(std::chrono::seconds(1), o.ttl / 3);
    // After a failed renewal, try again sooner: a TTL is only three periods.
    const auto retry = std::min<std::chrono::milliseconds>(every, std::chrono::seconds(5));
    thread_ = std::thread([this, &clock, ttl = o.ttl, every, retry, warn] {
      std::unique_lock<std::mutex> l(mu_);
      // The first period counts from the write that took the slot (sent
      // before the server applied it, so never later than other nodes saw
      // it): the waiting loop's last steps, the checkpoint and the takeover
      // Events must not eat into the TTL other nodes count. Unknown (a slot
      // found again after a restart): at once.
      auto last_ok = held_.written_at.value_or(clock.Monotonic());
      auto first = std::chrono::milliseconds(0);
      if (const auto since_taken = clock.Monotonic() - last_ok; held_.written_at && since_taken < every)
        first = std::chrono::duration_cast<std::chrono::milliseconds>(every - since_taken);
      for (auto wait = first; !stop_;) {
        if (wait.count() > 0 && cv_.wait_for(l, wait, [this] { return stop_; })) break;
        l.unlock();
        Status st = lock_.Renew(held_);
        l.lock();
        if (st.ok()) {
          last_ok = clock.Monotonic();
          wait = every;
          continue;
        }
        // Others count the slot expired no sooner than `ttl` after our last
        // successful renewal (by their clocks, from when they saw it): we
        // give it up a little before, so both never work on it at once.
        const auto give_up = ttl - std::min<std::chrono::milliseconds>(ttl / 6, std::chrono::seconds(10));
        const auto since_ok = clock.Monotonic() - last_ok;
        if (st.error().code() == ErrorCode::kConflict) {
          lost_why_ = st.error().message();
        } else if (since_ok >= give_up) {
          lost_why_ = "not renewed for " + FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(since_ok)) +
                      " (" + st.error().message() + "); other nodes count it as expired after " + FormatDuration(ttl);
        } else {
          if (warn) warn("renewing the reboot lock: " + st.error().message());
          wait = std::max<std::chrono::milliseconds>(
              std::chrono::milliseconds(1),
              std::min<std::chrono::milliseconds>(
                  retry, std::chrono::duration_cast<std::chrono::milliseconds>(give_up - since_ok)));
          continue;
        }
        lost_ = true;
        return;
      }
    });
  }
  ~LeaseRenewer() { Stop(); }
  void Stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  /// The slot as the last renewal left it (for a renewal after Stop()).
  HeldLease Held() {
    std::lock_guard<std::mutex> l(mu_);
    return held_;
  }
  /// Why the slot is no longer ours; nullopt while it is.
  std::optional<std::string> Lost() {
    if (!lost_.load()) return std::nullopt;
    std::lock_guard<std::mutex> l(mu_);
    return lost_why_;
  }

 private:
  LeaseLock lock_;
  HeldLease held_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<bool> lost_{false};
  std::string lost_why_;
  std::thread thread_;
};

/// A read at the start of a run, tried again on transient errors (3 more
/// times, jittered backoff of about 2, 4 and 8 s): the client's own retries
/// fit in 30 s, which one timed-out request on a loaded API server uses up,
/// and failing the run there would leave the node to the next schedule.
template <class Read>
auto ReadRetrying(ActionContext& ctx, const std::string& what, Read read) {
  auto r = read();
  std::minstd_rand rng(std::random_device{}());
  for (int attempt = 1; !r && ServerBusy(r.error().code()) && attempt <= 3 && !ctx.cancelled(); ++attempt) {
    const auto wait = RetryWait(attempt, rng);
    ctx.Warn(what + ": " + r.error().message() + "; trying again in " + Seconds(wait));
    if (!ctx.host().clock().SleepFor(wait, ctx.cancel_flag())) break;
    r = read();
  }
  return r;
}

}  // namespace

const json* RebootCondition(const json& node) {
  const json* conds = node.contains(Ptr("/status/conditions")) ? &node.at(Ptr("/status/conditions")) : nullptr;
  if (!conds || !conds->is_array()) return nullptr;
  for (const json& c : *conds)
    if (c.is_object() && c.value("type", "") == kRebootCondition) return &c;
  return nullptr;
}

json RebootConditionPatch(const json& node, bool on, const std::string& reason, const std::string& message,
                          std::chrono::system_clock::time_point now) {
  // metav1.Time: whole seconds.
  std::string stamp = FormatMicroTime(now);
  stamp = stamp.substr(0, stamp.find('.')) + "Z";
  const std::string status = on ? "True" : "False";
  std::string transition = stamp;
  if (const json* c = RebootCondition(node); c && c->value("status", "") == status)
    transition = c->value("lastTransitionTime", stamp);
  return {{"status",
           {{"conditions",
             json::array({{{"type", kRebootCondition}, {"status", status}, {"reason", reason}, {"message", message},
                           {"lastHeartbeatTime", stamp}, {"lastTransitionTime", transition}}})}}}};
}

void RebootCoordinator::SetRebootCondition(const std::string& node, const json& current, bool on,
                                           const std::string& reason, const std::string& message) {
  auto path = ResourcePath({"", "v1", "nodes", "", node, "status"});
  if (!path) return;
  auto r = kube_.Request(KubeRequest::Patch(
      *path, RebootConditionPatch(current, on, reason, message, ctx_.host().clock().Now()), PatchType::kStrategicMerge));
  if (!r) ctx_.Warn("could not set the " + std::string(kRebootCondition) + " condition of node " + node + ": " +
                    r.error().message());
}

RebootCoordinator::RebootCoordinator(ActionContext& ctx, KubeClient& kube, RunOptions options,
                                     std::string action)
    : ctx_(ctx), kube_(kube), o_(std::move(options)), action_(std::move(action)) {}

LeaseLock RebootCoordinator::MakeLock() {
  LeaseLockHooks hooks;
  hooks.warn = [this](const std::string& m) { ctx_.Warn(m); };
  hooks.info = [this](const std::string& m) { ctx_.Info(m); };
  hooks.taken_over = [this](const std::string& slot, const std::string& previous, const std::string& renewed,
                            const std::string& to) { RecordTakeover(slot, previous, renewed, to); };
  LeaseLockOptions lo = o_.lock;
  lo.wanted_since = wanted_since_;
  return LeaseLock(kube_, ctx_.host().clock(), std::move(lo), std::move(hooks));
}

void RebootCoordinator::RecordTakeover(const std::string& slot, const std::string& previous,
                                       const std::string& renewed, const std::string& to) {
  // Called once per takeover: by the agent whose write turned the slot over.
  const std::string by = to == o_.node ? "" : " (handed to " + to + " by " + o_.node + ")";
  std::string m = "took over reboot lock " + o_.lock.ns + "/" + slot + " from " + previous +
                  " (expired; last renewed " + renewed + ") for " + to + by;
  ctx_.Warn(m);
  EventSpec e;
  e.involved_object = {{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"}, {"name", slot},
                       {"namespace", o_.lock.ns}};
  e.ns = o_.lock.ns;
  e.type = "Warning";
  e.reason = "RebootLockTakenOver";
  e.message = m;
  e.host = o_.node;
  if (auto r = kube_.CreateEvent(e); !r) ctx_.Warn("could not record the takeover Event: " + r.error().message());
  // On the node that lost it: it may be left cordoned, and this says why.
  EventSpec n;
  n.involved_object = {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", previous}};
  n.type = "Warning";
  n.reason = "NodeagentRebootLockExpired";
  n.message = "the nodeagent on " + previous + " stopped renewing reboot lock " + o_.lock.ns + "/" + slot +
              " (last renewed " + renewed + "); the slot went to " + to + ". If nodeagent cordoned " + previous +
              ", it stays cordoned until its agent comes back (it then finishes or rolls back its run) or an "
              "operator runs `kubectl uncordon " + previous + "`";
  n.host = o_.node;
  if (auto r = kube_.CreateEvent(n); !r) ctx_.Warn("could not record the expired-lock Event: " + r.error().message());
  // Its condition says the same, where `kubectl describe node` shows it,
  // if a reboot by nodeagent was in progress there.
  if (auto node = kube_.GetNode(previous); node) {
    if (const json* c = RebootCondition(*node); c && c->value("status", "") == "True")
      SetRebootCondition(previous, *node, true, kRebootLockExpiredReason, n.message);
  }
}

Status RebootCoordinator::Save(const State& s) { return ctx_.SaveCheckpoint(s.ToJson(o_.node, action_)); }

void RebootCoordinator::Event(const std::string& type, const std::string& reason, const std::string& message) {
  // The core posts it on the Node (reason prefixed "Nodeagent", counted when
  // repeated) and never fails the run for it.
  ctx_.Event(type == "Warning" ? EventType::kWarning : EventType::kNormal, reason, message);
}

void RebootCoordinator::Notify(const std::string& event, const std::string& message) {
  // The core's notifier: [[notify]] targets, retries, the failure count. It
  // returns once the first attempt to each target ended (or timed out), so
  // the "reboot" message is out before the reboot command runs.
  ctx_.Notify(event, message);
}

Result<json> RebootCoordinator::ListPods(std::string* rv) {
  ListOptions lo;
  lo.field_selector = OnNodeSelector(o_.node);
  lo.label_selector = o_.pod_selector;
  auto pods = ListAllPods(kube_, "", lo);
  if (!pods) return pods.error().Wrap("listing pods on node " + o_.node);
  if (rv) *rv = pods->value(Ptr("/metadata/resourceVersion"), "");
  return *pods;
}

Status RebootCoordinator::CleanNode(bool uncordon) {
  auto node = kube_.GetNode(o_.node);
  if (!node) return node.error().Wrap("reading node " + o_.node);
  json patch = json::object();
  auto ann = node->value(Ptr("/metadata/annotations"), json::object());
  for (const char* k : {kAnnotationRun, kAnnotationAction, kAnnotationPhase, kAnnotationSince})
    if (ann.contains(k)) patch["metadata"]["annotations"][k] = nullptr;
  auto taints = node->value(Ptr("/spec/taints"), json::array());
  json kept = json::array();
  for (const auto& t : taints)
    if (t.value("key", "") != kTaintKey) kept.push_back(t);
  if (kept.size() != taints.size()) patch["spec"]["taints"] = kept;
  if (uncordon && node->value(Ptr("/spec/unschedulable"), false)) patch["spec"]["unschedulable"] = nullptr;
  if (!patch.empty()) {
    auto r = kube_.PatchNode(o_.node, patch, PatchType::kMerge);
    if (!r) return r.error().Wrap("cleaning up node " + o_.node);
  }
  if (const json* c = RebootCondition(*node); c && c->value("status", "") == "True")
    SetRebootCondition(o_.node, *node, false, kNoRebootReason,
                       "no reboot by nodeagent in progress (run " + ctx_.run_id() + " ended)");
  return Status::Ok();
}

Result<Outcome> RebootCoordinator::Cordon(bool on, const std::set<std::string>* planned) {
  auto node = kube_.GetNode(o_.node);
  if (!node) return node.error().Wrap("reading node " + o_.node);
  bool is = node->value(Ptr("/spec/unschedulable"), false);
  Outcome out;
  if (ctx_.dry_run()) return out;
  if (on) {
    if (is) {
      out.summary = "node " + o_.node + " was already cordoned";
      return out;
    }
    auto r = kube_.PatchNode(o_.node, {{"spec", {{"unschedulable", true}}}}, PatchType::kMerge);
    if (!r) return r.error().Wrap("cordoning node " + o_.node);
    out.status = RunStatus::kChanged;
    out.summary = "cordoned node " + o_.node;
    out.changes.push_back({"cordon", "node/" + o_.node, "", "", 0, {NodeObject(o_.node)}});
    Event("Normal", "Cordoned", "cordoned by nodeagent run " + ctx_.run_id());
    return out;
  }
  Status st = CleanNode(true);
  if (!st.ok()) return st.error();
  out.status = is ? RunStatus::kChanged : RunStatus::kOk;
  out.summary = is ? "uncordoned node " + o_.node : "node " + o_.node + " was not cordoned";
  if (is) {
    out.changes.push_back({"uncordon", "node/" + o_.node, "", "", 0, {NodeObject(o_.node)}});
    Event("Normal", "Uncordoned", "uncordoned by nodeagent run " + ctx_.run_id());
  }
  auto slot = HeldLockSlot();
  if (!slot) return slot.error().Wrap("node " + o_.node + (is ? " was uncordoned, but " : ": ") + "reading the reboot lock");
  if (*slot && planned && !planned->count(LeaseObject(o_.lock.ns, **slot))) {
    // Taken since the plan: giving it back was not planned, so it is left alone.
    std::string m = "it holds reboot lock slot " + **slot + ", which the plan did not name: left alone (run uncordon "
                    "again to give it back)";
    ctx_.Warn(m);
    out.summary += "; " + m;
  } else if (*slot) {
    if (Status r = MakeLock().Release(**slot, ctx_.cancel_flag()); !r.ok())
      return r.error().Wrap("releasing reboot lock slot " + **slot);
    out.status = RunStatus::kChanged;
    out.summary += "; released its reboot lock slot " + **slot;
    out.changes.push_back({"release-lock", "lease/" + o_.lock.ns + "/" + **slot, "", "", 0,
                           {LeaseObject(o_.lock.ns, **slot)}});
  }
  return out;
}

std::string RebootCoordinator::ReleaseLock(const std::string& known_slot) {
  if (!o_.use_lock) return "";
  std::string name = known_slot;
  if (name.empty()) {
    auto held = HeldLockSlot();
    if (held && *held) name = **held;
  }
  if (name.empty()) return "";
  Status r = MakeLock().Release(name, ctx_.cancel_flag());
  return r.ok() ? "; lock released" : "; LOCK RELEASE FAILED: " + r.error().message();
}

Result<std::optional<std::string>> RebootCoordinator::HeldLockSlot() {
  if (!o_.use_lock) return std::optional<std::string>();
  auto held = MakeLock().FindHeld();
  if (!held) return held.error();
  if (!*held) return std::optional<std::string>();
  return std::optional<std::string>((*held)->name);
}

struct RebootCoordinator::ClassifiedPod {
  const json* pod;
  PodRef ref;
  std::string key;  // ns/name
  PodDecision decision;
};

/// One run's way through the phases: the checkpointed state and what lives
/// only as long as this process (the lease renewer, the plan, the outcome).
struct RebootCoordinator::Walk {
  Phase phase = Phase::kStart;
  State s;
  /// The plan's objects (Run); unset on Resume, which only undoes or finishes.
  std::optional<std::set<std::string>> planned;
  json node;                      // as Start read it
  std::optional<HeldLease> held;  // the slot Lock took
  std::unique_ptr<LeaseRenewer> renewer;
  // The slot was lost before the reboot: roll back, then wait in line again.
  bool requeue = false;
  int requeues = 0;
  std::string back;  // why the Node counts as back (AwaitNode)
  std::string new_boot_id;
  // Why the run fails (kRollBack).
  std::string why;
  RunStatus fail_status = RunStatus::kFailed;
  std::vector<Finding> fail_findings;
  bool ended = false;
  Outcome out;
};

std::vector<RebootCoordinator::ClassifiedPod> RebootCoordinator::ClassifyNodePods(const json& pods) {
  std::map<std::string, bool> ds_cache;
  DaemonSetExists ds_exists = [&](const std::string& ns, const std::string& name) {
    auto key = ns + "/" + name;
    if (auto it = ds_cache.find(key); it != ds_cache.end()) return it->second;
    auto r = kube_.GetDaemonSet(ns, name);
    return ds_cache[key] = r.ok() || r.error().code() != ErrorCode::kNotFound;
  };
  const auto now = ctx_.host().clock().Now();
  std::vector<ClassifiedPod> out;
  auto items = pods.find("items");
  if (items == pods.end() || !items->is_array()) return out;
  for (const auto& p : *items) {
    const json md = p.value("metadata", json::object());
    out.push_back({&p,
                   PodRef{md.value("namespace", ""), md.value("name", ""), md.value("uid", "")},
                   PodKey(p),
                   ClassifyPod(p, o_.filter, ds_exists, now)});
  }
  return out;
}

Result<Plan> RebootCoordinator::PlanDrain() {
  const auto planned_at = ctx_.host().clock().Now();
  auto node = ReadRetrying(ctx_, "reading node " + o_.node, [&] { return kube_.GetNode(o_.node); });
  if (!node) return node.error().Wrap("reading node " + o_.node);
  bool unschedulable = node->value(Ptr("/spec/unschedulable"), false);
  std::string rv;
  auto pods = ReadRetrying(ctx_, "listing the node's pods", [&] { return ListPods(&rv); });
  if (!pods) return pods.error();
  auto pdbs = ReadRetrying(ctx_, "listing PodDisruptionBudgets", [&] { return kube_.ListPodDisruptionBudgets(""); });
  if (!pdbs) return pdbs.error().Wrap("listing PodDisruptionBudgets");

  Plan plan;
  if (o_.use_lock) {
    // Every slot it may take, renew and give back (and a taint on the node).
    LeaseLock lock(kube_, ctx_.host().clock(), o_.lock);
    std::vector<std::string> slots;
    for (int i = 0; i < o_.lock.concurrency; ++i) slots.push_back(LeaseObject(o_.lock.ns, lock.SlotName(i)));
    plan.changes.push_back({"lock", "lease/" + o_.lock.ns + "/" + o_.lock.prefix + "-*",
                            "take one of " + std::to_string(o_.lock.concurrency) + " reboot lock slot(s)", "", 0,
                            slots});
    // The wait for the lock comes between this plan and the cordon, and may
    // be long: pods scheduled meanwhile (other nodes' drained pods) are
    // evicted too, classified like the rows below.
    plan.changes.push_back({"queue", "lease/" + o_.lock.ns + "/" + o_.lock.prefix + "-queue-*",
                            "when no slot is free, wait in the reboot queue (a ticket Lease per waiting node, "
                            "first come first served); when giving a slot back, hand it to the node that has "
                            "waited longest (writing its ticket and the slot)", "", 0,
                            {LeaseObject(o_.lock.ns, "*")}});
    plan.changes.push_back({"evict-arrivals", "node/" + o_.node,
                            "pods scheduled onto the node after this plan, while it waits for the reboot lock, are "
                            "classified like those below and evicted too", "", 0, {kAnyPodObject}});
  }
  const std::string condition = o_.reboot ? std::string("; Node condition ") + kRebootCondition +
                                                 "=True (RebootInProgress) until the node is uncordoned after its boot"
                                           : "";
  if (!unschedulable) {
    plan.changes.push_back({"cordon", "node/" + o_.node, condition.empty() ? "" : condition.substr(2), "", 0,
                            {NodeObject(o_.node)}});
  } else {
    plan.findings.push_back({Severity::kInfo, "node/" + o_.node, "already unschedulable; it stays so after the run"});
    plan.changes.push_back({"annotate", "node/" + o_.node,
                            "nodeagent's annotations while the run lasts (the node stays unschedulable)" + condition,
                            "", 0, {NodeObject(o_.node)}});
  }

  int evict = 0, skip = 0, block = 0;
  json pod_rows = json::array();
  std::map<std::string, std::vector<std::string>> stalled;  // pdb -> pods
  for (const auto& c : ClassifyNodePods(*pods)) {
    const PodDecision& d = c.decision;
    const json& p = *c.pod;
    pod_rows.push_back({{"pod", c.key}, {"verdict", PodVerdictName(d.verdict)}, {"filter", d.filter}, {"reason", d.reason}});
    plan.changes.push_back({PodVerdictName(d.verdict), "pod/" + c.key, d.reason, "", 0,
                            d.verdict == PodVerdict::kEvict ? std::vector<std::string>{PodObject(c.ref.ns, c.ref.name)}
                                                            : std::vector<std::string>{}});
    if (d.verdict == PodVerdict::kSkip) ++skip;
    if (d.verdict == PodVerdict::kBlock) {
      ++block;
      plan.findings.push_back({Severity::kError, "pod/" + c.key, "blocks the drain: " + d.reason});
    }
    if (d.verdict != PodVerdict::kEvict) continue;
    ++evict;
    if (o_.drainer.disable_eviction) continue;
    for (const auto& pdb : (*pdbs)["items"]) {
      if (pdb["metadata"].value("namespace", "") != c.ref.ns) continue;
      if (!SelectorMatches(pdb.value(Ptr("/spec/selector"), json()), p.value(Ptr("/metadata/labels"), json::object())))
        continue;
      if (pdb.value(Ptr("/status/disruptionsAllowed"), 0) <= 0)
        stalled[c.ref.ns + "/" + pdb["metadata"].value("name", "")].push_back(c.key);
    }
  }
  for (const auto& [pdb, keys] : stalled) {
    std::string list;
    for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
    plan.findings.push_back({Severity::kWarning, "pdb/" + pdb,
                             "allows 0 disruptions now: evicting " + list + " will wait (retries with backoff up to "
                             "drain_timeout " + FormatDuration(o_.drainer.timeout) + ", then on_drain_timeout=" +
                                 (o_.drainer.on_timeout == OnDrainTimeout::kDelete ? "delete" : "abort") + ")"});
  }
  if (o_.reboot) {
    std::string cmd;
    for (const auto& a : o_.reboot_command) cmd += (cmd.empty() ? "" : " ") + a;
    std::vector<std::string> objects{NodeObject(o_.node)};
    if (!o_.reboot_command.empty()) objects.push_back(CommandObject(o_.reboot_command[0]));
    plan.changes.push_back({"reboot", "node/" + o_.node, "run `" + cmd + "`, then uncordon after the boot", "", 0,
                            objects});
  }
  plan.summary = "node " + o_.node + ": " + std::to_string(evict) + " pod(s) to evict, " + std::to_string(skip) +
                 " skipped, " + std::to_string(block) + " blocking; " + std::to_string(stalled.size()) +
                 " PDB stall(s) predicted";
  plan.data = {{"node", o_.node}, {"was_unschedulable", unschedulable}, {"pods", pod_rows},
               {"evict", evict},  {"skip", skip},  {"block", block}, {"list_resource_version", rv},
               {"planned_at", FormatMicroTime(planned_at)}};
  return plan;
}

Result<Outcome> RebootCoordinator::Run() {
  auto plan = PlanDrain();
  if (!plan) return plan.error();
  return Run(*plan);
}

Result<Outcome> RebootCoordinator::Run(const Plan& plan) {
  Walk w;
  w.planned = PlannedObjects(plan);
  // The node has wanted a slot since its plan began: its place in the
  // reboot queue counts from then (LeaseLockOptions::wanted_since).
  wanted_since_ = ParseRfc3339(plan.data.value("planned_at", ""));
  return Advance(w);
}

Result<Outcome> RebootCoordinator::Resume(const json& checkpoint) {
  Walk w;
  w.s = State::From(checkpoint);
  w.phase = w.s.phase;
  if (w.s.phase != Phase::kDone) {
    auto boot = ReadBootIdentity(ctx_.host());
    if (!boot) return boot.error().Wrap("reading the boot id");
    const std::string name = CheckpointPhaseName(w.s.phase);
    if (!BootChange(w.s.boot, *boot).empty()) {
      // A plain drain has nothing to finish after a boot: its drain did not
      // complete, so it is undone like one interrupted in the same boot.
      if (!o_.reboot)
        w.phase = Fail(w, "the node rebooted while the drain was " + name + " (not by this run): rolled back; run "
                          "the drain again", RunStatus::kFailed);
      else {
        if (w.s.phase != Phase::kReboot) ctx_.Warn("the node rebooted while the run was " + name + " (not by us)");
        w.phase = Phase::kAwaitNode;
      }
    } else if (w.s.phase == Phase::kReboot) {
      ctx_.Info("resumed in the same boot after the reboot command: still waiting for the reboot");
      w.phase = Phase::kAwaitBoot;
    } else {
      w.phase = Fail(w, "rolled back after the agent crashed during " + name + "; run again", RunStatus::kFailed);
    }
  }
  return Advance(w);
}

Result<Outcome> RebootCoordinator::Advance(Walk& w) {
  // One row per Phase, in its order.
  static constexpr Step kSteps[] = {
      &RebootCoordinator::Start,     &RebootCoordinator::Lock,      &RebootCoordinator::CordonNode,
      &RebootCoordinator::Drain,     &RebootCoordinator::Reboot,    &RebootCoordinator::AwaitBoot,
      &RebootCoordinator::AwaitNode, &RebootCoordinator::Finish,    &RebootCoordinator::RollBack,
      &RebootCoordinator::Done,
  };
  static_assert(std::size(kSteps) == static_cast<size_t>(Phase::kDone) + 1, "one step per phase");
  while (!w.ended) {
    Result<Phase> next = (this->*kSteps[static_cast<size_t>(w.phase)])(w);
    if (!next) return next.error();  // the run stays open; a resume decides
    w.phase = *next;
  }
  return std::move(w.out);
}

Phase RebootCoordinator::Fail(Walk& w, std::string why, RunStatus status, std::vector<Finding> findings) {
  w.why = std::move(why);
  w.fail_status = status;
  w.fail_findings = std::move(findings);
  return Phase::kRollBack;
}

Phase RebootCoordinator::End(Walk& w, RunStatus status, std::string summary) {
  w.out.status = status;
  w.out.summary = std::move(summary);
  w.ended = true;
  return Phase::kDone;
}

Result<Phase> RebootCoordinator::Start(Walk& w) {
  State& s = w.s;
  s.started_ms = ToMs(ctx_.host().clock().Now());
  auto boot = ReadBootIdentity(ctx_.host());
  if (!boot && o_.reboot) return boot.error().Wrap("reading the boot id (needed to notice the reboot)");
  if (boot) s.boot = *boot;
  auto node = ReadRetrying(ctx_, "reading node " + o_.node, [&] { return kube_.GetNode(o_.node); });
  if (!node) return node.error().Wrap("reading node " + o_.node);
  s.was_unschedulable = node->value(Ptr("/spec/unschedulable"), false);
  s.node_boot = RecordNodeBoot(*node);
  w.node = std::move(*node);
  Status st = Save(s);
  if (!st.ok()) return st.error().Wrap("saving the run state");
  return o_.use_lock ? Phase::kLock : Phase::kCordon;
}

Result<Phase> RebootCoordinator::Lock(Walk& w) {
  State& s = w.s;
  auto& clock = ctx_.host().clock();
  s.phase = Phase::kLock;
  Status st;
  if (o_.prefer_no_schedule_taint) {
    s.taint = true;
    if (!(st = Save(s)).ok()) return st.error();
    json taints = w.node.value(Ptr("/spec/taints"), json::array());
    bool have = false;
    for (const auto& t : taints) have = have || t.value("key", "") == kTaintKey;
    if (!have) {
      taints.push_back({{"key", kTaintKey}, {"value", ctx_.run_id()}, {"effect", "PreferNoSchedule"}});
      auto r = kube_.PatchNode(o_.node, {{"spec", {{"taints", taints}}}}, PatchType::kMerge);
      if (!r) return Fail(w, "could not add the PreferNoSchedule taint: " + r.error().message(), RunStatus::kFailed);
    }
  }
  if (!(st = Save(s)).ok()) return st.error();
  LeaseLock lock = MakeLock();
  auto got = lock.Acquire(o_.lock_wait, ctx_.cancel_flag(), [&](const std::vector<std::string>& holders) {
    std::string who;
    for (const auto& h : holders) who += (who.empty() ? "" : ", ") + h;
    ctx_.Progress("waiting in the reboot queue; the lock is held by " + who);
  });
  if (!got) {
    bool cancelled = got.error().code() == ErrorCode::kCancelled;
    return Fail(w, "could not take the reboot lock: " + got.error().message(),
                cancelled ? RunStatus::kInterrupted : RunStatus::kFailed);
  }
  w.held = *got;
  s.lock_name = w.held->name;
  if (!(st = Save(s)).ok()) return st.error();
  ctx_.Info("holding reboot lock " + o_.lock.ns + "/" + w.held->name +
            (w.held->granted_by.empty() ? "" : " (handed over by " + w.held->granted_by + ")"));
  w.renewer = std::make_unique<LeaseRenewer>(kube_, clock, o_.lock, *w.held,
                                             [this](const std::string& m) { ctx_.Warn(m); });
  return Phase::kCordon;
}

Result<Phase> RebootCoordinator::CordonNode(Walk& w) {
  // Cordon (and annotate) in one patch. Saved first: a crash right after is undone.
  // Whether it was unschedulable is read now, after the lock wait: a node an
  // administrator cordoned meanwhile must stay cordoned at the end.
  State& s = w.s;
  s.phase = Phase::kCordon;
  auto current = kube_.GetNode(o_.node);
  if (!current)
    return Fail(w, "could not read node " + o_.node + " before cordoning: " + current.error().message(),
                RunStatus::kFailed);
  s.was_unschedulable = current->value(Ptr("/spec/unschedulable"), false);
  s.cordoned = !s.was_unschedulable;
  if (Status st = Save(s); !st.ok()) return st.error();
  json patch = {{"metadata",
                 {{"annotations",
                   {{kAnnotationRun, ctx_.run_id()},
                    {kAnnotationAction, action_},
                    {kAnnotationPhase, o_.reboot ? "draining-for-reboot" : "draining"},
                    {kAnnotationSince, FormatMicroTime(ctx_.host().clock().Now())}}}}}};
  if (s.cordoned) patch["spec"]["unschedulable"] = true;
  auto pr = kube_.PatchNode(o_.node, patch, PatchType::kMerge);
  if (!pr) return Fail(w, "could not cordon node " + o_.node + ": " + pr.error().message(), RunStatus::kFailed);
  if (o_.reboot)
    SetRebootCondition(o_.node, *current, true, kRebootInProgressReason,
                       "nodeagent run " + ctx_.run_id() + " " +
                           (s.cordoned ? "cordoned" : "is draining (it was unschedulable already)") +
                           " this node at " + FormatMicroTime(ctx_.host().clock().Now()) + " to reboot it; its agent " +
                           (s.cordoned ? "uncordons it" : "ends this") +
                           " once the node is back and Ready. If this stays True long after that, the agent did "
                           "not come back: see the node's Events");
  Event("Normal", "DrainStarted", "cordoned; draining (run " + ctx_.run_id() + ")");
  Notify("drain", "draining node " + o_.node);
  return Phase::kDrain;
}

Result<Phase> RebootCoordinator::Drain(Walk& w) {
  State& s = w.s;
  auto& clock = ctx_.host().clock();
  s.phase = Phase::kDrain;
  if (Status st = Save(s); !st.ok()) return st.error();
  std::string rv;
  auto pods = ListPods(&rv);
  if (!pods) return Fail(w, pods.error().message(), RunStatus::kFailed);
  std::vector<PodRef> to_evict;
  std::vector<Finding> blocked, unplanned;
  for (const auto& c : ClassifyNodePods(*pods)) {
    if (c.decision.verdict == PodVerdict::kBlock)
      blocked.push_back({Severity::kError, "pod/" + c.key, c.decision.reason});
    if (c.decision.verdict != PodVerdict::kEvict) continue;
    if (w.planned && !w.planned->count(PodObject(c.ref.ns, c.ref.name))) {
      if (w.planned->count(kAnyPodObject)) {
        ctx_.Info("pod " + c.key + " came to the node after the plan, while it waited for the reboot lock: evicted "
                  "as the plan's evict-arrivals change says");
        to_evict.push_back(c.ref);
        continue;
      }
      unplanned.push_back({Severity::kError, "pod/" + c.key,
                           "came to the node after the plan: not evicted (the plan is what a run changes)"});
      continue;
    }
    if (!c.decision.reason.empty()) ctx_.Warn("pod " + c.key + ": " + c.decision.reason);
    to_evict.push_back(c.ref);
  }
  if (!blocked.empty())
    return Fail(w, std::to_string(blocked.size()) + " pod(s) cannot be drained (first: " + blocked[0].subject + ": " +
                       blocked[0].message + ")",
                RunStatus::kFailed, blocked);
  if (!unplanned.empty()) {
    std::string names;
    for (size_t i = 0; i < unplanned.size() && i < 5; ++i)
      names += (names.empty() ? "" : ", ") + unplanned[i].subject.substr(4);
    return Fail(w, std::to_string(unplanned.size()) + " pod(s) on the node are not in the plan (" + names +
                       "): nothing was evicted; run again to plan them",
                RunStatus::kFailed, unplanned);
  }

  auto t0 = clock.Monotonic();
  if (auto lost = LockLost(w)) return LostLock(w, "before the drain: " + *lost);
  ctx_.Progress("evicting " + std::to_string(to_evict.size()) + " pod(s)", 0);
  Drainer drainer(kube_, clock, o_.drainer, [this](LogLevel l, const std::string& m) { ctx_.Log(l, m); },
                  [this, &w] { return ctx_.cancelled() || LockLost(w).has_value(); });
  auto report = drainer.Drain(o_.node, to_evict, rv);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock.Monotonic() - t0);
  if (!report) return Fail(w, "drain failed: " + report.error().message(), RunStatus::kFailed);
  if (auto lost = LockLost(w); lost && report->cancelled && !ctx_.cancelled())
    return LostLock(w, "during the drain (" + std::to_string(report->gone.size()) + "/" +
                           std::to_string(to_evict.size()) + " pods gone): " + *lost);
  if (report->cancelled)
    return Fail(w, "interrupted during the drain (" + std::to_string(report->gone.size()) + "/" +
                       std::to_string(to_evict.size()) + " pods gone); rolled back",
                RunStatus::kInterrupted);
  if (!report->denied.empty())
    return Fail(w, "drain stopped: " + report->denied + " (`agentctl kube check` shows what the agent may do); rolled back",
                RunStatus::kFailed);
  if (!report->complete()) {
    std::vector<Finding> f;
    std::string names;
    for (const auto& [ref, why] : report->remaining) {
      f.push_back({Severity::kError, "pod/" + ref.key(), why});
      if (f.size() <= 5) names += (names.empty() ? "" : "; ") + ref.key() + " (" + why + ")";
    }
    // Name the PDBs that hold the remaining pods.
    auto pdbs = kube_.ListPodDisruptionBudgets("");
    std::set<std::string> pdb_names;
    if (pdbs) {
      for (const auto& [ref, why] : report->remaining) {
        auto pod = kube_.GetPod(ref.ns, ref.name);
        if (!pod) continue;
        for (const auto& pdb : (*pdbs)["items"])
          if (pdb["metadata"].value("namespace", "") == ref.ns &&
              SelectorMatches(pdb.value(Ptr("/spec/selector"), json()), pod->value(Ptr("/metadata/labels"), json::object())))
            pdb_names.insert(ref.ns + "/" + pdb["metadata"].value("name", "") + " (allows " +
                             std::to_string(pdb.value(Ptr("/status/disruptionsAllowed"), 0)) + " disruptions)");
      }
    }
    std::string pdb_list;
    for (const auto& n : pdb_names) pdb_list += (pdb_list.empty() ? "" : ", ") + n;
    return Fail(w, "drain timed out after " + Seconds(took) + " with " + std::to_string(report->remaining.size()) +
                       " pod(s) left: " + names + (pdb_list.empty() ? "" : "; PodDisruptionBudgets: " + pdb_list),
                RunStatus::kFailed, f);
  }
  std::string drained = "drained node " + o_.node + ": " + std::to_string(report->gone.size()) + " pod(s) gone in " +
                        Seconds(took) + " (" + std::to_string(report->eviction_calls) + " eviction calls, " +
                        std::to_string(report->refusals) + " PDB refusals)" +
                        (report->deleted_after_timeout.empty()
                             ? ""
                             : ", " + std::to_string(report->deleted_after_timeout.size()) +
                                   " deleted without eviction after the timeout");
  ctx_.Info(drained);
  Event("Normal", "Drained", drained);
  w.out.data = {{"evicted", report->gone.size()},
                {"eviction_calls", report->eviction_calls},
                {"refusals", report->refusals},
                {"deleted_after_timeout", report->deleted_after_timeout.size()},
                {"drain_seconds", static_cast<double>(took.count()) / 1000.0}};
  for (const auto& r : report->gone)
    w.out.changes.push_back({"evict", "pod/" + r.key(), "", "", 0, {PodObject(r.ns, r.name)}});
  if (o_.reboot) return Phase::kReboot;

  Status st = CleanNode(false);
  if (!st.ok()) ctx_.Warn(st.error().message());
  s.phase = Phase::kDone;
  (void)ctx_.SaveCheckpoint({{"node", o_.node}, {"action", action_}, {"phase", "done"}});
  return End(w, RunStatus::kChanged, drained + "; the node stays cordoned");
}

Result<Phase> RebootCoordinator::Reboot(Walk& w) {
  State& s = w.s;
  auto& clock = ctx_.host().clock();
  // The lease must outlive the downtime, so renew it with the full TTL now.
  if (w.renewer) w.renewer->Stop();
  if (w.renewer && w.held) *w.held = w.renewer->Held();
  if (auto lost = LockLost(w)) return LostLock(w, "before rebooting: " + *lost);
  if (w.held) {
    LeaseLock lock(kube_, clock, o_.lock);
    Status r = lock.Renew(*w.held);
    for (int attempt = 1; !r.ok() && r.error().code() != ErrorCode::kConflict && attempt < 3; ++attempt) {
      ctx_.Warn("renewing the reboot lock before rebooting: " + r.error().message() + "; trying again");
      if (!clock.SleepFor(std::chrono::seconds(attempt), ctx_.cancel_flag()))
        return Fail(w, "interrupted before the reboot; rolled back", RunStatus::kInterrupted);
      r = lock.Renew(*w.held);
    }
    if (!r.ok() && r.error().code() == ErrorCode::kConflict) return LostLock(w, "before rebooting: " + r.error().message());
    if (!r.ok()) return Fail(w, "could not renew the reboot lock before rebooting: " + r.error().message(), RunStatus::kFailed);
  }
  if (o_.reboot_delay.count() > 0) {
    ctx_.Progress("rebooting in " + FormatDuration(o_.reboot_delay));
    if (!clock.SleepFor(o_.reboot_delay, ctx_.cancel_flag()) || ctx_.cancelled())
      return Fail(w, "interrupted before the reboot; rolled back", RunStatus::kInterrupted);
  }
  // What the Node reports now is what "back after the reboot" is compared with.
  if (auto before = kube_.GetNode(o_.node)) s.node_boot = RecordNodeBoot(*before);
  else ctx_.Warn("could not read node " + o_.node + " before the reboot (using what it reported at the start): " +
                 before.error().message());
  s.phase = Phase::kReboot;
  s.reboot_issued_ms = ToMs(clock.Now());
  if (Status st = Save(s); !st.ok())
    return Fail(w, "could not save the state before rebooting: " + st.error().message(), RunStatus::kFailed);
  std::string cmd;
  for (const auto& a : o_.reboot_command) cmd += (cmd.empty() ? "" : " ") + a;
  Event("Normal", "Rebooting", "rebooting with `" + cmd + "`");
  Notify("reboot", "rebooting node " + o_.node);
  CommandSpec spec;
  spec.argv = o_.reboot_command;
  spec.timeout = std::chrono::seconds(60);
  auto rr = ctx_.host().commands().Run(spec);
  if (!rr) return Fail(w, "reboot command `" + cmd + "` could not run: " + rr.error().message(), RunStatus::kFailed);
  if (!rr->succeeded() && !ctx_.cancelled())
    return Fail(w, "reboot command `" + cmd + "` failed (exit " + std::to_string(rr->exit_code) + "): " +
                       rr->stderr_data.substr(0, 300),
                RunStatus::kFailed);
  ctx_.Info("reboot command issued; waiting for the node to go down");
  return Phase::kAwaitBoot;
}

void RebootCoordinator::RenewLockIfDue(const State& s, std::chrono::steady_clock::time_point& next) {
  if (!o_.use_lock || s.lock_name.empty()) return;
  auto& clock = ctx_.host().clock();
  auto now = clock.Monotonic();
  if (now < next) return;
  next = now + std::max<std::chrono::milliseconds>(std::chrono::seconds(1), o_.lock.ttl / 3);
  HeldLease held{s.lock_name, "", "", ""};
  Status st = LeaseLock(kube_, clock, o_.lock).Renew(held);
  if (!st.ok()) ctx_.Warn("renewing the reboot lock while waiting: " + st.error().message());
}

std::chrono::steady_clock::time_point RebootCoordinator::FirstRenewalAfterReboot(const State& s) {
  auto& clock = ctx_.host().clock();
  const auto now = clock.Monotonic();
  if (!s.reboot_issued_ms) return now;
  // The renewal came reboot_delay before the command (Reboot).
  const auto since_renewal = std::chrono::milliseconds(ToMs(clock.Now()) - s.reboot_issued_ms) + o_.reboot_delay;
  const auto period = std::max<std::chrono::milliseconds>(std::chrono::seconds(1), o_.lock.ttl / 3);
  if (since_renewal < o_.reboot_delay || since_renewal >= period) return now;
  return now + (period - since_renewal);
}

Result<Phase> RebootCoordinator::AwaitBoot(Walk& w) {
  State& s = w.s;
  auto& clock = ctx_.host().clock();
  const auto deadline = std::chrono::system_clock::time_point(std::chrono::milliseconds(s.reboot_issued_ms)) +
                        o_.reboot_timeout;
  auto renew_at = FirstRenewalAfterReboot(s);
  for (;;) {
    auto boot = ReadBootIdentity(ctx_.host());
    if (boot && !BootChange(s.boot, *boot).empty()) return Phase::kAwaitNode;
    RenewLockIfDue(s, renew_at);
    if (ctx_.cancelled()) {
      w.out = Outcome();
      return End(w, RunStatus::kRunning, "waiting for the reboot; resumes after the boot");
    }
    if (clock.Now() >= deadline)
      return Fail(w, "the reboot did not happen: the boot id and PID 1's start time are unchanged " +
                         FormatDuration(o_.reboot_timeout) + " after the reboot command",
                  RunStatus::kFailed);
    clock.SleepFor(std::chrono::milliseconds(200), ctx_.cancel_flag());
  }
}

Result<Phase> RebootCoordinator::AwaitNode(Walk& w) {
  State& s = w.s;
  auto& clock = ctx_.host().clock();
  auto boot = ReadBootIdentity(ctx_.host());
  if (!boot) return boot.error().Wrap("reading the boot id");
  w.new_boot_id = boot->kernel_boot_id;
  ctx_.Info("node rebooted (" + BootChange(s.boot, *boot) + "); waiting for the Node to report the new boot and Ready");
  ctx_.Progress("waiting for node " + o_.node + " to report its new boot and be Ready");
  const auto deadline = clock.Monotonic() + o_.ready_timeout;
  // Nobody renewed the lease while the node was down: due now, unless the
  // reboot was quicker than a renewal period.
  auto renew_at = FirstRenewalAfterReboot(s);
  for (;;) {
    RenewLockIfDue(s, renew_at);
    auto node = kube_.GetNode(o_.node);
    if (node) {
      w.back = NodeBackReason(*node, s.node_boot, boot->kernel_boot_id);
      if (!w.back.empty()) break;
    }
    if (ctx_.cancelled()) {
      w.out = Outcome();
      return End(w, RunStatus::kRunning, "waiting for the node to be Ready after the reboot");
    }
    if (clock.Monotonic() >= deadline) break;
    clock.SleepFor(std::chrono::milliseconds(500), ctx_.cancel_flag());
  }
  if (w.back.empty())
    return Fail(w, "rebooted, but the Node did not report its new boot and Ready within " +
                       FormatDuration(o_.ready_timeout),
                RunStatus::kFailed);
  ctx_.Info("node " + o_.node + " is back: " + w.back);
  return Phase::kFinish;
}

Status RebootCoordinator::CleanNodeRetrying(const State& s) {
  // The last writes of a run: a slow or briefly failing API server (a
  // timeout, 429, 5xx) must not leave the node cordoned and the slot held
  // until its TTL. Retried with jittered backoff for about a minute, the
  // lease renewed meanwhile; errors that waiting cannot fix end at once.
  auto& clock = ctx_.host().clock();
  auto renew_at = clock.Monotonic();
  std::minstd_rand rng(std::random_device{}());
  Status st = CleanNode(s.cordoned);
  for (int attempt = 1; !st.ok() && WorthWaitingOut(st.error().code()) && attempt <= 5 && !ctx_.cancelled();
       ++attempt) {
    const auto wait = RetryWait(attempt, rng);  // 1-2, 2-4, 4-8, 8-16, 16-32 s
    ctx_.Warn("cleaning up the node: " + st.error().message() + "; trying again in " + Seconds(wait));
    if (!clock.SleepFor(wait, ctx_.cancel_flag())) break;
    RenewLockIfDue(s, renew_at);
    st = CleanNode(s.cordoned);
  }
  return st;
}

Result<Phase> RebootCoordinator::Finish(Walk& w) {
  State& s = w.s;
  int64_t now_ms = ToMs(ctx_.host().clock().Now());
  std::string downtime = s.reboot_issued_ms ? Seconds(std::chrono::milliseconds(now_ms - s.reboot_issued_ms)) : "?";
  Status st = CleanNodeRetrying(s);
  if (!st.ok()) return st.error();  // the run stays open and is resumed again
  std::string released = ReleaseLock(s.lock_name);
  std::string summary = "rebooted node " + o_.node + "; back and Ready after " + downtime + " downtime" +
                        (s.cordoned ? "; uncordoned" : "; left unschedulable as it was before") + released;
  Event("Normal", "RebootCompleted", summary);
  Notify("uncordon", summary);
  s.phase = Phase::kDone;
  (void)ctx_.SaveCheckpoint({{"node", o_.node}, {"action", action_}, {"phase", "done"}});
  w.out = Outcome();
  w.out.data = {{"downtime_seconds", s.reboot_issued_ms ? (now_ms - s.reboot_issued_ms) / 1000.0 : -1.0},
                {"boot_id_before", s.boot.kernel_boot_id},
                {"boot_id_after", w.new_boot_id},
                {"back_because", w.back}};
  if (s.cordoned) w.out.changes.push_back({"uncordon", "node/" + o_.node, "", "", 0, {NodeObject(o_.node)}});
  return End(w, RunStatus::kChanged, summary);
}

std::optional<std::string> RebootCoordinator::LockLost(Walk& w) {
  return w.renewer ? w.renewer->Lost() : std::nullopt;
}

Phase RebootCoordinator::LostLock(Walk& w, std::string why) {
  w.requeue = w.requeues < kMaxRequeues;
  return Fail(w, "lost the reboot lock " + why, RunStatus::kFailed);
}

Result<Phase> RebootCoordinator::RollBack(Walk& w) {
  State& s = w.s;
  if (w.renewer) w.renewer->Stop();  // the lease is given back below
  if (w.requeue) {
    // Another node holds the slot now and may be draining: this node must
    // not stay cordoned meanwhile. Undo, then wait in line again from the back.
    w.requeue = false;
    ++w.requeues;
    Status st = CleanNodeRetrying(s);
    if (st.ok()) {
      std::string m = w.why + "; " + (s.cordoned ? "uncordoned, " : "") + "waiting in the reboot queue again (" +
                      std::to_string(w.requeues) + " of " + std::to_string(kMaxRequeues) + ")";
      ctx_.Warn(m);
      Event("Warning", "RebootLockLost", m);
      w.renewer.reset();
      w.held.reset();
      s.lock_name.clear();
      s.cordoned = false;
      s.taint = false;
      return Phase::kLock;
    }
    ctx_.Log(LogLevel::kError, "rollback after losing the reboot lock: " + st.error().message());
  }
  std::string done;
  Status st = CleanNodeRetrying(s);
  if (!st.ok()) {
    ctx_.Log(LogLevel::kError, "rollback: " + st.error().message());
    done += "; CLEANUP FAILED: " + st.error().message();
  } else if (s.cordoned) {
    done += "; uncordoned";
  } else if (s.was_unschedulable) {
    done += "; left unschedulable as it was before";
  }
  done += ReleaseLock(s.lock_name);
  Event("Warning", "RolledBack", w.why + done);
  Notify("failure", w.why + done);
  w.out = Outcome();
  w.out.findings = std::move(w.fail_findings);
  w.out.data = {{"rolled_back", true}, {"phase", CheckpointPhaseName(s.phase)}};
  (void)ctx_.SaveCheckpoint({{"node", o_.node}, {"action", action_}, {"phase", "done"}});
  return End(w, w.fail_status, w.why + done);
}

Result<Phase> RebootCoordinator::Done(Walk& w) {
  return End(w, RunStatus::kOk, "the run had already finished its work");
}

}  // namespace nodeagent::drain
