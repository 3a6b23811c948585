// A KubeClient for unit tests in which every call fails with "not scripted:
// CALL" (kInternal), so a test overrides only the calls its code under test
// should make and an unexpected call shows up as a clear error instead of a
// silent empty answer. Tests that need a faithful server use the test API
// server (tests/apiserver/) through the real client instead.
#pragma once

#include <string>

#include "nodeagent/kube.h"

namespace nodeagent {

class StubKubeClient : public KubeClient {
 public:
  KubeResult<nlohmann::json> Request(const KubeRequest& r) override { return No("Request " + r.method + " " + r.path); }
  KubeResult<nlohmann::json> GetVersion() override { return No("GetVersion"); }
  KubeResult<nlohmann::json> GetNode(const std::string& name) override { return No("GetNode " + name); }
  KubeResult<nlohmann::json> ListNodes(const ListOptions&) override { return No("ListNodes"); }
  KubeResult<nlohmann::json> PatchNode(const std::string& name, const nlohmann::json&, PatchType) override {
    return No("PatchNode " + name);
  }
  KubeResult<nlohmann::json> ListPods(const std::string& ns, const ListOptions&) override { return No("ListPods " + ns); }
  KubeResult<nlohmann::json> GetPod(const std::string& ns, const std::string& name) override {
    return No("GetPod " + ns + "/" + name);
  }
  KubeResult<nlohmann::json> DeletePod(const std::string& ns, const std::string& name, const DeleteOptions&) override {
    return No("DeletePod " + ns + "/" + name);
  }
  KubeResult<nlohmann::json> EvictPod(const std::string& ns, const std::string& name, const DeleteOptions&) override {
    return No("EvictPod " + ns + "/" + name);
  }
  KubeStatus Watch(const WatchRequest&, const WatchCallback&, const std::atomic<bool>*) override {
    return KubeStatus(Error(ErrorCode::kInternal, "not scripted: Watch"));
  }
  KubeResult<nlohmann::json> GetLease(const std::string& ns, const std::string& name) override {
    return No("GetLease " + ns + "/" + name);
  }
  KubeResult<nlohmann::json> CreateLease(const std::string& ns, const nlohmann::json&) override {
    return No("CreateLease " + ns);
  }
  KubeResult<nlohmann::json> UpdateLease(const std::string& ns, const nlohmann::json&) override {
    return No("UpdateLease " + ns);
  }
  KubeResult<nlohmann::json> DeleteLease(const std::string& ns, const std::string& name, const std::string&) override {
    return No("DeleteLease " + ns + "/" + name);
  }
  KubeResult<nlohmann::json> CreateEvent(const EventSpec&) override { return No("CreateEvent"); }
  KubeResult<nlohmann::json> GetDaemonSet(const std::string& ns, const std::string& name) override {
    return No("GetDaemonSet " + ns + "/" + name);
  }
  KubeResult<nlohmann::json> PatchDaemonSet(const std::string& ns, const std::string& name, const nlohmann::json&,
                                            PatchType) override {
    return No("PatchDaemonSet " + ns + "/" + name);
  }
  KubeResult<nlohmann::json> ListPodDisruptionBudgets(const std::string& ns) override {
    return No("ListPodDisruptionBudgets " + ns);
  }
  KubeResult<AccessDecision> CheckAccess(const ResourceAttributes&) override {
    return KubeResult<AccessDecision>(Error(ErrorCode::kInternal, "not scripted: CheckAccess"));
  }

  /// A 404 the way the real client reports one, for overrides to return.
  static KubeResult<nlohmann::json> NotFoundAnswer(const std::string& what) {
    KubeErrorDetail d;
    d.http_status = 404;
    d.reason = "NotFound";
    return KubeResult<nlohmann::json>(Error(ErrorCode::kNotFound, what + " not found"), d);
  }

 protected:
  static KubeResult<nlohmann::json> No(const std::string& call) {
    return KubeResult<nlohmann::json>(Error(ErrorCode::kInternal, "not scripted: " + call));
  }
};

}  // namespace nodeagent
