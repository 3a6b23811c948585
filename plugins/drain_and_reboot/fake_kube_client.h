// A KubeClient for unit tests of the lease lock, the blockers and the reboot
// coordinator: leases kept in memory with resourceVersions and 409s like the
// API server, nodes with merge patches, pods in a list that evictions and
// deletions remove (a watch relists them on every change), and every other
// call an error. Every call that changes the cluster is recorded by the
// object it names ("kube:pods/ns/name", as Change::objects spells it). Tests
// can inject a conflict before the next lease write to exercise the re-read
// path, and hook node and lease reads to act "meanwhile" (an administrator,
// the kubelet, another node).
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "nodeagent/host.h"
#include "nodeagent/kube.h"

namespace nodeagent::drain {

class FakeKubeClient : public KubeClient {
 public:
  nlohmann::json pods = {{"items", nlohmann::json::array()}};
  int conflicts_to_inject = 0;  // next N lease writes fail with 409 after bumping the rv
  int lease_writes = 0;

  std::map<std::string, nlohmann::json> leases;  // ns/name -> lease
  std::map<std::string, nlohmann::json> nodes;   // name -> node
  /// Called before each GetNode / GetLease answer (outside the lock).
  std::function<void()> before_get_node;
  std::function<void()> before_get_lease;
  /// Called (unlocked) before each eviction of "ns/name": true answers 429,
  /// as a PodDisruptionBudget refusing it would.
  std::function<bool(const std::string&)> refuse_eviction;
  /// The next N node patches / node reads time out on the client's side.
  int patch_node_timeouts = 0;
  int get_node_timeouts = 0;
  /// Asked (unlocked) on each lease read after before_get_lease: true answers 503.
  std::function<bool()> get_lease_fails;
  /// Called (unlocked) before each lease update: a test's "just before this write".
  std::function<void()> before_update_lease;
  /// Asked (unlocked) on each lease update, after before_update_lease: true answers 503.
  std::function<bool()> update_lease_fails;

  /// A copy of `leases` taken under the fake's lock: what a hook running
  /// beside another thread (a lease renewer) may read.
  std::map<std::string, nlohmann::json> LeasesNow() const {
    std::lock_guard<std::mutex> l(mu_);
    return leases;
  }

  /// Changes made, in order, by the object they name; Events counted apart.
  std::vector<std::string> mutations() const {
    std::lock_guard<std::mutex> l(mu_);
    return mutations_;
  }
  int events() const {
    std::lock_guard<std::mutex> l(mu_);
    return events_;
  }

  /// How long a lease watch waits for a change before it returns (0: it
  /// returns at once when nothing changed, for tests on a FakeClock).
  std::chrono::milliseconds watch_block{0};
  /// When set, a lease watch that sees no change sleeps its whole duration
  /// on this clock (a FakeClock: time jumps) and returns.
  Clock* clock = nullptr;
  /// Called (unlocked) as a lease watch starts, with the lease's name: a
  /// test's "meanwhile" (the waiter taking its slot, a holder dying).
  std::function<void(const std::string&)> on_lease_watch;
  /// The resourceVersion each lease watch asked to start from, in order.
  std::vector<std::string> lease_watch_from;
  /// When set, each lease watch first sends a BOOKMARK with this resourceVersion.
  std::string lease_watch_bookmark;

