// The cluster-wide reboot lock: at most `concurrency` nodes between cordon and
// uncordon at any time. Each slot is one coordination.k8s.io/v1 Lease
// (`<prefix>-0` .. `<prefix>-<N-1>` in the lock namespace) whose
// holderIdentity is the node name. A lease belongs to a dead holder, and is
// taken over, when this agent has watched its record stay unchanged for
// leaseDurationSeconds by its own monotonic clock (as client-go's leader
// election judges it): renewTime is another node's clock, so comparing it with
// ours would let a node with a skewed clock steal a live lease or never take
// over a dead one.
// Every write uses the lease's resourceVersion: on 409 the slot is re-read and
// decided again, so two agents can never both think they hold one slot.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
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
};

struct HeldLease {
  std::string name;
  std::string resource_version;
  /// Set when the lease was taken over from an expired holder.
  std::string previous_holder;
  std::string previous_renew_time;
};

class LeaseLock {
 public:
  /// `kube` and `clock` must outlive the lock.
  LeaseLock(KubeClient& kube, Clock& clock, LeaseLockOptions options);

  std::string SlotName(int i) const;

  /// One pass over the slots: a slot we already hold is renewed and returned;
  /// else a missing, free or expired one is taken (expired: its record has not
  /// changed for leaseDurationSeconds since this LeaseLock first saw it so, so
  /// a dead holder's slot is taken only by a lock that keeps polling, as
  /// Acquire does). nullopt when all slots are
  /// held by live holders (their names are appended to `holders`). Error on an
  /// API failure other than a lost race.
  Result<std::optional<HeldLease>> TryAcquire(std::vector<std::string>* holders = nullptr);

  /// TryAcquire until it succeeds, `wait` passes (kTimeout naming the
  /// holders) or `cancelled` turns true (kCancelled). `waiting` is called with
  /// the current holders each time a pass finds no free slot.
  Result<HeldLease> Acquire(std::chrono::milliseconds wait, std::chrono::milliseconds poll, const bool* cancelled,
                            const std::function<void(const std::vector<std::string>&)>& waiting);

  /// The slot this holder holds now, if any (for resuming after a reboot).
  Result<std::optional<HeldLease>> FindHeld();

  /// Moves renewTime to now. kConflict/kNotFound when the lease is no longer ours.
  Status Renew(HeldLease& held);

  /// Gives the slot back (deletes the lease) if it is still ours. Ok when it
  /// is already gone or someone else holds it.
  Status Release(const std::string& name);

 private:
  /// The last record seen of one slot and when (our monotonic clock) it changed.
  struct Observation {
    std::string record;
    std::chrono::steady_clock::time_point changed_at;
  };

  nlohmann::json MakeLease(const std::string& name, const nlohmann::json* old);
  bool Expired(const std::string& name, const nlohmann::json& lease);

  KubeClient& kube_;
  Clock& clock_;
  LeaseLockOptions o_;
  std::map<std::string, Observation> observed_;  // by slot name
};

}  // namespace nodeagent::drain
