#include "calico_checks.h"

#include <algorithm>
#include <cassert>

namespace nodeagent::calico {

namespace {

bool Known(std::string_view id) { return std::find(std::begin(kCheckIds), std::end(kCheckIds), id) != std::end(kCheckIds); }

int Rank(Severity s) { return s == Severity::kError ? 2 : s == Severity::kWarning ? 1 : 0; }

}  // namespace

void CheckTally::Ran(std::string_view id) { Count(id, Severity::kInfo); }

void CheckTally::Count(std::string_view id, Severity severity) {
  assert(Known(id));
  auto it = worst_.find(id);
  if (it == worst_.end()) worst_.emplace(std::string(id), severity);
  else if (Rank(severity) > Rank(it->second)) it->second = severity;
}

void CheckTally::Add(std::vector<Finding>& findings, std::string_view id, Finding finding) {
  Count(id, finding.severity);
  findings.push_back(std::move(finding));
}

nlohmann::json CheckTally::ToJson() const {
  nlohmann::json out = nlohmann::json::array();
  for (std::string_view id : kCheckIds) {
    auto it = worst_.find(id);
    nlohmann::json c = {{"id", id}};
    if (it == worst_.end()) {
      c["status"] = "skipped";
    } else if (Rank(it->second) == 0) {
      c["status"] = "pass";
    } else {
      c["status"] = "fail";
      c["severity"] = it->second == Severity::kError ? "error" : "warning";
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace nodeagent::calico
