// How agentctl shows things to people (-o text): runs, history, status,
// actions. The JSON form (-o json) is the daemon's own data, unchanged, so
// scripts see exactly what the agent recorded.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace nodeagent {

std::string FormatTime(int64_t ms);        // "2026-11-28 10:15:00" local time
std::string FormatAge(int64_t ms, int64_t now_ms);  // "5m ago", "in 3h"
std::string FormatBytes(int64_t bytes);    // "1.2 MiB"
std::string FormatDurationMs(int64_t ms);  // "2.3s", "4m12s"

/// A finished run: status line, summary, changes (with diffs), findings.
std::string RenderRun(const nlohmann::json& record, bool with_logs);
/// The plan a run made (record["plan"]), as `agentctl run --confirm` shows it
/// before asking: every change (with diffs) and finding.
std::string RenderPlan(const nlohmann::json& record);
std::string RenderHistory(const nlohmann::json& runs, int64_t now_ms);
std::string RenderStatus(const nlohmann::json& status, int64_t now_ms);
/// `agentctl status`'s cluster section from the cluster part's JSON
/// (ctl/cluster_view.h): one line when there is no kubeconfig or no answer.
std::string RenderClusterView(const nlohmann::json& cluster);
std::string RenderList(const nlohmann::json& list, int64_t now_ms);
std::string RenderAction(const nlohmann::json& action);
/// One audit entry's change in a few words: "write /etc/x sha256 ab12.. -> cd34..",
/// "/usr/sbin/swapoff -a -> exit 0", "patch nodes/n1".
std::string AuditWhat(const nlohmann::json& entry);
/// `agentctl audit`'s table (time, run, kind, result, what) of an "audit" answer.
std::string RenderAudit(const nlohmann::json& answer);

}  // namespace nodeagent
