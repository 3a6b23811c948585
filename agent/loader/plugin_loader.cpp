#include "loader/plugin_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstring>

#include <algorithm>
#include <deque>
#include <future>
#include <istream>
#include <iterator>
#include <ostream>
#include <filesystem>
#include <toml++/toml.h>

#include "config/param_validation.h"
#include "host/process_command_runner.h"
#include "loader/exec_action.h"
#include "loader/plugin_tables.h"
#include "nodeagent/plugin.h"
#include "node_status/node_conditions.h"
#include "permissions/required_permissions.h"

namespace nodeagent {

namespace fs = std::filesystem;

Status CheckPluginFileSafety(const std::string& path, bool require_root_owner) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return ErrnoError(path, errno);
  if (S_ISLNK(st.st_mode)) return Error(ErrorCode::kPermissionDenied, "is a symlink; plugins must be regular files");
  if (!S_ISREG(st.st_mode)) return Error(ErrorCode::kPermissionDenied, "not a regular file");
  if (!require_root_owner) return Status::Ok();
  if (st.st_uid != 0)
    return Error(ErrorCode::kPermissionDenied, "owned by uid " + std::to_string(st.st_uid) + ", not root");
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return Error(ErrorCode::kPermissionDenied, "writable by group or others (chmod go-w)");
  return Status::Ok();
}

static Status CheckDirSafety(const std::string& dir, bool require_root_owner) {
  if (!require_root_owner) return Status::Ok();
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return ErrnoError(dir, errno);
  if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
    return Error(ErrorCode::kPermissionDenied,
                 dir + " must be owned by root and not writable by group or others");
  return Status::Ok();
}

