#include "host_checks/node_identity.h"

#include <cctype>
#include <optional>

#include "nodeagent/kube.h"

namespace nodeagent::join_prep {
namespace {

constexpr const char* kProductUuidPath = "/sys/class/dmi/id/product_uuid";

std::string TrimLower(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  s = s.substr(start);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool OnlyOf(const std::string& s, const char* allowed_fill) {
  for (char c : s)
    if (c != '-' && c != ':' && std::string(allowed_fill).find(c) == std::string::npos) return false;
  return true;
}

bool IsReady(const nlohmann::json& node) {
  const auto& conditions = node.value("/status/conditions"_json_pointer, nlohmann::json::array());
  for (const auto& c : conditions)
    if (c.is_object() && c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

}  // namespace

Result<std::string> ReadProductUuid(const FileSystem& files) {
  auto text = files.ReadFile(kProductUuidPath);
  if (!text) return text.error().Wrap("reading " + files.Resolve(kProductUuidPath));
  std::string uuid = TrimLower(*text);
  if (uuid.empty() || OnlyOf(uuid, "0") || OnlyOf(uuid, "f"))
    return InvalidArgument(files.Resolve(kProductUuidPath) + " holds no usable UUID (\"" + uuid + "\")");
  return uuid;
}

std::vector<std::string> ReadMacAddresses(const FileSystem& files) {
  std::vector<std::string> out;
  auto names = files.ListDir("/sys/class/net");
  if (!names) return out;
  for (size_t i = 0; i < names->size() && i < 512; ++i) {
    const std::string& name = (*names)[i];
    if (name == "lo") continue;
    auto mac = files.ReadFile("/sys/class/net/" + name + "/address");
    if (!mac) continue;
    std::string m = TrimLower(*mac);
    if (m.empty() || OnlyOf(m, "0")) continue;
    out.push_back(name + "=" + m);
  }
  return out;
}

std::vector<CheckResult> CheckLocalIdentity(const FileSystem& files) {
  std::vector<CheckResult> out;
  const std::string why = "kubeadm asks for a unique product_uuid and MAC address per node; cloned VMs share them";
  if (auto uuid = ReadProductUuid(files)) {
    CheckResult r = CheckResult::Pass("ProductUUID", "product_uuid " + *uuid);
    r.detail = {{"product_uuid", *uuid}};
    out.push_back(std::move(r));
  } else {
    out.push_back(CheckResult::Fail("ProductUUID", CheckSeverity::kWarning, uuid.error().message(), why));
  }
  auto macs = ReadMacAddresses(files);
  if (macs.empty()) {
    out.push_back(CheckResult::Fail("MACAddress", CheckSeverity::kWarning,
                                    "no network interface with a MAC address under " + files.Resolve("/sys/class/net"),
                                    why));
  } else {
    std::string list;
    for (const auto& m : macs) list += (list.empty() ? "" : ", ") + m;
    CheckResult r = CheckResult::Pass("MACAddress", list);
    r.detail = {{"interfaces", macs}};
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<CheckResult> CheckClusterIdentity(KubeClient& kube, const std::string& node_name,
                                              const std::string& product_uuid) {
  ListOptions options;
  options.limit = 500;
  std::optional<nlohmann::json> same_name;  // pages are dropped; the one Node we report on is kept
  std::vector<std::string> same_uuid;
  int nodes = 0;
  for (int page = 0;; ++page) {
    if (page >= 100)
      return {CheckResult::Fail("ExistingNode", CheckSeverity::kWarning,
                                "not checked: more than 100 pages of Nodes")};
    KubeResult<nlohmann::json> list = kube.ListNodes(options);
    if (!list.ok()) {
      std::string hint = list.error().code() == ErrorCode::kPermissionDenied
                             ? "the agent needs RBAC permission to list nodes"
                             : "";
      return {CheckResult::Fail("ExistingNode", CheckSeverity::kWarning,
                                "not checked: listing Nodes failed: " + list.error().message(), hint)};
    }
    for (const auto& node : list->value("items", nlohmann::json::array())) {
      ++nodes;
      std::string name = node.value("/metadata/name"_json_pointer, "");
      std::string uuid = TrimLower(node.value("/status/nodeInfo/systemUUID"_json_pointer, ""));
      if (name == node_name) same_name = node;
      else if (!product_uuid.empty() && uuid == product_uuid && same_uuid.size() < 16) same_uuid.push_back(name);
    }
    options.continue_token = list->value("/metadata/continue"_json_pointer, "");
    if (options.continue_token.empty()) break;
  }

  std::vector<CheckResult> out;
  if (!same_name) {
    out.push_back(CheckResult::Pass("ExistingNode", "no Node named " + node_name + " among " + std::to_string(nodes)));
  } else if (IsReady(*same_name)) {
    out.push_back(CheckResult::Fail("ExistingNode", CheckSeverity::kError,
                                    "a Node named " + node_name + " already exists and is Ready",
                                    "kubeadm join refuses this (kubelet-start): delete the Node (kubectl delete node " +
                                        node_name + ") or give this node another name"));
  } else {
    out.push_back(CheckResult::Fail("ExistingNode", CheckSeverity::kWarning,
                                    "a Node named " + node_name + " already exists (not Ready)",
                                    "the joining kubelet takes that Node over, with its labels and taints"));
  }
  if (product_uuid.empty()) {
    out.push_back(CheckResult::Fail("DuplicateSystemUUID", CheckSeverity::kWarning,
                                    "not checked: this node's product_uuid is unknown"));
  } else if (same_uuid.empty()) {
    out.push_back(CheckResult::Pass("DuplicateSystemUUID", "no other Node has system UUID " + product_uuid));
  } else {
    std::string names;
    for (const auto& n : same_uuid) names += (names.empty() ? "" : ", ") + n;
    CheckResult r = CheckResult::Fail("DuplicateSystemUUID", CheckSeverity::kWarning,
                                      "Node(s) " + names + " have the same system UUID " + product_uuid,
                                      "a cloned VM? give each node its own SMBIOS UUID");
    r.detail = {{"nodes", same_uuid}};
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace nodeagent::join_prep
