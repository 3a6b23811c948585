// Entry point of the log_cleanup plugin module: the descriptor the loader
// finds by dlopen (one action, "log-cleanup").
#include "log_cleanup_action.h"
#include "nodeagent/plugin.h"

extern "C" NODEAGENT_EXPORT const nodeagent::PluginDescriptor* nodeagent_plugin() {
  static const nodeagent::ActionSpec actions[] = {nodeagent::logc::LogCleanupActionSpec()};
  static const nodeagent::PluginDescriptor descriptor{
      nodeagent::kPluginAbiVersion,
      "log_cleanup",
      "0.1.0",
      "Safe replacement for `find PATH -name '*.log' -mtime +N -delete` cron jobs.",
      "beta",
      actions,
  };
  return &descriptor;
}