namespace {

/// The checks every native module passes, whether it is loaded here or read
/// from a probe: the ABI, no name already taken in `catalog`, and its tables.
/// `d` is only trusted past its ABI version.
Status CheckDescriptor(const PluginDescriptor& d, const ActionCatalog& catalog) {
  if (d.abi_version != kPluginAbiVersion)
    return Error(ErrorCode::kInvalidArgument, "plugin ABI version " + std::to_string(d.abi_version) +
                                                  ", this agent needs " + std::to_string(kPluginAbiVersion) +
                                                  " (rebuild the plugin against this nodeagent)");
  std::string name(d.name);
  if (auto it = catalog.plugins.find(name); it != catalog.plugins.end())
    return Error(ErrorCode::kAlreadyExists,
                 "duplicate plugin name '" + name + "' (already loaded from " + it->second + ")");
  for (const ActionSpec& a : d.actions) {
    if (const ActionInfo* other = catalog.Find(a.name))
      return Error(ErrorCode::kAlreadyExists, "action '" + std::string(a.name) + "' is already provided by plugin '" +
                                                  other->plugin + "' (" + other->source + ")");
    if (Status table = CheckParamTable(a.params); !table.ok())
      return Error(ErrorCode::kInvalidArgument, "action " + std::string(a.name) + ": " + table.error().message());
    if (Status perms = CheckKubePermissionTable(a.permissions, a.params); !perms.ok())
      return Error(ErrorCode::kInvalidArgument, "action " + std::string(a.name) + ": " + perms.error().message());
    if (Status conds = CheckConditionTable(a.conditions); !conds.ok())
      return Error(ErrorCode::kInvalidArgument, "action " + std::string(a.name) + ": " + conds.error().message());
  }
  return Status::Ok();
}

/// Adds the actions of a checked descriptor. `module_loaded`: its code is in
/// this process (create and validate are called directly); otherwise its
/// tables came from a probe, `tables` keeps them alive, create stays empty
/// and validate() runs in `probe_exe validate-params`.
void AddNativeActions(const PluginDescriptor& d, const std::string& path, bool module_loaded,
                      const std::shared_ptr<const OwnedPluginTables>& tables, const std::string& probe_exe,
                      ActionCatalog& catalog) {
  std::string name(d.name);
  for (size_t i = 0; i < d.actions.size(); ++i) {
    const ActionSpec& a = d.actions[i];
    ActionInfo info;
    info.name = std::string(a.name);
    info.plugin = name;
    info.source = path;
    info.kind = "native";
    info.description = std::string(a.description);
    info.maturity = std::string(d.maturity);
    info.params.assign(a.params.begin(), a.params.end());
    info.permissions.assign(a.permissions.begin(), a.permissions.end());
    info.conditions.assign(a.conditions.begin(), a.conditions.end());
    info.disruptive = a.disruptive;
    info.resumable = a.resumable;
    info.tables = tables;
    if (module_loaded) info.create = a.create;
    bool has_validate = module_loaded ? a.validate != nullptr : tables->has_validate()[i];
    if (has_validate) {
      if (probe_exe.empty()) {
        info.validate = a.validate;
      } else {
        // The daemon and agentctl run no plugin code: validate() runs in a
        // child, where a crash ends only the child.
        info.validate = [probe_exe, path, action = std::string(a.name)](const Params& p) {
          return ValidateInChild(probe_exe, path, action, p);
        };
      }
    }
    catalog.Add(std::move(info));
  }
  catalog.plugins[name] = path;
}

std::string_view TrimmedHead(const std::string& text, size_t max) {
  std::string_view said = std::string_view(text).substr(0, max);
  while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.remove_suffix(1);
  return said;
}

/// Runs `probe_exe probe-plugin FILE` and reads the module's tables from its
/// answer. Error when the module crashed or hung there, or was refused (the
/// probe's reason). With `cache`, the tables kept for this very file are taken
/// instead (checked as a probe's answer is), and a probe's answer is kept.
Result<std::shared_ptr<const OwnedPluginTables>> ReadTablesInChild(const std::string& path,
                                                                    const std::string& probe_exe,
                                                                    const ProbeCache* cache) {
  const std::string key = cache ? cache->Key(path) : "";
  if (auto kept = cache ? cache->Find(path, key) : std::nullopt) {
    if (auto tables = PluginTablesFromWire(*kept)) return tables;
  }
  ProcessCommandRunner runner;
  CommandSpec spec;
  spec.argv = {probe_exe, "probe-plugin", path};
  spec.timeout = std::chrono::seconds(10);
  auto r = runner.Run(spec);
  if (!r) return r.error().Wrap("cannot probe the module");
  if (r->timed_out)
    return Error(ErrorCode::kTimeout, "did not finish loading within 10 s in a probe process; not loaded");
  if (r->term_signal != 0) {
    const char* name = ::sigabbrev_np(r->term_signal);
    return Error(ErrorCode::kInternal, std::string("crashed while loading (SIG") + (name ? name : "?") +
                                           ") in a probe process; not loaded");
  }
  if (r->stdout_data.size() > kMaxPluginTablesWireBytes || r->output_truncated)
    return Error(ErrorCode::kTooLarge, "its tables are larger than " +
                                           std::to_string(kMaxPluginTablesWireBytes / 1024) + " KiB; not loaded");
  auto answer = nlohmann::json::parse(r->stdout_data, nullptr, false);
  if (answer.is_discarded() || !answer.is_object() || !answer.contains("ok")) {
    std::string_view said = TrimmedHead(r->stderr_data, 400);
    return Error(ErrorCode::kInternal, "unexpected answer from " + probe_exe + " probe-plugin (exit " +
                                           std::to_string(r->exit_code) + ")" +
                                           (said.empty() ? "" : ": " + std::string(said)));
  }
  if (!answer.value("ok", false)) {
    auto code = static_cast<ErrorCode>(answer.value("code", static_cast<int>(ErrorCode::kInvalidArgument)));
    return Error(code, answer.value("message", std::string("refused by the probe")));
  }
  if (!answer.contains("plugin")) return Internal("the probe's answer has no plugin tables");
  auto tables = PluginTablesFromWire(answer["plugin"]);
  if (tables && cache) cache->Keep(path, key, answer["plugin"]);
  return tables;
}

/// The second half of loading a probed module, in the catalog's order: its
/// descriptor checked against what is loaded already, then its actions added.
Status AddProbedPlugin(const std::string& path, const Result<std::shared_ptr<const OwnedPluginTables>>& tables,
                       ActionCatalog& catalog, const std::string& probe_exe) {
  if (!tables) return tables.error();
  if (Status st = CheckDescriptor((*tables)->descriptor(), catalog); !st.ok()) return st;
  AddNativeActions((*tables)->descriptor(), path, false, *tables, probe_exe, catalog);
  return Status::Ok();
}

/// dlopen()s `path` and checks its descriptor. On success the module stays
/// loaded for the life of the process and `d` points into it.
Status OpenModule(const std::string& path, const ActionCatalog& catalog, const PluginDescriptor*& d) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) return Error(ErrorCode::kInvalidArgument, std::string("dlopen failed: ") + ::dlerror());
  // The error is built before any dlclose, since it may quote the descriptor.
  auto check = [&]() -> Status {
    auto entry = reinterpret_cast<PluginEntryFn>(::dlsym(handle, kPluginEntrySymbol));
    if (!entry)
      return Error(ErrorCode::kInvalidArgument,
                   std::string("missing symbol '") + kPluginEntrySymbol + "' (is it a nodeagent plugin?)");
    try {
      d = entry();
    } catch (...) {
      d = nullptr;
    }
    if (!d) return Error(ErrorCode::kInvalidArgument, "entry point returned no descriptor");
    if (Status st = CheckDescriptor(*d, catalog); !st.ok()) return st;
    for (const ActionSpec& a : d->actions)
      if (!a.create) return Error(ErrorCode::kInvalidArgument, "action " + std::string(a.name) + " has no create function");
    return Status::Ok();
  };
  Status st = check();
  if (!st.ok()) ::dlclose(handle);
  return st;
}

}  // namespace

