// join_prep_swap_check: runs the swap checks (swap/swap_check.h) against a
// real host under a root prefix and prints each result, with the plan of
// its fix, as JSON. It only plans: nothing it runs changes the host. For
// the booted-container test and for trying the checks on a node by hand.
//
//   join_prep_swap_check [--root DIR] [--fail-swap-on=false]
#include <cstdio>
#include <cstring>
#include <string>

#include "host/local_host.h"
#include "join_options.h"
#include "swap/swap_check.h"

using namespace nodeagent;
using namespace nodeagent::join_prep;

int main(int argc, char** argv) {
  std::string root = "/";
  KubeletConfigView kubelet;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--root" && i + 1 < argc) {
      root = argv[++i];
    } else if (a == "--fail-swap-on=false") {
      kubelet.known = true;
      kubelet.source = "--fail-swap-on=false";
      kubelet.fail_swap_on = false;
    } else {
      std::fprintf(stderr, "usage: %s [--root DIR] [--fail-swap-on=false]\n", argv[0]);
      return 2;
    }
  }
  RealHost host(root);
  JoinOptions options;
  CheckInputs in{host, options, nullptr, kubelet};
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : CheckSwap(in)) {
    nlohmann::json j = {{"id", r.id},           {"severity", CheckSeverityName(r.severity)},
                        {"status", CheckStatusName(r.status)}, {"message", r.message},
                        {"hint", r.hint},       {"detail", r.detail}};
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
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
