// Entry point of the drain_and_reboot plugin module: the descriptor the loader
// finds by dlopen (cordon, uncordon, drain, drain-and-reboot, reboot-if-required).
#include "drain_actions.h"
#include "nodeagent/plugin.h"

extern "C" NODEAGENT_EXPORT const nodeagent::PluginDescriptor* nodeagent_plugin() {
  static const nodeagent::PluginDescriptor descriptor{
      nodeagent::kPluginAbiVersion,
      "drain_and_reboot",
      "0.1.0",
      "Cordon, drain (kubectl-compatible, concurrent), reboot with a cluster-wide Lease lock, resume after the "
      "boot and uncordon.",
      "beta",
      nodeagent::drain::DrainActionSpecs(),
  };
  return &descriptor;
}