Status ProbeNativePlugin(const std::string& path, std::ostream& answer) {
  ActionCatalog scratch;
  const PluginDescriptor* d = nullptr;
  if (Status st = OpenModule(path, scratch, d); !st.ok()) {
    answer << nlohmann::json{{"ok", false}, {"code", static_cast<int>(st.error().code())},
                             {"message", st.error().message()}}
                  .dump();
    return st;
  }
  answer << nlohmann::json{{"ok", true}, {"plugin", PluginTablesToWire(*d)}}.dump();
  return Status::Ok();
}

int ValidateParamsMain(const std::string& path, const std::string& action, std::istream& wire_in,
                       std::ostream& answer) {
  ActionCatalog catalog;
  if (Status st = LoadNativePlugin(path, false, catalog); !st.ok()) {
    answer << nlohmann::json{{"ok", false}, {"message", "cannot load " + path + ": " + st.error().message()}}.dump();
    return 0;
  }
  const ActionInfo* info = catalog.Find(action);
  if (!info || !info->validate) {
    answer << nlohmann::json{{"ok", true}, {"message", ""}}.dump();
    return 0;
  }
  std::string text((std::istreambuf_iterator<char>(wire_in)), std::istreambuf_iterator<char>());
  auto wire = nlohmann::json::parse(text, nullptr, false);
  if (wire.is_discarded() || !wire.is_object()) {
    answer << nlohmann::json{{"ok", false}, {"message", "internal: parameters on stdin are not a JSON object"}}.dump();
    return 0;
  }
  Status st = CallValidate(*info, ParamsFromWire(wire));
  answer << nlohmann::json{{"ok", st.ok()}, {"message", st.ok() ? "" : st.error().message()}}.dump();
  return 0;
}

Status ValidateInChild(const std::string& probe_exe, const std::string& path, const std::string& action,
                       const Params& params) {
  ProcessCommandRunner runner;
  CommandSpec spec;
  spec.argv = {probe_exe, "validate-params", path, action};
  spec.stdin_data = ParamsToWire(params).dump();
  spec.timeout = std::chrono::seconds(10);
  auto r = runner.Run(spec);
  const std::string who = "the plugin's validate() for " + action;
  if (!r) return r.error().Wrap("cannot check the parameters of " + action);
  if (r->timed_out) return Error(ErrorCode::kTimeout, who + " did not finish within 10 s (in a child process)");
  if (r->term_signal != 0) {
    const char* name = ::sigabbrev_np(r->term_signal);
    std::string_view said = TrimmedHead(r->stderr_data, 400);
    return Error(ErrorCode::kInvalidArgument, who + " crashed (SIG" + std::string(name ? name : "?") +
                                                  ") in a child process" +
                                                  (said.empty() ? "" : ": " + std::string(said)) +
                                                  "; the agent is unaffected");
  }
  auto answer = nlohmann::json::parse(r->stdout_data, nullptr, false);
  if (r->exit_code != 0 || answer.is_discarded() || !answer.is_object())
    return Error(ErrorCode::kInternal, who + ": unexpected answer from " + probe_exe + " (exit " +
                                           std::to_string(r->exit_code) + ")");
  if (answer.value("ok", false)) return Status::Ok();
  return InvalidArgument(answer.value("message", "invalid parameters"));
}

