// One pass of every join-prep check unit (swap, firewall, kernel, runtime,
// discovery, host) and what the actions do with the results: mark what the
// operator ignores, pick the fixes the operator allows, and present it all
// the way kubeadm does ("[ERROR Swap]: ...") and as data for -o json. The
// actions (join_prep_actions) call RunPreflight while planning, carry out the
// fixes, and call it again to see what the fixes cleared.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "check.h"
#include "join_options.h"

namespace nodeagent::join_prep {

struct PreflightReport {
  std::vector<CheckResult> checks;
  nlohmann::json firewall_ports = nlohmann::json::array();
};

/// Runs every check unit, in the order kubeadm reports (host and discovery
/// first, then swap, kernel, runtime, firewall). Read-only.
PreflightReport RunPreflight(const CheckInputs& in);

/// Whether `id` is in the operator's `ignore` list (case-insensitive, as
/// kubeadm compares) or the list holds "all".
bool IsIgnored(const JoinOptions& options, std::string_view id);
/// Whether the fix `fix_id` is in the operator's `fix` list.
bool IsFixAllowed(const JoinOptions& options, std::string_view fix_id);

/// Failing checks that are ignored become kIgnored.
void MarkIgnored(const JoinOptions& options, std::vector<CheckResult>& checks);
/// A failing check (not ignored) of severity error: it blocks the join.
bool Blocks(const CheckResult& check);

/// The Node condition (join-prep's ConditionSpec rows) a failing check holds
/// True: kSwapCondition for the swap checks (Swap, SwapFstab, ...), "" (the
/// general NodeAgentJoinPrep) for the rest.
inline constexpr std::string_view kSwapCondition = "NodeAgentSwapEnabled";
std::string CheckCondition(std::string_view check_id);

/// The Findings of the failing checks: an error that is not ignored stays an
/// error; an ignored error and a warning are warnings (kubeadm prints an
/// ignored error as [WARNING X]). Subject: the check id; condition:
/// CheckCondition of it.
std::vector<Finding> CheckFindings(const std::vector<CheckResult>& checks);
/// The checks as -o json's data.checks: {id, severity, status, message, fix, hint}.
nlohmann::json ChecksJson(const std::vector<CheckResult>& checks, const JoinOptions& options);

}  // namespace nodeagent::join_prep