  /// GET of a lease collection (labelSelector k=v,k2=v2) and a strategic
  /// merge patch of a node's status conditions (merged by type, as the API
  /// server does); anything else unsupported.
  KubeResult<nlohmann::json> Request(const KubeRequest& r) override {
    if (r.method == "PATCH" && r.path.rfind("/api/v1/nodes/", 0) == 0 && r.path.ends_with("/status")) {
      std::lock_guard<std::mutex> l(mu_);
      const std::string name = r.path.substr(14, r.path.size() - 14 - 7);
      auto it = nodes.find(name);
      if (it == nodes.end()) return KubeResult<nlohmann::json>(NotFound("node " + name), {404, "NotFound"});
      if (r.content_type != PatchContentType(PatchType::kStrategicMerge)) return Unsupported();
      status_patches.push_back(name);
      nlohmann::json& conds = it->second["status"]["conditions"];
      if (!conds.is_array()) conds = nlohmann::json::array();
      for (const auto& c : r.body.value("status", nlohmann::json::object()).value("conditions", nlohmann::json::array())) {
        bool merged = false;
        for (auto& have : conds)
          if (have.value("type", "") == c.value("type", "")) {
            have.merge_patch(c);
            merged = true;
          }
        if (!merged) conds.push_back(c);
      }
      return it->second;
    }
    const std::string prefix = "/apis/coordination.k8s.io/v1/namespaces/";
    if (r.method != "GET" || r.path.rfind(prefix, 0) != 0 || !r.path.ends_with("/leases")) return Unsupported();
    const std::string ns = r.path.substr(prefix.size(), r.path.size() - prefix.size() - 7);
    std::vector<std::pair<std::string, std::string>> want;
    for (const auto& [k, v] : r.query) {
      if (k != "labelSelector") continue;
      size_t start = 0;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        std::string term = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (auto eq = term.find('='); eq != std::string::npos) want.emplace_back(term.substr(0, eq), term.substr(eq + 1));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    if (before_get_lease) before_get_lease();
    std::lock_guard<std::mutex> l(mu_);
    ++lease_lists;
    nlohmann::json items = nlohmann::json::array();
    for (const auto& [key, lease] : leases) {
      if (key.rfind(ns + "/", 0) != 0) continue;
      bool match = true;
      for (const auto& [k, v] : want)
        match = match && lease.contains("metadata") && lease["metadata"].contains("labels") &&
                lease["metadata"]["labels"].value(k, std::string("\x01")) == v;
      if (match) items.push_back(lease);
    }
    return nlohmann::json{{"kind", "LeaseList"}, {"items", items},
                          {"metadata", {{"resourceVersion", std::to_string(rv_)}}}};
  }
  int lease_lists = 0;
  int lease_watches = 0;
  std::vector<std::string> status_patches;  // node names, one per status patch
  KubeResult<nlohmann::json> GetVersion() override { return Unsupported(); }
  KubeResult<nlohmann::json> GetNode(const std::string& name) override {
    if (before_get_node) before_get_node();
    std::lock_guard<std::mutex> l(mu_);
    if (get_node_timeouts > 0) {
      --get_node_timeouts;
      return KubeResult<nlohmann::json>(Error(ErrorCode::kTimeout, "Operation timed out after 30000 milliseconds"));
    }
    auto it = nodes.find(name);
    if (it == nodes.end()) return KubeResult<nlohmann::json>(NotFound("node " + name), {404, "NotFound"});
    return it->second;
  }
  KubeResult<nlohmann::json> ListNodes(const ListOptions&) override { return Unsupported(); }
  KubeResult<nlohmann::json> PatchNode(const std::string& name, const nlohmann::json& patch, PatchType type) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = nodes.find(name);
    if (it == nodes.end()) return KubeResult<nlohmann::json>(NotFound("node " + name), {404, "NotFound"});
    if (type != PatchType::kMerge) return Unsupported();
    if (patch_node_timeouts > 0) {
      --patch_node_timeouts;
      return KubeResult<nlohmann::json>(Error(ErrorCode::kTimeout, "Operation timed out after 30000 milliseconds"));
    }
    mutations_.push_back("kube:nodes/" + name);
    it->second.merge_patch(patch);
    return it->second;
  }
  KubeResult<nlohmann::json> ListPods(const std::string&, const ListOptions& o) override {
    std::lock_guard<std::mutex> l(mu_);
    last_pod_list = o;
    return pods;
  }
  KubeResult<nlohmann::json> GetPod(const std::string& ns, const std::string& name) override {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& p : pods["items"])
      if (p["metadata"].value("namespace", "") == ns && p["metadata"].value("name", "") == name) return p;
    return KubeResult<nlohmann::json>(NotFound("pod " + ns + "/" + name), {404, "NotFound"});
  }
  /// Deleting and evicting remove the pod at once (no grace period; a PDB
  /// refusal only through refuse_eviction).
  KubeResult<nlohmann::json> DeletePod(const std::string& ns, const std::string& name,
                                       const DeleteOptions& o) override {
    return RemovePod(ns, name, o);
  }
  KubeResult<nlohmann::json> EvictPod(const std::string& ns, const std::string& name,
                                      const DeleteOptions& o) override {
    if (refuse_eviction && refuse_eviction(ns + "/" + name))
      return KubeResult<nlohmann::json>(Error(ErrorCode::kTooManyRequests, "429 disruption budget"),
                                        {429, "TooManyRequests"});
    return RemovePod(ns, name, o);
  }
  /// Pods: the list as kRelisted at the start and after each removal. One
  /// lease (path .../leases, fieldSelector metadata.name=X): MODIFIED or
  /// DELETED events as it changes, for up to watch_block.
  KubeStatus Watch(const WatchRequest& w, const WatchCallback& callback, const std::atomic<bool>* stop) override {
    if (w.path.ends_with("/leases")) return WatchLease(w, callback, stop);
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      const int seen = pod_removals_;
      nlohmann::json list = pods;
      l.unlock();
      if (!callback({WatchEventType::kRelisted, list})) return KubeStatus();
      l.lock();
      pods_changed_.wait_for(l, std::chrono::milliseconds(20), [&] { return pod_removals_ != seen; });
      if (stop && stop->load()) return KubeStatus();
    }
  }
  KubeResult<nlohmann::json> GetLease(const std::string& ns, const std::string& name) override {
    if (before_get_lease) before_get_lease();
    if (get_lease_fails && get_lease_fails()) return Unavailable();
    std::lock_guard<std::mutex> l(mu_);
    auto it = leases.find(ns + "/" + name);
    if (it == leases.end()) return KubeResult<nlohmann::json>(NotFound("lease " + name), {404, "NotFound"});
    return it->second;
  }
  KubeResult<nlohmann::json> CreateLease(const std::string& ns, const nlohmann::json& lease) override {
    std::lock_guard<std::mutex> l(mu_);
    ++lease_writes;
    mutations_.push_back("kube:leases/" + ns + "/" + lease["metadata"].value("name", ""));
    std::string key = ns + "/" + lease["metadata"].value("name", "");
    if (leases.count(key)) return Conflict("AlreadyExists");
    auto stored = lease;
    stored["metadata"]["resourceVersion"] = std::to_string(++rv_);
    // Server time, one second apart per object, so that creation order sorts.
    char ts[32];
    const int n = ++created_;
    std::snprintf(ts, sizeof ts, "2026-01-01T%02d:%02d:%02dZ", n / 3600 % 24, n / 60 % 60, n % 60);
    stored["metadata"]["creationTimestamp"] = ts;
    leases_changed_.notify_all();
    return leases[key] = stored;
  }
  KubeResult<nlohmann::json> UpdateLease(const std::string& ns, const nlohmann::json& lease) override {
    if (before_update_lease) before_update_lease();
    if (update_lease_fails && update_lease_fails()) return Unavailable();
    std::lock_guard<std::mutex> l(mu_);
    ++lease_writes;
    mutations_.push_back("kube:leases/" + ns + "/" + lease["metadata"].value("name", ""));
    std::string key = ns + "/" + lease["metadata"].value("name", "");
    auto it = leases.find(key);
    if (it == leases.end()) return KubeResult<nlohmann::json>(NotFound("lease"), {404, "NotFound"});
    if (conflicts_to_inject > 0) {
      --conflicts_to_inject;
      it->second["metadata"]["resourceVersion"] = std::to_string(++rv_);
      return Conflict("Conflict");
    }
    if (lease["metadata"].value("resourceVersion", "") != it->second["metadata"].value("resourceVersion", ""))
      return Conflict("Conflict");
    auto stored = lease;
    stored["metadata"]["resourceVersion"] = std::to_string(++rv_);
    if (it->second["metadata"].contains("creationTimestamp"))
      stored["metadata"]["creationTimestamp"] = it->second["metadata"]["creationTimestamp"];
    leases_changed_.notify_all();
    return it->second = stored;
  }
  KubeResult<nlohmann::json> DeleteLease(const std::string& ns, const std::string& name,
                                         const std::string& rv) override {
    std::lock_guard<std::mutex> l(mu_);
    mutations_.push_back("kube:leases/" + ns + "/" + name);
    auto it = leases.find(ns + "/" + name);
    if (it == leases.end()) return KubeResult<nlohmann::json>(NotFound("lease"), {404, "NotFound"});
    if (!rv.empty() && rv != it->second["metadata"].value("resourceVersion", "")) return Conflict("Conflict");
    leases.erase(it);
    ++rv_;
    leases_changed_.notify_all();
    return nlohmann::json::object();
  }
  KubeResult<nlohmann::json> CreateEvent(const EventSpec&) override {
    std::lock_guard<std::mutex> l(mu_);
    ++events_;
    return nlohmann::json::object();
  }
  KubeResult<nlohmann::json> GetDaemonSet(const std::string&, const std::string&) override { return Unsupported(); }
  KubeResult<nlohmann::json> PatchDaemonSet(const std::string& ns, const std::string& name, const nlohmann::json&,
                                            PatchType) override {
    std::lock_guard<std::mutex> l(mu_);
    mutations_.push_back("kube:daemonsets/" + ns + "/" + name);
    return Unsupported();
  }
  KubeResult<nlohmann::json> ListPodDisruptionBudgets(const std::string&) override {
    return nlohmann::json{{"items", nlohmann::json::array()}};
  }
  KubeResult<AccessDecision> CheckAccess(const ResourceAttributes&) override {
    return KubeResult<AccessDecision>(Error(ErrorCode::kInternal, "fake"));
  }

  ListOptions last_pod_list;

 private:
  static KubeResult<nlohmann::json> Unsupported() {
    return KubeResult<nlohmann::json>(Error(ErrorCode::kInternal, "fake: not supported"));
  }
  static KubeResult<nlohmann::json> Unavailable() {
    return KubeResult<nlohmann::json>(Error(ErrorCode::kUnavailable, "503 Service Unavailable"), {503, "ServiceUnavailable"});
  }
  static KubeResult<nlohmann::json> Conflict(const std::string& reason) {
    return KubeResult<nlohmann::json>(Error(ErrorCode::kConflict, "409 " + reason), {409, reason});
  }
  KubeResult<nlohmann::json> RemovePod(const std::string& ns, const std::string& name, const DeleteOptions& o) {
    std::lock_guard<std::mutex> l(mu_);
    mutations_.push_back("kube:pods/" + ns + "/" + name);
    auto& items = pods["items"];
    for (auto it = items.begin(); it != items.end(); ++it) {
      if ((*it)["metadata"].value("namespace", "") != ns || (*it)["metadata"].value("name", "") != name) continue;
      if (!o.precondition_uid.empty() && o.precondition_uid != (*it)["metadata"].value("uid", ""))
        return Conflict("Conflict");
      items.erase(it);
      ++pod_removals_;
      pods_changed_.notify_all();
      return nlohmann::json::object();
    }
    return KubeResult<nlohmann::json>(NotFound("pod " + ns + "/" + name), {404, "NotFound"});
  }

  KubeStatus WatchLease(const WatchRequest& w, const WatchCallback& callback, const std::atomic<bool>* stop) {
    const std::string prefix = "/apis/coordination.k8s.io/v1/namespaces/";
    const std::string ns = w.path.substr(prefix.size(), w.path.size() - prefix.size() - 7);
    const std::string name = w.field_selector.substr(w.field_selector.find('=') + 1);
    const std::string key = ns + "/" + name;
    if (on_lease_watch) on_lease_watch(name);
    std::unique_lock<std::mutex> l(mu_);
    ++lease_watches;
    lease_watch_from.push_back(w.resource_version);
    if (!lease_watch_bookmark.empty()) {
      WatchEvent b{WatchEventType::kBookmark, {{"metadata", {{"resourceVersion", lease_watch_bookmark}}}}};
      l.unlock();
      if (!callback(b)) return KubeStatus();
      l.lock();
    }
    auto version = [&] {
      auto it = leases.find(key);
      return it == leases.end() ? std::string("gone") : it->second["metadata"].value("resourceVersion", "");
    };
    std::string seen = w.resource_version.empty() ? version() : w.resource_version;
    const auto until = std::chrono::steady_clock::now() + std::min(watch_block, w.duration.count() > 0
                                                                                    ? w.duration
                                                                                    : watch_block);
    for (;;) {
      if (version() == seen) {
        if (clock) {
          l.unlock();
          clock->SleepFor(w.duration, nullptr);
          return KubeStatus();
        }
        if (!leases_changed_.wait_until(l, until, [&] { return version() != seen || (stop && stop->load()); }))
          return KubeStatus();
      }
      if (stop && stop->load()) return KubeStatus();
      seen = version();
      auto it = leases.find(key);
      WatchEvent e{it == leases.end() ? WatchEventType::kDeleted : WatchEventType::kModified,
                   it == leases.end() ? nlohmann::json{{"metadata", {{"name", name}}}} : it->second};
      l.unlock();
      bool more = callback(e);
      l.lock();
      if (!more) return KubeStatus();
    }
  }

  mutable std::mutex mu_;
  std::condition_variable leases_changed_;
  int created_ = 0;
  std::condition_variable pods_changed_;
  int pod_removals_ = 0;
  int events_ = 0;
  std::vector<std::string> mutations_;
  int64_t rv_ = 100;
};

}  // namespace nodeagent::drain
