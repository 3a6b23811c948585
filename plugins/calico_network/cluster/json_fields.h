// Reading fields of API objects without exceptions. The cluster units read
// objects the API server (or anyone with write access to it) produced;
// nlohmann::json's value() and at() throw when a field has an unexpected
// type, and no exception may leave a unit, so every read goes through these:
// a missing or ill-typed field reads as null, "", the default.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace nodeagent::calico::jsonf {

/// The value at a "/a/b/0/c" path (object keys; array indices for arrays), or
/// a null json when any step is missing or of the wrong type. No "~" escapes.
inline const nlohmann::json& At(const nlohmann::json& j, std::string_view path) {
  static const nlohmann::json kNull;
  const nlohmann::json* cur = &j;
  size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] != '/') return kNull;
    size_t end = path.find('/', pos + 1);
    std::string key(path.substr(pos + 1, end == std::string_view::npos ? std::string_view::npos : end - pos - 1));
    if (cur->is_object()) {
      auto it = cur->find(key);
      if (it == cur->end()) return kNull;
      cur = &*it;
    } else if (cur->is_array()) {
      if (key.empty() || key.size() > 9 || key.find_first_not_of("0123456789") != std::string::npos) return kNull;
      size_t index = std::stoul(key);
      if (index >= cur->size()) return kNull;
      cur = &(*cur)[index];
    } else {
      return kNull;
    }
    pos = end == std::string_view::npos ? path.size() : end;
  }
  return *cur;
}

/// A string field, "" when missing or not a string.
inline std::string Str(const nlohmann::json& j, std::string_view path) {
  const nlohmann::json& v = At(j, path);
  return v.is_string() ? v.get<std::string>() : "";
}

/// An integer field, `fallback` when missing or not an integer.
inline int64_t Int(const nlohmann::json& j, std::string_view path, int64_t fallback) {
  const nlohmann::json& v = At(j, path);
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

/// A boolean field, `fallback` when missing or not a boolean.
inline bool Bool(const nlohmann::json& j, std::string_view path, bool fallback) {
  const nlohmann::json& v = At(j, path);
  return v.is_boolean() ? v.get<bool>() : fallback;
}

}  // namespace nodeagent::calico::jsonf
