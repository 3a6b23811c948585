// A KubeClient that hands every call to another one. The phase guards (the
// plan-phase guard refuses writes while planning, the apply-phase guard holds
// writes to the plan) differ only in what they do before a write; deriving
// from this, each overrides just the calls it checks, and a call added to
// KubeClient is forwarded by one class instead of repeated in each guard.
#pragma once

#include <memory>
#include <utility>

#include "nodeagent/kube.h"

namespace nodeagent {

class ForwardingKubeClient : public KubeClient {
 public:
  explicit ForwardingKubeClient(std::unique_ptr<KubeClient> inner) : inner_(std::move(inner)) {}

  KubeResult<nlohmann::json> Request(const KubeRequest& r) override { return inner_->Request(r); }
  KubeResult<nlohmann::json> GetVersion() override { return inner_->GetVersion(); }
  KubeResult<nlohmann::json> GetNode(const std::string& name) override { return inner_->GetNode(name); }
  KubeResult<nlohmann::json> ListNodes(const ListOptions& o) override { return inner_->ListNodes(o); }
  KubeResult<nlohmann::json> PatchNode(const std::string& name, const nlohmann::json& patch, PatchType t) override {
    return inner_->PatchNode(name, patch, t);
  }
  KubeResult<nlohmann::json> ListPods(const std::string& ns, const ListOptions& o) override {
    return inner_->ListPods(ns, o);
  }
  KubeResult<nlohmann::json> GetPod(const std::string& ns, const std::string& name) override {
    return inner_->GetPod(ns, name);
  }
  KubeResult<nlohmann::json> DeletePod(const std::string& ns, const std::string& name,
                                       const DeleteOptions& o) override {
    return inner_->DeletePod(ns, name, o);
  }
  KubeResult<nlohmann::json> EvictPod(const std::string& ns, const std::string& name,
                                      const DeleteOptions& o) override {
    return inner_->EvictPod(ns, name, o);
  }
  KubeStatus Watch(const WatchRequest& r, const WatchCallback& cb, const std::atomic<bool>* stop) override {
    return inner_->Watch(r, cb, stop);
  }
  KubeResult<nlohmann::json> GetLease(const std::string& ns, const std::string& name) override {
    return inner_->GetLease(ns, name);
  }
  KubeResult<nlohmann::json> CreateLease(const std::string& ns, const nlohmann::json& lease) override {
    return inner_->CreateLease(ns, lease);
  }
  KubeResult<nlohmann::json> UpdateLease(const std::string& ns, const nlohmann::json& lease) override {
    return inner_->UpdateLease(ns, lease);
  }
  KubeResult<nlohmann::json> DeleteLease(const std::string& ns, const std::string& name,
                                         const std::string& rv) override {
    return inner_->DeleteLease(ns, name, rv);
  }
  KubeResult<nlohmann::json> CreateEvent(const EventSpec& e) override { return inner_->CreateEvent(e); }
  KubeResult<nlohmann::json> GetDaemonSet(const std::string& ns, const std::string& name) override {
    return inner_->GetDaemonSet(ns, name);
  }
  KubeResult<nlohmann::json> PatchDaemonSet(const std::string& ns, const std::string& name,
                                            const nlohmann::json& patch, PatchType t) override {
    return inner_->PatchDaemonSet(ns, name, patch, t);
  }
  KubeResult<nlohmann::json> ListPodDisruptionBudgets(const std::string& ns) override {
    return inner_->ListPodDisruptionBudgets(ns);
  }
  KubeResult<AccessDecision> CheckAccess(const ResourceAttributes& what) override { return inner_->CheckAccess(what); }

 protected:
  KubeClient& inner() { return *inner_; }

 private:
  std::unique_ptr<KubeClient> inner_;
};

}  // namespace nodeagent
