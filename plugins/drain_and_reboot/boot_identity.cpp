#include "boot_identity.h"

#include <vector>

namespace nodeagent::drain {

namespace {

using Ptr = nlohmann::json::json_pointer;

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

const nlohmann::json* ReadyCondition(const nlohmann::json& node) {
  const auto* conds = node.contains(Ptr("/status/conditions")) ? &node.at(Ptr("/status/conditions")) : nullptr;
  if (!conds || !conds->is_array()) return nullptr;
  for (const auto& c : *conds)
    if (c.is_object() && c.value("type", "") == "Ready") return &c;
  return nullptr;
}

std::string NodeBootId(const nlohmann::json& node) {
  const auto* v = node.contains(Ptr("/status/nodeInfo/bootID")) ? &node.at(Ptr("/status/nodeInfo/bootID")) : nullptr;
  return v && v->is_string() ? v->get<std::string>() : "";
}

}  // namespace

std::optional<std::string> StartTimeFromStat(std::string_view stat) {
  // "1 (systemd) S 0 1 1 0 -1 ...": fields after the last ')' start at field 3.
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);
  int field = 2;
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\n')) ++i;
    if (i >= rest.size()) break;
    size_t end = rest.find_first_of(" \n", i);
    if (end == std::string_view::npos) end = rest.size();
    if (++field == 22) {
      std::string_view v = rest.substr(i, end - i);
      if (v.empty() || v.size() > 20 || v.find_first_not_of("0123456789") != std::string_view::npos)
        return std::nullopt;
      return std::string(v);
    }
    i = end;
  }
  return std::nullopt;
}

Result<BootIdentity> ReadBootIdentity(Host& host) {
  auto boot = host.BootId();
  if (!boot) return boot.error();
  BootIdentity id;
  id.kernel_boot_id = *boot;
  auto stat = host.files().ReadFile("/proc/1/stat");
  if (stat && stat->size() < 4096) {
    if (auto start = StartTimeFromStat(*stat)) id.pid1_start = *start;
  }
  return id;
}

std::string BootChange(const BootIdentity& before, const BootIdentity& now) {
  if (!before.kernel_boot_id.empty() && !now.kernel_boot_id.empty() && before.kernel_boot_id != now.kernel_boot_id)
    return "kernel boot id " + before.kernel_boot_id + " -> " + now.kernel_boot_id;
  if (!before.pid1_start.empty() && !now.pid1_start.empty() && before.pid1_start != now.pid1_start)
    return "PID 1 start time " + before.pid1_start + " -> " + now.pid1_start + " (a new init: a container reboot)";
  return "";
}

NodeBootRecord RecordNodeBoot(const nlohmann::json& node) {
  NodeBootRecord r;
  r.recorded = true;
  r.boot_id = NodeBootId(node);
  if (const auto* ready = ReadyCondition(node)) r.ready_transition = Trimmed(ready->value("lastTransitionTime", ""));
  return r;
}

std::string NodeBackReason(const nlohmann::json& node, const NodeBootRecord& before,
                           const std::string& local_kernel_boot_id) {
  const auto* ready = ReadyCondition(node);
  if (!ready || ready->value("status", "") != "True") return "";
  const std::string boot_id = NodeBootId(node);
  if (!before.recorded)
    return !boot_id.empty() && boot_id == local_kernel_boot_id ? "the Node reports this boot's id " + boot_id : "";
  if (!boot_id.empty() && boot_id != before.boot_id)
    return "the Node reports a new boot id " + boot_id + (before.boot_id.empty() ? "" : " (was " + before.boot_id + ")");
  const std::string since = Trimmed(ready->value("lastTransitionTime", ""));
  if (!since.empty() && since != before.ready_transition)
    return "the Node's boot id shows no change, but it became Ready again at " + since + " (was " +
           (before.ready_transition.empty() ? std::string("unset") : before.ready_transition) + ")";
  return "";
}

}  // namespace nodeagent::drain
