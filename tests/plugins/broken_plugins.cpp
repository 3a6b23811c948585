// Deliberately broken plugin modules for the loader's tests. Compiled three
// times: with the wrong ABI version, without the entry symbol, and with an
// action name that clashes with the testing plugin.
#include "nodeagent/plugin.h"

namespace {
std::unique_ptr<nodeagent::Action> MakeNothing() { return nullptr; }
const nodeagent::ActionSpec kActions[] = {
    {"test-touch", "Clashes with the testing plugin.", {}, false, false, &MakeNothing},
};
}  // namespace

#if defined(BROKEN_WRONG_ABI)
extern "C" NODEAGENT_EXPORT const nodeagent::PluginDescriptor* nodeagent_plugin() {
  static const nodeagent::PluginDescriptor d{nodeagent::kPluginAbiVersion + 41, "wrong-abi", "0", "", "test", {}};
  return &d;
}
#elif defined(BROKEN_DUPLICATE_ACTION)
extern "C" NODEAGENT_EXPORT const nodeagent::PluginDescriptor* nodeagent_plugin() {
  static const nodeagent::PluginDescriptor d{nodeagent::kPluginAbiVersion, "dup", "0", "", "test", kActions};
  return &d;
}
#else
extern "C" NODEAGENT_EXPORT int not_a_nodeagent_plugin() { return 0; }
#endif
