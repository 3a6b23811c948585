#include "kubelet_config.h"

#include <nlohmann/json.hpp>

#include "nodeagent/kube.h"

namespace nodeagent::join_prep {

namespace {

constexpr size_t kMaxConfigLines = 20000;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A plain or quoted YAML scalar, with a trailing comment removed.
std::string Scalar(std::string_view v) {
  v = Trim(v);
  if (!v.empty() && (v.front() == '"' || v.front() == '\'')) {
    char q = v.front();
    auto end = v.find(q, 1);
    if (end != std::string_view::npos) return std::string(v.substr(1, end - 1));
  }
  auto hash = v.find(" #");
  if (hash != std::string_view::npos) v = Trim(v.substr(0, hash));
  return std::string(v);
}

void SetBool(KubeletConfigView& view, const std::string& value, int line) {
  if (value == "true" || value == "True" || value == "TRUE") view.fail_swap_on = true;
  else if (value == "false" || value == "False" || value == "FALSE") view.fail_swap_on = false;
  else view.problem = view.source + ":" + std::to_string(line) + ": failSwapOn is not a boolean";
}

}  // namespace

KubeletConfigView ParseKubeletConfig(std::string_view text, std::string source) {
  KubeletConfigView view;
  view.source = std::move(source);
  view.known = true;
  std::string_view body = Trim(text);
  while (!body.empty() && (body.front() == '\n' || body.front() == '\r')) body.remove_prefix(1);
  if (!body.empty() && body.front() == '{') {
    auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      view.problem = view.source + ": not valid JSON";
      return view;
    }
    if (doc.contains("failSwapOn")) {
      if (doc["failSwapOn"].is_boolean()) view.fail_swap_on = doc["failSwapOn"].get<bool>();
      else view.problem = view.source + ": failSwapOn is not a boolean";
    }
    if (doc.contains("cgroupDriver") && doc["cgroupDriver"].is_string())
      view.cgroup_driver = doc["cgroupDriver"].get<std::string>();
    return view;
  }
  size_t start = 0;
  int line_no = 0;
  while (start <= text.size() && line_no < static_cast<int>(kMaxConfigLines)) {
    size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    ++line_no;
    // Top-level keys only: no indentation.
    if (!line.empty() && line.front() != ' ' && line.front() != '\t' && line.front() != '#') {
      auto colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string_view key = Trim(line.substr(0, colon));
        std::string value = Scalar(line.substr(colon + 1));
        if (key == "failSwapOn") SetBool(view, value, line_no);
        else if (key == "cgroupDriver" && !value.empty()) view.cgroup_driver = value;
      }
    }
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return view;
}

KubeletConfigView ReadKubeletConfig(const FileSystem& files, KubeClient* kube) {
  auto local = files.ReadFile(kKubeletConfigPath);
  if (local) return ParseKubeletConfig(*local, std::string(kKubeletConfigPath));
  KubeletConfigView view;
  if (local.error().code() != ErrorCode::kNotFound) {
    view.problem = local.error().message();
    return view;
  }
  if (kube) {
    auto path = ResourcePath(KubeResourceRef{"", "v1", "configmaps", "kube-system", "kubelet-config", ""});
    if (path) {
      auto cm = kube->Request(KubeRequest::Get(*path));
      if (cm && cm->contains("data") && (*cm)["data"].is_object() && (*cm)["data"].contains("kubelet") &&
          (*cm)["data"]["kubelet"].is_string())
        return ParseKubeletConfig((*cm)["data"]["kubelet"].get<std::string>(),
                                  "configmap kube-system/kubelet-config");
      if (!cm && cm.error().code() != ErrorCode::kNotFound)
        view.problem = "reading configmap kube-system/kubelet-config: " + cm.error().message();
    }
  }
  view.source = "the kubelet's defaults (no " + std::string(kKubeletConfigPath) +
                (kube ? ", no kube-system/kubelet-config ConfigMap)" : ", no kubeconfig to read the cluster's)");
  return view;
}

}  // namespace nodeagent::join_prep
