// What each typed KubeClient call sends: the method, the path (built with
// ResourcePath, so names cannot escape their segment), the query and the
// body, as a KubeRequest for the generic Request. Pure functions, so the
// shape of every call (an Eviction's body, an Event's fields, DeleteOptions
// preconditions) is tested without a server, and the client's typed methods
// are one line each.
#pragma once

#include <chrono>
#include <string>

#include "nodeagent/kube.h"

namespace nodeagent::kube::requests {

Result<KubeRequest> GetVersion();

Result<KubeRequest> GetNode(const std::string& name);
Result<KubeRequest> ListNodes(const ListOptions& options);
Result<KubeRequest> PatchNode(const std::string& name, const nlohmann::json& patch, PatchType type);

/// `ns` "" lists pods in all namespaces.
Result<KubeRequest> ListPods(const std::string& ns, const ListOptions& options);
Result<KubeRequest> GetPod(const std::string& ns, const std::string& name);
Result<KubeRequest> DeletePod(const std::string& ns, const std::string& name, const DeleteOptions& options);
/// A 429 (a PodDisruptionBudget says "not now") is not retried.
Result<KubeRequest> EvictPod(const std::string& ns, const std::string& name, const DeleteOptions& options);

Result<KubeRequest> GetLease(const std::string& ns, const std::string& name);
Result<KubeRequest> CreateLease(const std::string& ns, const nlohmann::json& lease);
/// kInvalidArgument without metadata.name or metadata.resourceVersion.
Result<KubeRequest> UpdateLease(const std::string& ns, const nlohmann::json& lease);
Result<KubeRequest> DeleteLease(const std::string& ns, const std::string& name, const std::string& resource_version);

/// A core/v1 Event stamped `now`, named after the involved object plus the
/// time in hex nanoseconds (unique per object, like kubectl's).
Result<KubeRequest> CreateEvent(const EventSpec& event, std::chrono::system_clock::time_point now);

Result<KubeRequest> GetDaemonSet(const std::string& ns, const std::string& name);
Result<KubeRequest> PatchDaemonSet(const std::string& ns, const std::string& name, const nlohmann::json& patch,
                                   PatchType type);

/// `ns` "" lists all namespaces.
Result<KubeRequest> ListPodDisruptionBudgets(const std::string& ns);

/// A SelfSubjectAccessReview, and the decision read from its answer.
Result<KubeRequest> CheckAccess(const ResourceAttributes& what);
AccessDecision AccessDecisionFrom(const nlohmann::json& review);

/// The query of a list or watch call (empty fields left out).
std::vector<std::pair<std::string, std::string>> ListQuery(const ListOptions& options);

}  // namespace nodeagent::kube::requests

namespace nodeagent::kube {

/// "2026-01-02T03:04:05Z".
std::string FormatRfc3339(std::chrono::system_clock::time_point t);

}  // namespace nodeagent::kube
