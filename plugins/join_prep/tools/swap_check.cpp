// join_prep_swap_check: runs the swap checks (swap/swap_check.h) against a
// real host under a root prefix and prints each result, with the plan of
// its fix, as JSON. Without --apply it only plans and changes nothing; with
// --apply ID,ID it carries out the fixes with those ids (in the order
// planned), then checks again: {"before", "applied", "after"}. For the
// booted-container test and for trying the checks on a node by hand.
//
//   join_prep_swap_check [--root DIR] [--fail-swap-on=false] [--apply fstab-swap,swap-units,zram]
#include "swap/swap_check.h"

#include <cstdio>
#include <cstring>
#include <set>
#include <string>

#include "host/local_host.h"
#include "join_options.h"

using namespace nodeagent;
using namespace nodeagent::join_prep;

namespace {

nlohmann::json ToJson(const std::vector<CheckResult>& results) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json j = {{"id", r.id},
                        {"severity", CheckSeverityName(r.severity)},
                        {"status", CheckStatusName(r.status)},
                        {"message", r.message},
                        {"hint", r.hint},
                        {"detail", r.detail}};
    if (r.fix) {
      nlohmann::json steps = nlohmann::json::array();
      for (const auto& s : r.fix->steps) {
        auto c = StepChange(s);
        steps.push_back({{"kind", c.kind}, {"target", c.target}, {"description", c.description}, {"diff", c.diff}});
      }
      j["fix"] = {{"id", r.fix->id}, {"steps", steps}};
    }
    out.push_back(std::move(j));
  }
  return out;
}

std::set<std::string> SplitIds(const std::string& list) {
  std::set<std::string> ids;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    auto one = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!one.empty()) ids.insert(one);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  std::string root = "/";
  KubeletConfigView kubelet;
  std::optional<std::set<std::string>> apply;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--root" && i + 1 < argc) {
      root = argv[++i];
    } else if (a == "--apply" && i + 1 < argc) {
      apply = SplitIds(argv[++i]);
    } else if (a == "--fail-swap-on=false") {
      kubelet.known = true;
      kubelet.source = "--fail-swap-on=false";
      kubelet.fail_swap_on = false;
    } else {
      std::fprintf(stderr, "usage: %s [--root DIR] [--fail-swap-on=false] [--apply FIX,FIX]\n", argv[0]);
      return 2;
    }
  }
  RealHost host(root);
  JoinOptions options;
  CheckInputs in{host, options, nullptr, kubelet};
  auto before = CheckSwap(in);
  if (!apply) {
    std::printf("%s\n", ToJson(before).dump(2).c_str());
    return 0;
  }
  nlohmann::json applied = nlohmann::json::array();
  int failures = 0;
  for (const auto& r : before) {
    if (!r.fix || !apply->count(r.fix->id)) continue;
    for (const auto& step : r.fix->steps) {
      auto st = ApplyStep(host, step);
      applied.push_back({{"fix", r.fix->id},
                         {"step", StepChange(step).target},
                         {"ok", st.ok()},
                         {"error", st.ok() ? "" : st.error().message()}});
      if (!st.ok()) ++failures;
    }
  }
  nlohmann::json out = {{"before", ToJson(before)}, {"applied", applied}, {"after", ToJson(CheckSwap(in))}};
  std::printf("%s\n", out.dump(2).c_str());
  return failures == 0 ? 0 : 1;
}
