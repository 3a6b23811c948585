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

  /// Changes made, in order, by the object they name; Events counted apart.
  std::vector<std::string> mutations() const {
    std::lock_guard<std::mutex> l(mu_);
    return mutations_;
  }
  int events() const {
    std::lock_guard<std::mutex> l(mu_);
    return events_;
  }

  KubeResult<nlohmann::json> Request(const KubeRequest&) override { return Unsupported(); }
  KubeResult<nlohmann::json> GetVersion() override { return Unsupported(); }
  KubeResult<nlohmann::json> GetNode(const std::string& name) override {
    if (before_get_node) before_get_node();
    std::lock_guard<std::mutex> l(mu_);
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
  /// Deleting and evicting remove the pod at once (no grace period, no PDBs).
  KubeResult<nlohmann::json> DeletePod(const std::string& ns, const std::string& name,
                                       const DeleteOptions& o) override {
    return RemovePod(ns, name, o);
  }
  KubeResult<nlohmann::json> EvictPod(const std::string& ns, const std::string& name,
                                      const DeleteOptions& o) override {
    return RemovePod(ns, name, o);
  }
  /// Pods only: the list as kRelisted at the start and after each removal.
  KubeStatus Watch(const WatchRequest&, const WatchCallback& callback, const std::atomic<bool>* stop) override {
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
    return leases[key] = stored;
  }
  KubeResult<nlohmann::json> UpdateLease(const std::string& ns, const nlohmann::json& lease) override {
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

  mutable std::mutex mu_;
  std::condition_variable pods_changed_;
  int pod_removals_ = 0;
  int events_ = 0;
  std::vector<std::string> mutations_;
  int64_t rv_ = 100;
};

}  // namespace nodeagent::drain
