// join_prep_kernel_check: runs the kernel and runtime checks (kernel/,
// runtime/) against a real host under a root prefix and prints each result,
// with the plan of its fix, as JSON. It only plans, except with
// --apply-netns-sysctls: then it carries out the "write now" steps under
// /proc/sys/net/ipv4/ and nothing else, which in a network namespace of a
// test's own change only that namespace; and with --apply-files (refused
// without a --root other than /): then it carries out the file edits under
// that root, for the booted-container test. For kernel_netns_test.py,
// kernel_boot_test.py and for trying the checks on a node by hand.
//
//   join_prep_kernel_check [--root DIR] [--runtime] [--cri-socket PATH]
//                          [--apply-netns-sysctls] [--apply-files]
#include <cstdio>
#include <string>

#include "host/local_host.h"
#include "join_options.h"
#include "kernel/kernel_check.h"
#include "runtime/runtime_check.h"

using namespace nodeagent;
using namespace nodeagent::join_prep;

namespace {

nlohmann::json ToJson(const CheckResult& r) {
  nlohmann::json j = {{"id", r.id},       {"severity", CheckSeverityName(r.severity)}, {"status", CheckStatusName(r.status)},
                      {"message", r.message}, {"hint", r.hint}, {"detail", r.detail}};
  if (r.fix) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& s : r.fix->steps) {
      auto c = StepChange(s);
      steps.push_back({{"kind", c.kind}, {"target", c.target}, {"description", c.description}, {"diff", c.diff}});
    }
    j["fix"] = {{"id", r.fix->id}, {"steps", steps}};
  }
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  std::string root = "/";
  bool runtime = false;
  bool apply = false;
  bool apply_files = false;
  JoinOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--root" && i + 1 < argc) {
      root = argv[++i];
    } else if (a == "--runtime") {
      runtime = true;
    } else if (a == "--cri-socket" && i + 1 < argc) {
      options.cri_socket = argv[++i];
    } else if (a == "--apply-netns-sysctls") {
      apply = true;
    } else if (a == "--apply-files") {
      apply_files = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--root DIR] [--runtime] [--cri-socket PATH] [--apply-netns-sysctls] [--apply-files]\n",
                   argv[0]);
      return 2;
    }
  }
  if (apply_files && (root.empty() || root.find_first_not_of('/') == std::string::npos)) {
    std::fprintf(stderr, "%s: --apply-files edits files: only under a --root other than /\n", argv[0]);
    return 2;
  }
  RealHost host(root);
  CheckInputs in{host, options, nullptr, KubeletConfigView{}};
  std::vector<CheckResult> results = runtime ? CheckRuntime(in) : CheckKernel(in);
  nlohmann::json out = nlohmann::json::array();
  nlohmann::json applied = nlohmann::json::array();
  for (const auto& r : results) {
    out.push_back(ToJson(r));
    if (!r.fix) continue;
    for (const auto& s : r.fix->steps) {
      bool netns_sysctl = apply && s.kind == FixStep::Kind::kWriteInPlace && s.path.rfind("/proc/sys/net/ipv4/", 0) == 0;
      bool file = apply_files && s.kind == FixStep::Kind::kEditFile;
      if (!netns_sysctl && !file) continue;
      Status st = ApplyStep(host, s);
      applied.push_back({{"path", file ? s.edit.path : s.path}, {"ok", st.ok()}, {"error", st.ok() ? "" : st.error().message()}});
    }
  }
  nlohmann::json doc = {{"results", out}};
  if (apply || apply_files) doc["applied"] = applied;
  std::printf("%s\n", doc.dump(2).c_str());
  return 0;
}
