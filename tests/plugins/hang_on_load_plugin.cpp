// A plugin module that never finishes loading (its static constructor waits
// forever, as one stuck on a lock or a network call might). Built into
// <build>/test-plugins-crash with crash_on_load: only a probing loader, which
// gives up on it after 10 s, gets past it.
#include <unistd.h>

#include "nodeagent/plugin.h"

namespace {
__attribute__((constructor)) void HangOnLoad() {
  for (;;) ::pause();
}
}  // namespace

extern "C" NODEAGENT_EXPORT const nodeagent::PluginDescriptor* nodeagent_plugin() {
  static const nodeagent::PluginDescriptor d{nodeagent::kPluginAbiVersion, "hang-on-load", "0", "", "test", {}};
  return &d;
}
