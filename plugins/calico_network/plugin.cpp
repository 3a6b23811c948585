// Entry point of the calico_network plugin module: the descriptor the loader
// finds by dlopen (calico-network).
#include "calico_network_action.h"
#include "nodeagent/plugin.h"

extern "C" NODEAGENT_EXPORT const nodeagent::PluginDescriptor* nodeagent_plugin() {
  static const nodeagent::PluginDescriptor descriptor{
      nodeagent::kPluginAbiVersion,
      "calico_network",
      "0.1.0",
      "Keeps NetworkManager off Calico's interfaces, reports Calico's tunnels, checks the node address Calico "
      "autodetects against the Node's InternalIP, this node's calico-node pod and BGP peers, and the "
      "Calico/Kubernetes version fit.",
      "beta",
      nodeagent::calico::CalicoNetworkActionSpecs(),
  };
  return &descriptor;
}
