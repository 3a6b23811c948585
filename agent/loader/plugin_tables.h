// A native plugin's descriptor as data. The daemon and agentctl's local half
// need only a module's tables (actions with their parameter, permission and
// condition rows), never its code, and mapping a module costs its libraries
// too (join_prep links OpenSSL: about 2 MiB of RSS). So the probe child
// (`nodeagent-runner probe-plugin FILE`) loads the module, checks it and
// prints its descriptor with PluginTablesToWire; the parent reads it back
// with PluginTablesFromWire into an owned copy whose views point into its own
// storage, and maps no module. The wire holds every field of every row: the
// serializer takes each struct apart with a structured binding, so a field
// added to the public API does not compile until the wire carries it.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeagent/plugin.h"
#include "nodeagent/result.h"

namespace nodeagent {

/// The most bytes of wire a probe may print for one module (the shipped
/// plugins print about 30 KiB); more is refused as a broken module.
inline constexpr size_t kMaxPluginTablesWireBytes = 1 << 20;

/// A descriptor read from the wire, with the storage its views point into.
/// Its ActionSpecs have no code: `create` and `validate` are null (has_validate
/// says which actions have a validate() in the module). Neither copyable nor
/// movable: the views point into it; share it with a shared_ptr.
class OwnedPluginTables {
 public:
  OwnedPluginTables() = default;
  OwnedPluginTables(const OwnedPluginTables&) = delete;
  OwnedPluginTables& operator=(const OwnedPluginTables&) = delete;

  const PluginDescriptor& descriptor() const { return descriptor_; }
  /// One per action, in the descriptor's order.
  const std::vector<bool>& has_validate() const { return has_validate_; }

 private:
  friend class PluginTablesReader;
  PluginDescriptor descriptor_{};
  std::vector<bool> has_validate_;
  std::vector<ActionSpec> actions_;
  // Storage behind the views; deques keep their elements in place as they grow.
  std::deque<std::string> strings_;
  std::deque<std::vector<std::string_view>> allowed_;
  std::deque<std::vector<ParamSpec>> params_;
  std::deque<std::vector<KubePermission>> permissions_;
  std::deque<std::vector<ConditionSpec>> conditions_;
};

/// Every field of `descriptor` as JSON (create as has_create, validate as
/// has_validate).
nlohmann::json PluginTablesToWire(const PluginDescriptor& descriptor);
/// The owned copy of what PluginTablesToWire printed. Error (naming the field)
/// when the wire is malformed; the tables' own rules (ranges, permissions)
/// are the loader's to check.
Result<std::shared_ptr<const OwnedPluginTables>> PluginTablesFromWire(const nlohmann::json& wire);

}  // namespace nodeagent