Status LoadNativePlugin(const std::string& path, bool require_root_owner, ActionCatalog& catalog,
                        const std::string& probe_exe, const ProbeCache* cache) {
  Status safe = CheckPluginFileSafety(path, require_root_owner);
  if (!safe.ok()) return safe;
  if (probe_exe.empty()) {
    const PluginDescriptor* d = nullptr;
    if (Status st = OpenModule(path, catalog, d); !st.ok()) return st;
    AddNativeActions(*d, path, true, nullptr, probe_exe, catalog);
    return Status::Ok();
  }
  // No module mapped here: the probe loads it, and its tables come back as data.
  return AddProbedPlugin(path, ReadTablesInChild(path, probe_exe, cache), catalog, probe_exe);
}

Result<const ActionInfo*> LoadActionCode(const ActionInfo& action, bool require_root_owner, ActionCatalog& code) {
  if (action.create) return &action;
  if (Status st = LoadNativePlugin(action.source, require_root_owner, code); !st.ok())
    return st.error().Wrap("cannot load " + action.source);
  const ActionInfo* loaded = code.Find(action.name);
  if (!loaded) return NotFound("action '" + action.name + "' is no longer provided by " + action.source);
  return loaded;
}

namespace {

/// Owns the strings that exec plugins' ParamSpec views point into.
std::deque<std::string>& ExecStrings() {
  static std::deque<std::string> strings;
  return strings;
}
std::deque<std::vector<std::string_view>>& ExecAllowed() {
  static std::deque<std::vector<std::string_view>> allowed;
  return allowed;
}
std::string_view Keep(std::string s) { return ExecStrings().emplace_back(std::move(s)); }

std::optional<ParamType> ParseParamType(std::string_view s) {
  if (s == "string") return ParamType::kString;
  if (s == "int" || s == "integer") return ParamType::kInt;
  if (s == "bool" || s == "boolean") return ParamType::kBool;
  if (s == "float") return ParamType::kFloat;
  if (s == "duration") return ParamType::kDuration;
  if (s == "list" || s == "string_list") return ParamType::kStringList;
  if (s == "enum") return ParamType::kEnum;
  if (s == "int_list") return ParamType::kIntList;
  if (s == "ports") return ParamType::kPortList;
  if (s == "string_map" || s == "map") return ParamType::kStringMap;
  return std::nullopt;
}

/// `min` and `max` of an exec plugin's [[param]], written like its values
/// ("1m" or seconds for a duration; an integer for each item of an int_list).
/// Both are required for int, float, duration and int_list parameters, so an
/// exec plugin's numbers are checked like a native plugin's; other types take
/// neither.
Status ParseExecParamRange(const toml::table& p, ParamSpec& spec) {
  const toml::node* min = p.get("min");
  const toml::node* max = p.get("max");
  std::string where = "[[param]] " + std::string(spec.name) + " (line " + std::to_string(p.source().begin.line) + ")";
  if (!TakesRange(spec.type)) {
    if (min || max)
      return InvalidArgument(where + ": min and max are only for int, float, duration and int_list parameters");
    return Status::Ok();
  }
  if (!min || !max)
    return InvalidArgument(where + ": a " + ParamTypeName(spec.type) +
                           " parameter needs min and max (the accepted range, both included)");
  ParamSpec unbounded = spec;
  unbounded.range = {};
  if (spec.type == ParamType::kIntList) unbounded.type = ParamType::kInt;  // the range of each item
  auto lo = ConvertParam(unbounded, *min);
  if (!lo) return lo.error().Wrap(where + " min");
  auto hi = ConvertParam(unbounded, *max);
  if (!hi) return hi.error().Wrap(where + " max");
  auto as_number = [](const ParamValue& v) {
    if (const int64_t* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
    if (const Duration* d = std::get_if<Duration>(&v)) return static_cast<double>(d->count());
    return std::get<double>(v);
  };
  spec.range = {true, as_number(*lo), as_number(*hi)};
  return Status::Ok();
}

/// The [[permission]] rows of an exec plugin's manifest:
///   [[permission]]
///   verbs = ["get", "list"]             # or one string: "get list"
///   group = "crd.projectcalico.org"     # "" (the default) for core/v1
///   resource = "ippools"                # "pods/eviction" for a subresource
///   namespace = "kube-system"           # or namespace_param = "PARAM"; neither: cluster-wide
///   why = "read the IP pools"           # optional
/// Errors name the row's line.
Result<std::vector<KubePermission>> ParseExecPermissions(const toml::node& node, std::span<const ParamSpec> params) {
  const toml::array* rows = node.as_array();
  auto at = [](const toml::node& n) { return "[[permission]] (line " + std::to_string(n.source().begin.line) + ")"; };
  if (!rows) return InvalidArgument(at(node) + ": must be an array of tables ([[permission]])");
  static const std::string_view kKeys[] = {"verbs", "group", "resource", "namespace", "namespace_param", "why"};
  std::vector<KubePermission> out;
  for (const toml::node& rn : *rows) {
    const toml::table* r = rn.as_table();
    if (!r) return InvalidArgument(at(rn) + ": entries must be tables");
    for (auto&& [k, v] : *r) {
      if (std::find(std::begin(kKeys), std::end(kKeys), k.str()) == std::end(kKeys))
        return InvalidArgument("[[permission]] (line " + std::to_string(k.source().begin.line) + "): unknown key '" +
                               std::string(k.str()) + "' (accepted: verbs group resource namespace namespace_param why)");
      if (k.str() != "verbs" && !v.is_string())
        return InvalidArgument(at(v) + ": " + std::string(k.str()) + " must be a string");
    }
    std::string verbs;
    if (const toml::node* v = r->get("verbs")) {
      if (auto one = v->value<std::string>()) {
        verbs = *one;
      } else if (const toml::array* list = v->as_array()) {
        for (const toml::node& item : *list) {
          auto word = item.value<std::string>();
          if (!word) return InvalidArgument(at(item) + ": verbs must be strings");
          verbs += (verbs.empty() ? "" : " ") + *word;
        }
      } else {
        return InvalidArgument(at(*v) + ": verbs must be a list of strings");
      }
    }
    if (verbs.empty()) return InvalidArgument(at(*r) + ": needs verbs, e.g. verbs = [\"get\", \"list\"]");
    auto resource = (*r)["resource"].value<std::string>();
    if (!resource || resource->empty()) return InvalidArgument(at(*r) + ": needs resource, e.g. resource = \"pods\"");
    auto ns = (*r)["namespace"].value<std::string>();
    auto ns_param = (*r)["namespace_param"].value<std::string>();
    if (ns && ns_param) return InvalidArgument(at(*r) + ": give namespace or namespace_param, not both");
    KubePermission row;
    row.verbs = Keep(verbs);
    row.group = Keep((*r)["group"].value_or(std::string()));
    row.resource = Keep(*resource);
    row.why = Keep((*r)["why"].value_or(std::string()));
    if (ns) {
      if (ns->empty()) return InvalidArgument(at(*r) + ": namespace is empty (leave it out for a cluster-wide row)");
      row.scope = KubeScope::kNamespace;
      row.ns = Keep(*ns);
    } else if (ns_param) {
      row.scope = KubeScope::kNamespaceParam;
      row.ns = Keep(*ns_param);
    }
    if (Status st = CheckKubePermissionTable({&row, 1}, params); !st.ok()) {
      std::string m = st.error().message();
      return InvalidArgument(at(*r) + m.substr(m.find(':')));
    }
    out.push_back(row);
  }
  return out;
}

/// The [[condition]] rows of an exec plugin's manifest (see ConditionSpec):
///   [[condition]]
///   type = "NodeAgentMyCheck"
///   true_reason = "MyCheckFailed"
///   false_reason = "MyCheckPassed"
///   description = "what it watches"      # optional
/// Checked by CheckConditionTable; errors name the row's line.
Result<std::vector<ConditionSpec>> ParseExecConditions(const toml::node& node) {
  const toml::array* rows = node.as_array();
  auto at = [](const toml::node& n) { return "[[condition]] (line " + std::to_string(n.source().begin.line) + ")"; };
  if (!rows) return InvalidArgument(at(node) + ": must be an array of tables ([[condition]])");
  static const std::string_view kKeys[] = {"type", "true_reason", "false_reason", "description"};
  std::vector<ConditionSpec> out;
  for (const toml::node& rn : *rows) {
    const toml::table* r = rn.as_table();
    if (!r) return InvalidArgument(at(rn) + ": entries must be tables");
    for (auto&& [k, v] : *r) {
      if (std::find(std::begin(kKeys), std::end(kKeys), k.str()) == std::end(kKeys))
        return InvalidArgument("[[condition]] (line " + std::to_string(k.source().begin.line) + "): unknown key '" +
                               std::string(k.str()) + "' (accepted: type true_reason false_reason description)");
      if (!v.is_string()) return InvalidArgument(at(v) + ": " + std::string(k.str()) + " must be a string");
    }
    ConditionSpec row{Keep((*r)["type"].value_or(std::string())), Keep((*r)["true_reason"].value_or(std::string())),
                      Keep((*r)["false_reason"].value_or(std::string())),
                      Keep((*r)["description"].value_or(std::string()))};
    out.push_back(row);
    if (Status st = CheckConditionTable(out); !st.ok()) {
      const std::string& m = st.error().message();
      size_t cut = m.find("): ");  // "condition N (TYPE): why" -> why
      return InvalidArgument(at(*r) + ": " + (cut == std::string::npos ? m : m.substr(cut + 3)));
    }
  }
  return out;
}

}  // namespace

Status LoadExecPlugin(const std::string& manifest_path, bool require_root_owner, ActionCatalog& catalog) {
  Status safe = CheckPluginFileSafety(manifest_path, require_root_owner);
  if (!safe.ok()) return safe;
  toml::table m;
  try {
    m = toml::parse_file(manifest_path);
  } catch (const toml::parse_error& e) {
    return InvalidArgument("line " + std::to_string(e.source().begin.line) + ":" +
                           std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
  }
  static const std::string_view kKeys[] = {"name",     "description", "executable", "disruptive",
                                           "maturity", "param",       "permission", "condition"};
  for (auto&& [k, v] : m) {
    if (std::find(std::begin(kKeys), std::end(kKeys), k.str()) == std::end(kKeys))
      return InvalidArgument("line " + std::to_string(k.source().begin.line) + ": unknown key '" +
                             std::string(k.str()) + "' (accepted: name description executable disruptive maturity [[param]] [[permission]] "
                             "[[condition]])");
  }
  auto name = m["name"].value<std::string>();
  auto exe = m["executable"].value<std::string>();
  if (!name || name->empty()) return InvalidArgument("missing 'name'");
  if (!exe || exe->empty()) return InvalidArgument("missing 'executable'");
  std::string exe_path = (*exe)[0] == '/' ? *exe : (fs::path(manifest_path).parent_path() / *exe).string();
  Status exe_safe = CheckPluginFileSafety(exe_path, require_root_owner);
  if (!exe_safe.ok()) return exe_safe.error().Wrap("executable " + exe_path);
  if (::access(exe_path.c_str(), X_OK) != 0) return InvalidArgument("executable " + exe_path + " is not executable");
  if (const ActionInfo* other = catalog.Find(*name))
    return Error(ErrorCode::kAlreadyExists, "action '" + *name + "' is already provided by " + other->source);

  ActionInfo info;
  info.name = *name;
  info.plugin = *name;
  info.source = manifest_path;
  info.kind = "exec";
  info.description = m["description"].value_or(std::string("exec plugin ") + exe_path);
  info.maturity = m["maturity"].value_or(std::string("custom"));
  info.disruptive = m["disruptive"].value_or(false);
  if (const toml::array* params = m["param"].as_array()) {
    for (const toml::node& pn : *params) {
      const toml::table* p = pn.as_table();
      if (!p) return InvalidArgument("[[param]] entries must be tables");
      auto pname = (*p)["name"].value<std::string>();
      auto ptype = ParseParamType((*p)["type"].value_or(std::string("string")));
      if (!pname) return InvalidArgument("[[param]] without name (line " + std::to_string(p->source().begin.line) + ")");
      if (!ptype)
        return InvalidArgument("param " + *pname +
                               ": type must be string, int, bool, float, duration, list, enum, int_list, ports or "
                               "string_map");
      ParamSpec spec{Keep(*pname), *ptype, "", Keep((*p)["doc"].value_or(std::string())), {},
                     (*p)["required"].value_or(false), (*p)["secret"].value_or(false)};
      if (const toml::node* def = p->get("default")) {
        std::ostringstream os;
        if (def->is_string()) os << *def->as_string();
        else if (def->is_array()) os << *def->as_array();
        else if (def->is_integer()) os << *def->as_integer();
        else if (def->is_boolean()) os << *def->as_boolean();
        else if (def->is_floating_point()) os << *def->as_floating_point();
        else if (const toml::table* table = def->as_table()) {
          toml::table inline_copy = *table;
          inline_copy.is_inline(true);
          os << inline_copy;
        }
        spec.default_value = Keep(os.str());
      }
      if (const toml::array* allowed = (*p)["allowed"].as_array()) {
        auto& vals = ExecAllowed().emplace_back();
        for (const toml::node& a : *allowed)
          if (auto s = a.value<std::string>()) vals.push_back(Keep(*s));
        spec.allowed = vals;
      }
      Status range = ParseExecParamRange(*p, spec);
      if (!range.ok()) return range;
      if (Status row = CheckParamTable({&spec, 1}); !row.ok()) return row.error().Wrap("[[param]] " + *pname);
      info.params.push_back(spec);
    }
  }
  if (const toml::node* perms = m.get("permission")) {
    auto rows = ParseExecPermissions(*perms, info.params);
    if (!rows) return rows.error();
    info.permissions = std::move(*rows);
  }
  if (const toml::node* conds = m.get("condition")) {
    auto rows = ParseExecConditions(*conds);
    if (!rows) return rows.error();
    info.conditions = std::move(*rows);
  }
  auto config = std::make_shared<ExecActionConfig>(ExecActionConfig{*name, exe_path, true});
  info.create = [config] { return MakeExecAction(config); };
  catalog.Add(std::move(info));
  catalog.plugins[*name] = manifest_path;
  return Status::Ok();
}

void LoadPlugins(const PluginLoaderOptions& options, ActionCatalog& catalog) {
  std::error_code ec;
  // The files of `dir` named *`ext`, sorted; none when it is missing or
  // unsafe (the catalog records the search and the problem).
  auto list = [&](const std::string& dir, const std::string& ext) {
    std::vector<std::string> files;
    if (dir.empty()) return files;
    catalog.searched.push_back({dir, ext == ".so" ? "native" : "exec", fs::is_directory(dir, ec), 0});
    if (!catalog.searched.back().exists) return files;
    Status dir_safe = CheckDirSafety(dir, options.require_root_owner);
    if (!dir_safe.ok()) {
      catalog.problems.push_back({dir, dir_safe.error().message()});
      return files;
    }
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ext) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    catalog.searched.back().candidates = files.size();
    return files;
  };
  auto record = [&](const std::string& file, const Status& st) {
    if (!st.ok()) catalog.problems.push_back({file, st.error().message()});
  };
  const std::vector<std::string> modules = list(options.plugin_dir, ".so");
  if (options.probe_exe.empty()) {
    for (const auto& f : modules) record(f, LoadNativePlugin(f, options.require_root_owner, catalog));
  } else {
    // The probes (one process each, some 15 ms of loading) run side by side;
    // their tables are then checked and added in file order, so which of two
    // modules claiming one name is refused does not depend on timing.
    using Tables = Result<std::shared_ptr<const OwnedPluginTables>>;
    std::optional<ProbeCache> cache;
    if (!options.probe_cache_dir.empty())
      cache.emplace(options.probe_cache_dir, options.probe_exe, options.require_root_owner);
    const ProbeCache* kept = cache ? &*cache : nullptr;
    std::vector<std::future<Tables>> probes;
    for (const auto& f : modules)
      probes.push_back(std::async(std::launch::async, [&f, &options, kept]() -> Tables {
        if (Status safe = CheckPluginFileSafety(f, options.require_root_owner); !safe.ok()) return safe.error();
        return ReadTablesInChild(f, options.probe_exe, kept);
      }));
    for (size_t i = 0; i < modules.size(); ++i)
      record(modules[i], AddProbedPlugin(modules[i], probes[i].get(), catalog, options.probe_exe));
  }
  for (const auto& f : list(options.exec_plugin_dir, ".toml"))
    record(f, LoadExecPlugin(f, options.require_root_owner, catalog));
}

}  // namespace nodeagent
