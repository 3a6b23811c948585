#include "permissions/required_permissions.h"

#include <algorithm>
#include <iterator>
#include <tuple>
#include <variant>

#include "config/param_validation.h"

namespace nodeagent {

namespace {

/// A Kubernetes namespace name (DNS-1123 label): 1-63 of [a-z0-9-],
/// starting and ending with a letter or digit.
bool IsNamespaceName(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

std::string RowName(size_t index, const KubePermission& row) {
  return "permission " + std::to_string(index + 1) + " (" + std::string(row.verbs) + " " + std::string(row.resource) +
         (row.group.empty() ? "" : "." + std::string(row.group)) + ")";
}

/// Why HasValidKubePermissions refused one row, in words.
std::string RowProblem(const KubePermission& row) {
  if (!HasValidKubePermissions({&row, 1})) {
    KubePermission probe = row;
    probe.verbs = "get";
    if (HasValidKubePermissions({&probe, 1})) {
      std::string known;
      for (auto v : kKubeVerbs) known += (known.empty() ? "" : " ") + std::string(v);
      return "verbs must be one or more of " + known + ", each once, separated by spaces (got \"" +
             std::string(row.verbs) + "\")";
    }
    probe = row;
    probe.resource = "pods";
    probe.group = "";
    if (HasValidKubePermissions({&probe, 1}))
      return "resource and group take lowercase letters, digits, '-' and '.', and the resource at most one "
             "\"/subresource\" (got resource \"" +
             std::string(row.resource) + "\", group \"" + std::string(row.group) + "\")";
    return row.scope == KubeScope::kCluster ? "a cluster-wide row takes no namespace"
                                            : "a namespaced row needs a namespace (or a parameter naming it)";
  }
  return "";
}

int VerbRank(const std::string& verb) {
  auto it = std::find(std::begin(kKubeVerbs), std::end(kKubeVerbs), verb);
  return static_cast<int>(it - std::begin(kKubeVerbs));
}

auto SortKey(const ResourceAttributes& a) {
  return std::make_tuple(a.ns, a.group, a.resource, a.subresource, VerbRank(a.verb), a.name);
}

bool Same(const ResourceAttributes& a, const ResourceAttributes& b) { return SortKey(a) == SortKey(b); }

}  // namespace

std::vector<std::string> PermissionVerbs(const KubePermission& row) {
  std::vector<std::string> verbs;
  std::string_view rest = row.verbs;
  while (!rest.empty()) {
    size_t space = rest.find(' ');
    std::string_view word = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    if (!word.empty()) verbs.emplace_back(word);
  }
  return verbs;
}

Status CheckKubePermissionTable(std::span<const KubePermission> table, std::span<const ParamSpec> params) {
  for (size_t i = 0; i < table.size(); ++i) {
    const KubePermission& row = table[i];
    if (std::string why = RowProblem(row); !why.empty()) return InvalidArgument(RowName(i, row) + ": " + why);
    if (row.scope == KubeScope::kNamespace && !IsNamespaceName(row.ns))
      return InvalidArgument(RowName(i, row) + ": \"" + std::string(row.ns) +
                             "\" is not a namespace name (lowercase letters, digits and '-', at most 63)");
    if (row.scope == KubeScope::kNamespaceParam) {
      auto p = std::find_if(params.begin(), params.end(), [&](const ParamSpec& s) { return s.name == row.ns; });
      if (p == params.end())
        return InvalidArgument(RowName(i, row) + ": its namespace comes from parameter '" + std::string(row.ns) +
                               "', which the action does not have");
      if (p->type != ParamType::kString)
        return InvalidArgument(RowName(i, row) + ": its namespace comes from parameter '" + std::string(row.ns) +
                               "', which is of type " + ParamTypeName(p->type) + ", not string");
    }
  }
  return Status::Ok();
}

Result<std::vector<ResourceAttributes>> ResolveKubePermissions(std::span<const KubePermission> table,
                                                               std::span<const ParamSpec> specs,
                                                               const Params* params) {
  std::vector<ResourceAttributes> out;
  for (const KubePermission& row : table) {
    ResourceAttributes base;
    base.group = std::string(row.group);
    std::string_view resource = row.resource;
    size_t slash = resource.find('/');
    base.resource = std::string(resource.substr(0, slash));
    if (slash != std::string_view::npos) base.subresource = std::string(resource.substr(slash + 1));
    if (row.scope == KubeScope::kNamespace) base.ns = std::string(row.ns);
    if (row.scope == KubeScope::kNamespaceParam) {
      std::string param(row.ns);
      if (params && params->Has(param)) {
        base.ns = params->GetString(param);
      } else {
        auto spec = std::find_if(specs.begin(), specs.end(), [&](const ParamSpec& s) { return s.name == row.ns; });
        if (spec == specs.end()) return InvalidArgument("no parameter '" + param + "' for the namespace of " +
                                                        std::string(row.resource));
        auto def = DefaultValue(*spec);
        if (!def) return def.error().Wrap(param);
        if (!*def || !std::holds_alternative<std::string>(**def))
          return InvalidArgument(param + ": has no default namespace; set it in the task");
        base.ns = std::get<std::string>(**def);
      }
      if (!IsNamespaceName(base.ns))
        return InvalidArgument(param + ": \"" + base.ns + "\" is not a namespace name");
    }
    for (std::string& verb : PermissionVerbs(row)) {
      ResourceAttributes a = base;
      a.verb = std::move(verb);
      out.push_back(std::move(a));
    }
  }
  return out;
}

std::span<const KubePermission> CorePermissions() {
  static constexpr KubePermission kCore[] = {
      Cluster("create", "authorization.k8s.io", "selfsubjectaccessreviews",
              "agentctl kube check: ask the API server what the agent may do"),
  };
  static_assert(HasValidKubePermissions(kCore));
  return kCore;
}

std::span<const KubePermission> StatusPermissions() {
  static constexpr KubePermission kStatus[] = {
      Cluster("get", "", "nodes", "agentctl status: schedulable or cordoned, our annotations and conditions"),
      InNamespace("default", "list", "", "events", "agentctl status: the last Events nodeagent posted about the node"),
      InNamespace("kube-system", "get", "coordination.k8s.io", "leases",
                  "agentctl status: who holds the reboot lock (drain-and-reboot's default lock namespace)"),
  };
  static_assert(HasValidKubePermissions(kStatus));
  return kStatus;
}

std::span<const KubePermission> NodeConditionPermissions() {
  static constexpr KubePermission kConditions[] = {
      Cluster("get", "", "nodes", "read the Node's conditions, to keep their lastTransitionTime"),
      Cluster("patch", "", "nodes/status", "set the actions' Node conditions (NodeAgent...) on this Node"),
  };
  static_assert(HasValidKubePermissions(kConditions));
  return kConditions;
}

std::span<const KubePermission> NodeEventPermissions() {
  static constexpr KubePermission kEvents[] = {
      InNamespace("default", "create get patch", "", "events",
                  "post Events on this Node (Nodeagent...), counting up a repeated one"),
  };
  static_assert(HasValidKubePermissions(kEvents));
  return kEvents;
}

void PermissionSet::Add(const ResourceAttributes& what, const std::string& needed_by) {
  for (RequiredPermission& r : rows_) {
    if (!Same(r.what, what)) continue;
    if (std::find(r.needed_by.begin(), r.needed_by.end(), needed_by) == r.needed_by.end())
      r.needed_by.insert(std::upper_bound(r.needed_by.begin(), r.needed_by.end(), needed_by), needed_by);
    return;
  }
  rows_.push_back({what, {needed_by}});
}

Status PermissionSet::AddTable(std::span<const KubePermission> table, std::span<const ParamSpec> specs,
                               const Params* params, const std::string& needed_by) {
  auto rows = ResolveKubePermissions(table, specs, params);
  if (!rows) return rows.error().Wrap(needed_by);
  for (const ResourceAttributes& a : *rows) Add(a, needed_by);
  return Status::Ok();
}

std::vector<RequiredPermission> PermissionSet::rows() const {
  std::vector<RequiredPermission> out = rows_;
  std::sort(out.begin(), out.end(),
            [](const RequiredPermission& a, const RequiredPermission& b) { return SortKey(a.what) < SortKey(b.what); });
  return out;
}

Result<std::vector<RequiredPermission>> CollectPermissions(const std::vector<const ActionInfo*>& actions,
                                                           const std::vector<ConfiguredAction>& tasks) {
  PermissionSet set;
  if (Status st = set.AddTable(CorePermissions(), {}, nullptr, "agentctl kube check"); !st.ok()) return st.error();
  if (Status st = set.AddTable(StatusPermissions(), {}, nullptr, "agentctl status"); !st.ok()) return st.error();
  if (!actions.empty() || !tasks.empty()) {  // a run may post Events: any action's
    if (Status st = set.AddTable(NodeEventPermissions(), {}, nullptr, "nodeagent (Node Events)"); !st.ok())
      return st.error();
  }
  bool conditions = std::any_of(actions.begin(), actions.end(), [](const ActionInfo* a) { return !a->conditions.empty(); }) ||
                    std::any_of(tasks.begin(), tasks.end(), [](const ConfiguredAction& t) { return !t.action->conditions.empty(); });
  if (conditions) {
    if (Status st = set.AddTable(NodeConditionPermissions(), {}, nullptr, "nodeagent (Node conditions)"); !st.ok())
      return st.error();
  }
  for (const ActionInfo* a : actions)
    if (Status st = set.AddTable(a->permissions, a->params, nullptr, a->name); !st.ok()) return st.error();
  for (const ConfiguredAction& t : tasks) {
    auto rows = ResolveKubePermissions(t.action->permissions, t.action->params, &t.params);
    if (!rows) return rows.error().Wrap("task " + t.task);
    auto defaults = ResolveKubePermissions(t.action->permissions, t.action->params, nullptr);
    for (const ResourceAttributes& row : *rows) {
      bool by_default = defaults && std::any_of(defaults->begin(), defaults->end(),
                                                [&](const ResourceAttributes& d) { return Same(d, row); });
      set.Add(row, by_default ? t.action->name : t.action->name + " (task " + t.task + ")");
    }
  }
  return set.rows();
}

}  // namespace nodeagent
