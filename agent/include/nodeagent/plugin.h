// The plugin boundary. A native plugin is a shared object exporting one C
// symbol, `nodeagent_plugin`, which returns a PluginDescriptor. The loader reads
// `abi_version` first and refuses anything else; the rest of the descriptor is
// only trusted after that check. Exceptions never cross this boundary: the core
// catches around every call into plugin code.
//
//   extern "C" NODEAGENT_EXPORT const nodeagent::PluginDescriptor* nodeagent_plugin() {
//     static const nodeagent::PluginDescriptor d{nodeagent::kPluginAbiVersion, "log-cleanup", ...};
//     return &d;
//   }
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "nodeagent/action.h"

#define NODEAGENT_EXPORT __attribute__((visibility("default")))

namespace nodeagent {

/// Bumped on any change to the types in include/nodeagent/.
inline constexpr uint32_t kPluginAbiVersion = 6;  // 6: ActionContext::AppendListLines
// 2: ActionContext::Http()
// 3: CommandSpec::read_only, CommandResult::output_truncated, ParamSpec::range,
//    FileSystem::OpenDirectory (the hardening of issue 10)
// 4: issue 11 (Request, permissions, network, Stat/Chmod/WriteInPlace, new
//    param types, Change::objects)
// 5: issue 14 (ActionContext::Event and Notify, ActionSpec::conditions,
//    Finding::condition)

/// Name of the symbol every native plugin exports.
inline constexpr const char* kPluginEntrySymbol = "nodeagent_plugin";

struct PluginDescriptor {
  uint32_t abi_version;  // must stay the first member
  std::string_view name;
  std::string_view version;
  std::string_view description;
  std::string_view maturity;  // "stable", "beta", "alpha"
  std::span<const ActionSpec> actions;
};

using PluginEntryFn = const PluginDescriptor* (*)();

}  // namespace nodeagent
