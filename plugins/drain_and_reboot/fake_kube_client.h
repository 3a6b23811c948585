// A KubeClient for unit tests of the lease lock, the blockers and the reboot
// coordinator: leases kept in memory with resourceVersions and 409s like the
// API server, nodes with merge patches, pods returned from a fixed list, and
// every other call an error. Tests can inject a conflict before the next lease
// write to exercise the re-read path, and hook node and lease reads to act
// "meanwhile" (an administrator, the kubelet, another node).
#pragma once

#include <functional>
#include <map>
#include <mutex>

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
    it->second.merge_patch(patch);
    return it->second;
  }
  KubeResult<nlohmann::json> ListPods(const std::string&, const ListOptions& o) override {
    last_pod_list = o;
    return pods;
  }
  KubeResult<nlohmann::json> GetPod(const std::string&, const std::string&) override { return Unsupported(); }
  KubeResult<nlohmann::json> DeletePod(const std::string&, const std::string&, const DeleteOptions&) override {
    return Unsupported();
  }
  KubeResult<nlohmann::json> EvictPod(const std::string&, const std::string&, const DeleteOptions&) override {
    return Unsupported();
  }
  KubeStatus Watch(const WatchRequest&, const WatchCallback&, const std::atomic<bool>*) override {
    return KubeStatus(Error(ErrorCode::kInternal, "fake: watch not supported"));
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
    std::string key = ns + "/" + lease["metadata"].value("name", "");
    if (leases.count(key)) return Conflict("AlreadyExists");
    auto stored = lease;
    stored["metadata"]["resourceVersion"] = std::to_string(++rv_);
    return leases[key] = stored;
  }
  KubeResult<nlohmann::json> UpdateLease(const std::string& ns, const nlohmann::json& lease) override {
    std::lock_guard<std::mutex> l(mu_);
    ++lease_writes;
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
    auto it = leases.find(ns + "/" + name);
    if (it == leases.end()) return KubeResult<nlohmann::json>(NotFound("lease"), {404, "NotFound"});
    if (!rv.empty() && rv != it->second["metadata"].value("resourceVersion", "")) return Conflict("Conflict");
    leases.erase(it);
    return nlohmann::json::object();
  }
  KubeResult<nlohmann::json> CreateEvent(const EventSpec&) override { return nlohmann::json::object(); }
  KubeResult<nlohmann::json> GetDaemonSet(const std::string&, const std::string&) override { return Unsupported(); }
  KubeResult<nlohmann::json> PatchDaemonSet(const std::string&, const std::string&, const nlohmann::json&,
                                            PatchType) override {
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
  std::mutex mu_;
  int64_t rv_ = 100;
};

}  // namespace nodeagent::drain
