// Evicting a node's pods and waiting until they are gone, faster than
// `kubectl drain` and with its semantics: evictions run concurrently with a
// bounded number in flight, an eviction refused by a PodDisruptionBudget (429)
// is retried with backoff, deletion is awaited through one watch on the node's
// pods (not by polling each pod), and a pod whose UID changed counts as gone.
// What happens at the timeout is a policy: abort (report the blockers) or
// delete the rest without eviction.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "nodeagent/action.h"
#include "nodeagent/kube.h"

namespace nodeagent::drain {

enum class OnDrainTimeout { kAbort, kDelete };

struct DrainerOptions {
  /// Pod grace period for evictions/deletions; negative: each pod's own.
  int64_t grace_period_seconds = -1;
  /// Whole drain; 0: no limit (cancellation still stops it).
  std::chrono::milliseconds timeout{0};
  /// Evictions (HTTP calls) in flight at once. Default 16.
  int max_in_flight = 16;
  /// Delete pods instead of evicting them (bypasses PDBs), like kubectl --disable-eviction.
  bool disable_eviction = false;
  OnDrainTimeout on_timeout = OnDrainTimeout::kAbort;
  /// First retry delay after a 429; doubles up to max_backoff. A Retry-After wins.
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{5000};
  /// With on_timeout = delete: how long to wait for the deleted pods.
  std::chrono::milliseconds delete_wait{60'000};
};

struct PodRef {
  std::string ns;
  std::string name;
  std::string uid;
  std::string key() const { return ns + "/" + name; }
};

struct DrainReport {
  std::vector<PodRef> gone;                 // evicted (or deleted) and gone
  std::vector<PodRef> deleted_after_timeout;  // on_timeout = delete
  /// Still there at the end, with the last refusal ("429: Cannot evict pod ...").
  std::vector<std::pair<PodRef, std::string>> remaining;
  bool timed_out = false;
  bool cancelled = false;
  /// Set when an eviction was forbidden (RBAC 403, or the apply-phase guard):
  /// the drain ended at once, without waiting for drain_timeout.
  std::string denied;
  int eviction_calls = 0;
  int refusals = 0;  // 429s
  bool complete() const { return remaining.empty(); }
};

using DrainLog = std::function<void(LogLevel, const std::string&)>;

class Drainer {
 public:
  /// The client and clock must outlive the Drainer. `should_stop` (may be
  /// empty) is asked a few times a second while pods go: true ends the drain
  /// with `cancelled` set in the report (the run was cancelled, or the reboot
  /// lock was lost and another node may be draining now).
  Drainer(KubeClient& kube, Clock& clock, DrainerOptions options, DrainLog log, std::function<bool()> should_stop);

  /// Evicts `pods` (all bound to `node`) and waits for them to go. `list_rv`
  /// is the resourceVersion of the list the pods came from: the watch starts
  /// there, so no deletion is missed. An Error only for failures that make the
  /// outcome unknown (the watch and the fallback polling both failing); pods
  /// left over are in the report.
  Result<DrainReport> Drain(const std::string& node, const std::vector<PodRef>& pods, const std::string& list_rv);

 private:
  KubeClient& kube_;
  Clock& clock_;
  DrainerOptions options_;
  DrainLog log_;
  std::function<bool()> should_stop_;
};

}  // namespace nodeagent::drain
