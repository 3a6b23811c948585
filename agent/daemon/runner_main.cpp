// nodeagent-runner: the half of nodeagent that links libcurl and the
// Kubernetes client, kept out of the resident daemon and the thin agentctl.
//   nodeagent-runner worker       one run, started by the daemon (worker.h)
//   nodeagent-runner ctl ARGS...  agentctl's local half, exec'd by agentctl
//   nodeagent-runner probe-plugin FILE
//                                 loads one plugin module and prints its tables
//                                 as JSON (so the daemon maps no module, and
//                                 one which crashes while loading ends only
//                                 this process)
//   nodeagent-runner validate-params FILE ACTION
//                                 runs an action's validate() on the
//                                 parameters on stdin (for the daemon and agentctl)
// Installed in /usr/libexec/nodeagent; not meant to be called by hand.
#include <iostream>
#include <string>

#include "ctl/agentctl_cli.h"
#include "daemon/logging.h"
#include "daemon/worker.h"
#include "loader/plugin_loader.h"

int main(int argc, char** argv) {
  std::string mode = argc >= 2 ? argv[1] : "";
  if (mode == "ctl") {
    argv[1] = const_cast<char*>("agentctl");
    return nodeagent::FullAgentctlMain(argc - 1, argv + 1);
  }
  if (mode == "worker") {
    nodeagent::SetupLogging("info", true);
    return nodeagent::RunWorkerMain();
  }
  if (mode == "probe-plugin" && argc == 3) {
    nodeagent::Status st = nodeagent::ProbeNativePlugin(argv[2], std::cout);
    std::cout.flush();
    if (st.ok()) return 0;
    std::cerr << argv[2] << ": " << st.error().message() << "\n";
    return 1;
  }
  if (mode == "validate-params" && argc == 4) return nodeagent::ValidateParamsMain(argv[2], argv[3], std::cin, std::cout);
  std::cerr << "nodeagent-runner: internal helper of nodeagent; use agentctl.\n"
               "usage: nodeagent-runner worker | ctl AGENTCTL-ARGS... | probe-plugin FILE | validate-params FILE ACTION\n";
  return 2;
}
