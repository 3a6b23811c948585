// The cluster-wide reboot lock: at most `concurrency` nodes between cordon and
// uncordon at any time, and the node that has waited longest goes next.
//
// Slots: `concurrency` coordination.k8s.io/v1 Leases `<prefix>-0` ..
// `<prefix>-<N-1>` in the lock namespace; holderIdentity is the node name.
// Every write carries the lease's resourceVersion (on 409 the slot is re-read
// and decided again), so two agents can never both hold one slot. A lease
// belongs to a dead holder, and may be taken over, when this agent has seen
// its record unchanged for leaseDurationSeconds by its own monotonic clock (as
// client-go's leader election judges it): renewTime is another node's clock.
//
// Queue: a node that finds no free slot joins a FIFO of ticket Leases
// (`<prefix>-queue-<node>`, ordered by when the node started to want a slot:
// the time its plan began, which the ticket carries, kept between the
// server's creationTimestamp minus 10 minutes and the creationTimestamp;
// then the node's acquireTime, then name) and waits on ONE watch of its own ticket,
// re-reading the slots only every `recheck` (jittered). A node giving a slot
// back hands it to the oldest ticket still in line: it marks that ticket
// (granted-slot), writes the slot over to that node with a short
// leaseDurationSeconds (handoff_timeout) and marks the ticket ready, which
// wakes the waiter through its watch; the waiter takes the slot by renewing it
// with the full TTL. A grant that is not taken within handoff_timeout (the
// waiter died) is marked missed on its ticket and the slot goes to the next
// in line. Grants are only a fast path: the slots stay the truth, and any
// waiter that finds a free or expired slot at a look hands it to the head
// of the line (or takes it when it is the head); a node giving its slot back
// hands on, after its own, the free slots and orphaned grants it sees (see
// Orphaned). The node behind the one a
// slot was handed to is marked on-deck and looks every lock_ttl/2 (at once
// only if a slot it saw could have expired by then), so a dead holder's slot
// is taken over soon after its TTL while a line is waiting. So a waiting agent
// costs one open watch plus about one request every few minutes, whatever the
// fleet size; a holder renews on top of its own last write, without a read.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "nodeagent/host.h"
#include "nodeagent/kube.h"

namespace nodeagent::drain {

struct LeaseLockOptions {
  std::string ns = "kube-system";
  std::string prefix = "nodeagent-reboot-lock";
  int concurrency = 1;
  std::string holder;  // the node name
  /// leaseDurationSeconds written on acquire and renew: long enough to cover a reboot.
  std::chrono::seconds ttl{std::chrono::minutes(30)};
  /// How long a node a freed slot is handed to has to take it.
  std::chrono::seconds handoff_timeout{30};
  /// A waiting node re-reads the slots this often (jittered by +-25%) besides its watch.
  std::chrono::seconds recheck{std::chrono::minutes(4)};
  /// leaseDurationSeconds of a queue ticket; renewed when a third of it has passed.
  std::chrono::seconds ticket_ttl{std::chrono::minutes(15)};
  /// When this node started to want a slot (its run's plan), by its own wall
  /// clock; written on the ticket (kWantedSinceAnnotation).
  std::optional<std::chrono::system_clock::time_point> wanted_since;
};

/// The most a ticket's wanted-since may precede its creation: a node (or a
/// clock far behind) cannot jump further ahead than this.
inline constexpr std::chrono::minutes kMaxHeadStart{10};

struct HeldLease {
  std::string name;
  std::string resource_version;
  /// Set when the lease was taken over from an expired holder.
  std::string previous_holder;
  std::string previous_renew_time;
  /// Set when the slot was handed over by the node that released it.
  std::string granted_by;
  /// The lease as our last write of it returned it, and when that write was
  /// sent (in memory only, not checkpointed): the next renewal writes on top
  /// of it without reading it first, and the renewer counts its first period
  /// from then. A write by anyone else fails that renewal's resourceVersion
  /// precondition, and the renewal then reads the lease and decides afresh.
  std::optional<nlohmann::json> last_written;
  std::optional<std::chrono::steady_clock::time_point> written_at;
};

/// What the lock reports while it works; every hook may be empty.
struct LeaseLockHooks {
  std::function<void(const std::string&)> warn;
  std::function<void(const std::string&)> info;
  /// This agent's write turned a dead holder's slot over (to itself or, as a
  /// grant, to the head of the line): called exactly once per takeover.
  std::function<void(const std::string& slot, const std::string& previous_holder,
                     const std::string& previous_renew_time, const std::string& new_holder)>
      taken_over;
};

/// Annotations and labels of the lock's Leases.
inline constexpr const char* kLockLabel = "nodeagent.io/reboot-lock";
inline constexpr const char* kLockRoleLabel = "nodeagent.io/reboot-lock-role";  // slot | queue
inline constexpr const char* kGrantedSlotAnnotation = "nodeagent.io/granted-slot";
inline constexpr const char* kGrantReadyAnnotation = "nodeagent.io/grant-ready";
inline constexpr const char* kGrantMissedAnnotation = "nodeagent.io/grant-missed";
inline constexpr const char* kGrantedByAnnotation = "nodeagent.io/granted-by";
/// On the ticket after the one a slot was just handed to: that node is next,
/// so it looks at the slots every lock_ttl/2 (not every recheck) and takes
/// over a dead holder's slot soon after its TTL.
inline constexpr const char* kOnDeckAnnotation = "nodeagent.io/on-deck";
/// On a ticket: since when the node has wanted a slot (its plan's start, by
/// its clock, RFC 3339). The ticket's place in line is this, kept between
/// the creationTimestamp minus kMaxHeadStart and the creationTimestamp.
inline constexpr const char* kWantedSinceAnnotation = "nodeagent.io/wanted-since";

class LeaseLock {
 public:
  /// `kube` and `clock` must outlive the lock.
  LeaseLock(KubeClient& kube, Clock& clock, LeaseLockOptions options, LeaseLockHooks hooks = {});

