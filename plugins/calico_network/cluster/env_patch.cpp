#include "cluster/env_patch.h"

#include "autodetect/autodetect.h"
#include "cluster/json_fields.h"

namespace nodeagent::calico {
namespace {

using nlohmann::json;

bool IsMethodVariable(std::string_view v) { return v == "IP_AUTODETECTION_METHOD" || v == "IP6_AUTODETECTION_METHOD"; }

// Single-quotes `s` for a POSIX shell.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out.push_back(c);
  }
  return out + "'";
}

}  // namespace

Result<EnvPatchPlan> PlanEnvPatch(const CalicoInstall& install, std::string_view variable, std::string_view value) {
  if (!install.found) return NotFound("cannot change " + std::string(variable) + ": " + install.not_found);
  std::string where = "daemonset " + install.ns + "/" + install.name;
  if (install.operator_managed) {
    std::string hint;
    if (IsMethodVariable(variable)) {
      auto cmd = OperatorPatchCommand(variable == "IP_AUTODETECTION_METHOD" ? AddressFamily::kIpv4 : AddressFamily::kIpv6,
                                      value);
      if (cmd.ok()) hint = "; run instead: " + *cmd;
    }
    return Error(ErrorCode::kPermissionDenied, "not writing to " + where + ": it is managed by tigera/operator (" +
                                                   install.operator_reason + "), which would undo the change" + hint);
  }
  if (install.container_index < 0) return NotFound(where + " has no container named calico-node");
  if (variable.empty() || variable.size() > 256) return InvalidArgument("env variable name is empty or too long");
  if (value.size() > 4096) return InvalidArgument(std::string(variable) + ": value longer than 4096 bytes");
  if (IsMethodVariable(variable)) {
    auto parsed = ParseAutodetectionMethod(value);
    if (!parsed.ok()) return parsed.error().Wrap(std::string(variable) + "=" + std::string(value));
  }

  EnvPatchPlan plan;
  plan.ns = install.ns;
  plan.name = install.name;
  plan.object = "kube:daemonsets/" + install.ns + "/" + install.name;
  std::string container = "/spec/template/spec/containers/" + std::to_string(install.container_index);
  json entry = {{"name", std::string(variable)}, {"value", std::string(value)}};
  json ops = json::array();
  ops.push_back({{"op", "test"}, {"path", container + "/name"}, {"value", "calico-node"}});

  // The setting as read, when it is one of the four; otherwise look it up in the env list.
  int index = -1;
  json current;
  if (install.env.is_array()) {
    for (size_t i = 0; i < install.env.size(); ++i) {
      if (jsonf::Str(install.env[i], "/name") == variable) {
        index = static_cast<int>(i);
        current = install.env[i];
      }
    }
  }
  if (index >= 0) {
    if (!current.contains("valueFrom") && jsonf::Str(current, "/value") == value) {
      plan.unchanged = true;
      plan.patch = json::array();
      plan.description = std::string(variable) + "=" + std::string(value) + " is already set on " + where;
      return plan;
    }
    std::string path = container + "/env/" + std::to_string(index);
    ops.push_back({{"op", "test"}, {"path", path}, {"value", current}});
    ops.push_back({{"op", "replace"}, {"path", path}, {"value", entry}});
  } else if (install.env.is_array()) {
    ops.push_back({{"op", "test"}, {"path", container + "/env"}, {"value", install.env}});
    ops.push_back({{"op", "add"}, {"path", container + "/env/-"}, {"value", entry}});
  } else {
    ops.push_back({{"op", "add"}, {"path", container + "/env"}, {"value", json::array({entry})}});
  }
  plan.patch = ops;
  plan.description = "set " + std::string(variable) + "=" + std::string(value) + " on " + where +
                     (current.contains("valueFrom") ? " (replacing its valueFrom)" : "") +
                     ": every calico-node pod restarts (rolling update)";
  return plan;
}

Result<json> ApplyEnvPatch(KubeClient& client, const EnvPatchPlan& plan) {
  std::string where = "daemonset " + plan.ns + "/" + plan.name;
  if (plan.unchanged) return Error(ErrorCode::kInternal, "ApplyEnvPatch: nothing to change on " + where);
  KubeResult<json> got = client.PatchDaemonSet(plan.ns, plan.name, plan.patch, PatchType::kJson);
  if (got.ok()) return *got;
  int status = got.http_status();
  if (status == 422 || status == 409 || got.error().code() == ErrorCode::kConflict)
    return Error(ErrorCode::kConflict, where + " changed since it was read (the patch's test failed: " +
                                           got.error().message() + "); read it again and re-plan");
  return got.error().Wrap("patching " + where + " (PATCH /apis/apps/v1/namespaces/" + plan.ns + "/daemonsets/" +
                          plan.name + ")");
}

Result<json> OperatorMergePatch(AddressFamily family, std::string_view method) {
  auto parsed = ParseAutodetectionMethod(method);
  if (!parsed.ok()) return parsed.error().Wrap("autodetection method \"" + std::string(method) + "\"");
  json ad = {{"firstFound", nullptr}, {"kubernetes", nullptr}, {"interface", nullptr},
             {"skipInterface", nullptr}, {"canReach", nullptr}, {"cidrs", nullptr}};
  std::string text(method);
  auto after_equals = [&text]() { return text.substr(text.find('=') + 1); };
  switch (parsed->kind) {
    case AutodetectKind::kFirstFound: ad["firstFound"] = true; break;
    case AutodetectKind::kKubernetesInternalIp: ad["kubernetes"] = "NodeInternalIP"; break;
    case AutodetectKind::kInterface: ad["interface"] = after_equals(); break;
    case AutodetectKind::kSkipInterface: ad["skipInterface"] = after_equals(); break;
    case AutodetectKind::kCanReach: ad["canReach"] = parsed->destination; break;
    case AutodetectKind::kCidr: {
      json cidrs = json::array();
      for (const IpPrefix& p : parsed->cidrs) cidrs.push_back(p.ToString());
      ad["cidrs"] = cidrs;
      break;
    }
  }
  const char* field = family == AddressFamily::kIpv4 ? "nodeAddressAutodetectionV4" : "nodeAddressAutodetectionV6";
  return json{{"spec", {{"calicoNetwork", {{field, ad}}}}}};
}

Result<std::string> OperatorPatchCommand(AddressFamily family, std::string_view method) {
  auto patch = OperatorMergePatch(family, method);
  if (!patch.ok()) return patch.error();
  return "kubectl patch installation default --type=merge -p " + ShellQuote(patch->dump());
}

}  // namespace nodeagent::calico
