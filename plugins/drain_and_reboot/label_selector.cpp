#include "label_selector.h"

#include <string>

namespace nodeagent::drain {

bool SelectorMatches(const nlohmann::json& selector, const nlohmann::json& labels) {
  if (selector.is_null()) return false;
  auto label = [&](const std::string& key) -> const nlohmann::json* {
    if (!labels.is_object()) return nullptr;
    auto it = labels.find(key);
    return it == labels.end() ? nullptr : &*it;
  };
  if (auto ml = selector.find("matchLabels"); ml != selector.end() && ml->is_object()) {
    for (const auto& [k, v] : ml->items()) {
      const nlohmann::json* have = label(k);
      if (!have || *have != v) return false;
    }
  }
  if (auto me = selector.find("matchExpressions"); me != selector.end() && me->is_array()) {
    for (const auto& e : *me) {
      const std::string key = e.value("key", "");
      const std::string op = e.value("operator", "");
      const nlohmann::json* have = label(key);
      bool in_values = false;
      if (have && e.contains("values"))
        for (const auto& v : e["values"]) in_values = in_values || v == *have;
      if (op == "In" && !in_values) return false;
      if (op == "NotIn" && in_values) return false;
      if (op == "Exists" && !have) return false;
      if (op == "DoesNotExist" && have) return false;
    }
  }
  return true;
}

}  // namespace nodeagent::drain
