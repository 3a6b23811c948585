// Entry point of the join_prep plugin module: the descriptor the loader finds
// by dlopen (join-prep, join).
#include "join_prep_actions.h"
#include "nodeagent/plugin.h"

extern "C" NODEAGENT_EXPORT const nodeagent::PluginDescriptor* nodeagent_plugin() {
  static const nodeagent::PluginDescriptor descriptor{
      nodeagent::kPluginAbiVersion,
      "join_prep",
      "0.1.0",
      "The checks and fixes before kubeadm join (swap now and at boot, firewall verdicts, kernel modules and "
      "sysctls, the container runtime, the control plane's CA and clock), and the join itself.",
      "beta",
      nodeagent::join_prep::JoinPrepActionSpecs(),
  };
  return &descriptor;
}
