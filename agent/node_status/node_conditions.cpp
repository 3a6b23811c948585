#include "node_status/node_conditions.h"

#include <algorithm>
#include <ctime>

namespace nodeagent {

namespace {

bool IsCamelCase(std::string_view s) {
  if (s.empty() || s.size() > 63 || !(s.front() >= 'A' && s.front() <= 'Z')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

}  // namespace

Status CheckConditionTable(std::span<const ConditionSpec> table) {
  if (table.size() > kMaxConditionsPerAction)
    return InvalidArgument("declares " + std::to_string(table.size()) + " conditions; at most " +
                           std::to_string(kMaxConditionsPerAction) + " are allowed");
  for (size_t i = 0; i < table.size(); ++i) {
    const ConditionSpec& c = table[i];
    std::string row = "condition " + std::to_string(i + 1) + " (" + std::string(c.type) + ")";
    if (!IsCamelCase(c.type) || !c.type.starts_with("NodeAgent") || c.type.size() == 9)
      return InvalidArgument(row + ": type must be CamelCase (letters and digits, at most 63) and start with "
                                   "\"NodeAgent\", e.g. NodeAgentCalicoNetwork");
    if (!IsCamelCase(c.true_reason) || !IsCamelCase(c.false_reason))
      return InvalidArgument(row + ": true_reason and false_reason must be CamelCase words, e.g. SwapEnabled");
    for (size_t j = 0; j < i; ++j)
      if (table[j].type == c.type) return InvalidArgument(row + ": declared twice");
  }
  return Status::Ok();
}

std::string CutUtf8(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t keep = max >= 3 ? max - 3 : 0;
  // Do not end inside a multi-byte sequence: step back over continuation bytes.
  while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80) --keep;
  return std::string(text.substr(0, keep)) + "...";
}

std::vector<NodeConditionState> EvaluateConditions(std::span<const ConditionSpec> table,
                                                   std::span<const Finding> findings,
                                                   std::vector<std::string>* undeclared) {
  std::vector<NodeConditionState> out;
  std::vector<std::string> messages(table.size());
  std::vector<bool> held(table.size(), false);
  for (const Finding& f : findings) {
    if (f.severity != Severity::kError || table.empty()) continue;
    size_t row = 0;
    if (!f.condition.empty()) {
      auto it = std::find_if(table.begin(), table.end(), [&](const ConditionSpec& c) { return c.type == f.condition; });
      if (it == table.end()) {
        if (undeclared && std::find(undeclared->begin(), undeclared->end(), f.condition) == undeclared->end())
          undeclared->push_back(f.condition);
        continue;
      }
      row = static_cast<size_t>(it - table.begin());
    }
    held[row] = true;
    std::string& m = messages[row];
    if (m.size() > kMaxConditionMessageBytes) continue;  // already over: it will be cut
    if (!m.empty()) m += "; ";
    m += f.subject.empty() ? f.message : f.subject + ": " + f.message;
  }
  for (size_t i = 0; i < table.size(); ++i) {
    const ConditionSpec& c = table[i];
    NodeConditionState s;
    s.type = std::string(c.type);
    s.status = held[i] ? "True" : "False";
    s.reason = std::string(held[i] ? c.true_reason : c.false_reason);
    s.message = held[i] ? CutUtf8(messages[i], kMaxConditionMessageBytes)
                        : std::string(c.description.empty() ? "no problem found" : "no problem: " + std::string(c.description));
    out.push_back(std::move(s));
  }
  return out;
}

std::string KubeTimestamp(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json NodeConditionsPatch(std::span<const NodeConditionState> states, const nlohmann::json& node,
                                   std::chrono::system_clock::time_point now) {
  const std::string ts = KubeTimestamp(now);
  nlohmann::json current = nlohmann::json::array();
  if (auto p = nlohmann::json::json_pointer("/status/conditions"); node.contains(p) && node.at(p).is_array())
    current = node.at(p);
  nlohmann::json conditions = nlohmann::json::array();
  for (const NodeConditionState& s : states) {
    std::string transition = ts;
    for (const auto& c : current) {
      if (c.is_object() && c.value("type", "") == s.type && c.value("status", "") == s.status &&
          c.contains("lastTransitionTime") && c["lastTransitionTime"].is_string())
        transition = c["lastTransitionTime"];
    }
    conditions.push_back({{"type", s.type},
                          {"status", s.status},
                          {"reason", s.reason},
                          {"message", s.message},
                          {"lastHeartbeatTime", ts},
                          {"lastTransitionTime", transition}});
  }
  return {{"status", {{"conditions", conditions}}}};
}

Result<NodeConditionsOutcome> SetNodeConditions(KubeClient& kube, const std::string& node,
                                                std::span<const NodeConditionState> states,
                                                std::chrono::system_clock::time_point now) {
  auto current = kube.GetNode(node);
  if (!current) {
    if (current.error().code() == ErrorCode::kNotFound) return NodeConditionsOutcome::kNoNode;
    return current.error();
  }
  auto path = ResourcePath({"", "v1", "nodes", "", node, "status"});
  if (!path) return path.error();
  auto patched = kube.Request(
      KubeRequest::Patch(*path, NodeConditionsPatch(states, *current, now), PatchType::kStrategicMerge));
  if (!patched) {
    if (patched.error().code() == ErrorCode::kNotFound) return NodeConditionsOutcome::kNoNode;
    return patched.error();
  }
  return NodeConditionsOutcome::kSet;
}

}  // namespace nodeagent
