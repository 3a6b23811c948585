// The plan is the contract: in the apply phase an action may change only what
// its plan's changes name in Change::objects. PlanObjects is that set of names
// in a form that answers "is this covered?" quickly, so the core's apply-phase
// guard (host, commands, Kubernetes client) and a plugin that acts through its
// own descriptors (log-cleanup unlinks with unlinkat) check the same rules.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "nodeagent/action.h"

namespace nodeagent {

/// "file:" + the host path with "//", "." and ".." resolved by name (never
/// above "/"), as PlanObjects compares it.
std::string FileObject(std::string_view host_path);
/// "command:" + the program as given in argv[0].
std::string CommandObject(std::string_view program);
/// "kube:resource/name" when `ns` is empty, else "kube:resource/ns/name".
std::string KubeObject(std::string_view resource, std::string_view ns, std::string_view name);

/// The object a Kubernetes API request acts on, from its path:
/// "/api/v1/namespaces/ns/pods/web/eviction" -> "kube:pods/ns/web",
/// "/apis/crd.projectcalico.org/v1/ippools/default" -> "kube:ippools/default".
/// The resource is its plural name without its API group (as in the typed
/// calls: "leases", "daemonsets"); a subresource counts as its object. A
/// request with no name in the path (a create) takes `body`'s metadata.name,
/// or "*" when it has none (a collection: only a planned "*" covers it). A
/// path outside /api and /apis is "kube:" + the path.
std::string KubeObjectForRequest(std::string_view path, const nlohmann::json& body);

/// The objects a plan names. Rules (see Change::objects for the forms):
/// "file:/dir/**" covers /dir and every path below it; "*" as a whole segment
/// of a kube: object matches any one segment ("kube:leases/ns/*"); everything
/// else matches exactly (file paths after FileObject's normalisation).
class PlanObjects {
 public:
  PlanObjects() = default;
  /// Every object of every change in `changes`.
  explicit PlanObjects(const std::vector<Change>& changes);

  void Add(std::string_view object);
  /// Whether some planned object covers `object` (given in one of the forms).
  bool Covers(std::string_view object) const;
  bool empty() const { return exact_.empty() && subtrees_.empty() && kube_patterns_.empty(); }

 private:
  std::unordered_set<std::string> exact_;     // normalised
  std::unordered_set<std::string> subtrees_;  // "file:/dir" of "file:/dir/**"
  std::vector<std::vector<std::string>> kube_patterns_;  // segments, "*" for any
};

/// Every object named by `done` (what Apply reports it changed) that `plan`
/// does not cover, in order, without repeats.
std::vector<std::string> UnplannedObjects(const PlanObjects& plan, const std::vector<Change>& done);

}  // namespace nodeagent