  std::string SlotName(int i) const;
  /// This holder's queue ticket.
  std::string TicketName() const;
  /// The value of kLockLabel on this lock's Leases (the prefix, or a hash of a
  /// prefix that is not a valid label value).
  std::string LabelValue() const;

  /// One pass over the slots, without joining the queue: a slot we hold is
  /// renewed (or, handed to us, taken) and returned; else a free or expired
  /// slot is taken when no queued node is ahead of us (expired: its record
  /// has not changed for leaseDurationSeconds since this LeaseLock first saw
  /// it so). nullopt when we must wait (the live holders are appended to
  /// `holders`). Error on an API failure other than a lost race.
  Result<std::optional<HeldLease>> TryAcquire(std::vector<std::string>* holders = nullptr);

  /// Waits in the queue (see the file comment) until a slot is ours, `wait`
  /// passes (kTimeout naming the holders) or `cancelled` turns true
  /// (kCancelled); either way the ticket is taken out of the queue. Transient
  /// API failures while waiting are warned about and retried with jittered
  /// backoff. `waiting` is called with the current holders after each look.
  Result<HeldLease> Acquire(std::chrono::milliseconds wait, const bool* cancelled,
                            const std::function<void(const std::vector<std::string>&)>& waiting);

  /// The slot this holder holds now, if any (for resuming after a reboot).
  Result<std::optional<HeldLease>> FindHeld();

  /// Moves renewTime to now (and, for a slot handed to us, makes it ours with
  /// the full TTL). kConflict exactly when the lease is no longer ours (held
  /// by another node, or deleted); any other error may be retried.
  Status Renew(HeldLease& held);

  /// Gives the slot back if it is still ours: to the oldest node in the
  /// queue, waiting up to handoff_timeout for it to take the slot and trying
  /// the next one when it does not (a few times), else by deleting the lease.
  /// Ok when it is already gone or someone else holds it.
  Status Release(const std::string& name, const bool* cancelled = nullptr);

 private:
  struct Slot;
  struct Ticket;
  struct Observation {
    std::string record;
    std::chrono::steady_clock::time_point changed_at;
    std::chrono::seconds duration{0};  // its leaseDurationSeconds
  };

