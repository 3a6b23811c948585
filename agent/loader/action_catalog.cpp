#include "loader/action_catalog.h"

namespace nodeagent {

bool ActionCatalog::Add(ActionInfo info) {
  if (actions_.count(info.name)) return false;
  std::string name = info.name;
  actions_.emplace(std::move(name), std::move(info));
  return true;
}

const ActionInfo* ActionCatalog::Find(std::string_view name) const {
  auto it = actions_.find(name);
  return it == actions_.end() ? nullptr : &it->second;
}

std::vector<const ActionInfo*> ActionCatalog::All() const {
  std::vector<const ActionInfo*> out;
  for (const auto& [k, v] : actions_) out.push_back(&v);
  return out;
}

std::vector<std::string> ActionCatalog::Names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : actions_) out.push_back(k);
  return out;
}

Status CallValidate(const ActionInfo& action, const Params& params) {
  if (!action.validate) return Status::Ok();
  try {
    return action.validate(params);
  } catch (const std::exception& e) {
    return Internal(std::string("the plugin's validate() threw: ") + e.what());
  } catch (...) {
    return Internal("the plugin's validate() threw an unknown exception");
  }
}

}  // namespace nodeagent
