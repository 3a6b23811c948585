// A plugin module that crashes while it is being loaded (in a static
// constructor, before anyone can call into it), as a module built against a
// broken library might. Built into <build>/test-plugins-crash, apart from the
// other test modules, because loading it without the probe kills the loader.
#include <csignal>

#include "nodeagent/plugin.h"

namespace {
__attribute__((constructor)) void CrashOnLoad() { std::raise(SIGSEGV); }
}  // namespace

extern "C" NODEAGENT_EXPORT const nodeagent::PluginDescriptor* nodeagent_plugin() {
  static const nodeagent::PluginDescriptor d{nodeagent::kPluginAbiVersion, "crash-on-load", "0", "", "test", {}};
  return &d;
}
