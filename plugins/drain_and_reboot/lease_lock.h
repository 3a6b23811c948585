// The cluster-wide reboot lock: at most `concurrency` nodes between cordon and
// uncordon at any time. Each slot is one coordination.k8s.io/v1 Lease
// (`<prefix>-0` .. `<prefix>-<N-1>` in the lock namespace) whose
// holderIdentity is the node name. A lease whose renewTime +
// leaseDurationSeconds has passed belongs to a dead holder and is taken over.
// Every write uses the lease's resourceVersion: on 409 the slot is re-read and
// decided again, so two agents can never both think they hold one slot.
#pragma once

#include <chrono>
#include <functional>
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
  /// else a missing, free or expired one is taken. nullopt when all slots are
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
  nlohmann::json MakeLease(const std::string& name, const nlohmann::json* old);
  bool Expired(const nlohmann::json& lease);

  KubeClient& kube_;
  Clock& clock_;
  LeaseLockOptions o_;
};

}  // namespace nodeagent::drain
