#include "preflight.h"

#include <algorithm>
#include <cctype>

#include "discovery/discovery_check.h"
#include "firewall/firewall_check.h"
#include "host_checks/host_check.h"
#include "kernel/kernel_check.h"
#include "runtime/runtime_check.h"
#include "swap/swap_check.h"

namespace nodeagent::join_prep {

namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

void Append(std::vector<CheckResult>& to, std::vector<CheckResult> more) {
  for (auto& c : more) to.push_back(std::move(c));
}

}  // namespace

PreflightReport RunPreflight(const CheckInputs& in) {
  PreflightReport report;
  Append(report.checks, CheckHost(in));
  Append(report.checks, CheckDiscovery(in));
  Append(report.checks, CheckSwap(in));
  Append(report.checks, CheckKernel(in));
  Append(report.checks, CheckRuntime(in));
  FirewallReport firewall = CheckFirewall(in);
  Append(report.checks, std::move(firewall.checks));
  report.firewall_ports = std::move(firewall.ports);
  return report;
}

bool IsIgnored(const JoinOptions& options, std::string_view id) {
  return std::any_of(options.ignore.begin(), options.ignore.end(),
                     [&](const std::string& i) { return EqualsNoCase(i, "all") || EqualsNoCase(i, id); });
}

bool IsFixAllowed(const JoinOptions& options, std::string_view fix_id) {
  if (fix_id == kFixFirewall && options.firewall_fix == FirewallFix::kReport) return false;
  return std::find(options.fix.begin(), options.fix.end(), fix_id) != options.fix.end();
}

void MarkIgnored(const JoinOptions& options, std::vector<CheckResult>& checks) {
  for (auto& c : checks)
    if (c.status == CheckStatus::kFail && IsIgnored(options, c.id)) c.status = CheckStatus::kIgnored;
}

bool Blocks(const CheckResult& check) {
  return check.status == CheckStatus::kFail && check.severity == CheckSeverity::kError;
}

std::string CheckCondition(std::string_view check_id) {
  return check_id.starts_with("Swap") ? std::string(kSwapCondition) : "";
}

std::vector<Finding> CheckFindings(const std::vector<CheckResult>& checks) {
  std::vector<Finding> out;
  for (const auto& c : checks) {
    if (c.status != CheckStatus::kFail && c.status != CheckStatus::kIgnored) continue;
    Finding f;
    f.severity = Blocks(c) ? Severity::kError : Severity::kWarning;
    f.subject = c.id;
    f.message = c.message;
    f.condition = CheckCondition(c.id);
    if (c.status == CheckStatus::kIgnored) f.message += " (ignored)";
    if (!c.fix && !c.hint.empty()) f.message += ". " + c.hint;
    out.push_back(std::move(f));
  }
  return out;
}

nlohmann::json ChecksJson(const std::vector<CheckResult>& checks, const JoinOptions& options) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : checks) {
    nlohmann::json j = {{"id", c.id},
                        {"severity", CheckSeverityName(c.severity)},
                        {"status", CheckStatusName(c.status)},
                        {"message", c.message}};
    if (!c.hint.empty()) j["hint"] = c.hint;
    if (c.fix) {
      std::vector<std::string> steps;
      for (const auto& s : c.fix->steps) steps.push_back(StepChange(s).target);
      j["fix"] = {{"id", c.fix->id}, {"allowed", IsFixAllowed(options, c.fix->id)}, {"steps", steps}};
      if (!c.fix->warning.empty()) j["fix"]["warning"] = c.fix->warning;
    } else {
      j["fix"] = nullptr;
    }
    if (!c.detail.empty()) j["detail"] = c.detail;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace nodeagent::join_prep