  nlohmann::json MakeLease(const std::string& name, const nlohmann::json* old);
  /// A HeldLease for the slot our write (sent at `sent`) returned as `written`.
  static HeldLease Written(const std::string& name, const nlohmann::json& written,
                           std::chrono::steady_clock::time_point sent);
  /// Records in `held` our write of it (sent at `sent`) and what it returned.
  static void Remember(HeldLease& held, const nlohmann::json& written, std::chrono::steady_clock::time_point sent);
  /// How often a node on deck looks at the slots (lock_ttl/2, at least 10 s,
  /// at most recheck).
  std::chrono::milliseconds OnDeckEvery() const;
  /// The earliest moment a slot we saw held could count as expired, by what
  /// we saw of it (its record unchanged since): nullopt when we saw none.
  std::optional<std::chrono::steady_clock::time_point> EarliestSlotExpiry() const;
  bool Expired(const std::string& name, const nlohmann::json& lease);
  Result<nlohmann::json> ListLeases(const char* role);
  /// A watch of one lease of the lock's namespace, from `resource_version`.
  WatchRequest OneLeaseWatch(const std::string& name, const std::string& resource_version,
                             std::chrono::steady_clock::duration duration) const;
  /// The lock as one LIST saw it: the slots and, when asked for, the queue
  /// at the same resourceVersion. One snapshot matters: a node that took a
  /// slot between two LISTs would look both gone from the line and not yet
  /// holding, so everybody behind it would count its slot as theirs.
  struct View {
    std::vector<Slot> slots;
    std::optional<std::vector<Ticket>> queue;
  };
  Result<View> ReadLock(bool with_queue);
  Result<std::vector<Ticket>> ReadQueue();
  std::vector<Slot> SlotsOf(const nlohmann::json& items) const;
  /// The tickets among `items` in line order; deletes the expired ones of others.
  std::vector<Ticket> QueueOf(const nlohmann::json& items);
  /// A ticket's place in line in ms since the epoch: its wanted-since, kept
  /// within [creationTimestamp - kMaxHeadStart, creationTimestamp].
  static int64_t WantedSinceMs(const nlohmann::json& ticket);
  /// One look: the pass of TryAcquire, plus (join) keeping our ticket in line.
  /// It reads the slots alone (`with_queue` false), and when one is free the
  /// slots and the queue again in one LIST, deciding on that (`with_queue`
  /// true): the queue is a thousand tickets where the slots are a few.
  Result<std::optional<HeldLease>> Pass(bool join, std::vector<std::string>* holders, bool with_queue);
  /// Takes a free or expired slot for ourselves. nullopt: someone was faster.
  Result<std::optional<HeldLease>> Take(const Slot& slot, std::vector<std::string>* holders);
  /// A slot held by someone else: named in `holders`, and when its holder
  /// looks dead, next_look_ is moved to when its record would expire.
  void NoteBusy(const std::string& name, const nlohmann::json& lease, std::vector<std::string>* holders);
  /// Makes a slot handed to us ours (the full TTL).
  Result<std::optional<HeldLease>> TakeGranted(const Slot& slot);
  /// Hands `slot` (free, expired, or ours) to the first ticket of `line` that
  /// accepts the mark; removes it from `line`, and marks the next one on deck
  /// when `put_next_on_deck`. The granted ticket's node, or "" when the slot
  /// changed meanwhile or nobody was left.
  Result<std::string> Grant(const Slot& slot, std::vector<Ticket>& line, std::string* slot_rv,
                            bool put_next_on_deck = true);
  /// A slot handed to a node that no longer waits for it (its ticket is
  /// gone, or not marked for this slot: it took another, or missed its
  /// turn): free to hand on. The slot's resourceVersion guards the hand-on
  /// against the node taking it after all.
  static bool Orphaned(const Slot& slot, const std::vector<Ticket>& queue);
  Status JoinQueue();
  /// Renews our ticket when due, and puts it back in line after a missed
  /// turn or a grant mark whose slot never came (`grant_in_view`: a slot
  /// handed to us is in sight).
  Status KeepTicket(bool grant_in_view);
  void LeaveQueue();
  /// Waits for our ticket to change (a grant) until `until`, or cancelled.
  void WaitForTurn(std::chrono::steady_clock::time_point until, const bool* cancelled);
  Status MarkTicket(const std::string& node_ticket, const std::function<bool(nlohmann::json&)>& edit);
  std::chrono::milliseconds Jittered(std::chrono::milliseconds d, double spread);
  void Warn(const std::string& m) const;

  KubeClient& kube_;
  Clock& clock_;
  LeaseLockOptions o_;
  LeaseLockHooks hooks_;
  std::map<std::string, Observation> observed_;  // by lease name
  std::optional<nlohmann::json> ticket_;          // our ticket as last written or seen
  std::chrono::steady_clock::time_point ticket_renewed_{};
  /// When this LeaseLock created our ticket (unset: found from before a restart).
  std::optional<std::chrono::steady_clock::time_point> joined_;
  std::optional<std::chrono::steady_clock::time_point> stale_grant_since_;
  /// The version of our ticket whose grant-ready mark we last looked again for.
  std::string ready_looked_at_;
  /// Where the watch of our ticket got to (a bookmark's or a relist's
  /// resourceVersion) while the ticket was at watched_to_ticket_.
  std::string watched_to_;
  std::string watched_to_ticket_;
  bool again_ = false;      // the last Pass lost a race: look again at once
  bool look_soon_ = false;  // free slots went to nodes just ahead: look again in a second
  std::optional<std::chrono::steady_clock::time_point> next_look_;  // a holder may expire then
  std::mt19937_64 rng_;
};

}  // namespace nodeagent::drain
