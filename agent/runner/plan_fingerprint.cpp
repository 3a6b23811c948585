#include "runner/plan_fingerprint.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace nodeagent {

namespace {

/// Length-prefixed, so that no two different changes serialise alike.
void Put(std::string& out, const std::string& field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

}  // namespace

std::string PlanFingerprint(const std::vector<Change>& changes) {
  std::vector<std::string> rows;
  rows.reserve(changes.size());
  for (const Change& c : changes) {
    std::string row;
    Put(row, c.kind);
    Put(row, c.target);
    Put(row, c.diff);
    row += std::to_string(c.objects.size()) + "#";
    for (const std::string& o : c.objects) Put(row, o);
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end());
  uint64_t h = 14695981039346656037ull;  // FNV-1a offset basis
  auto mix = [&h](std::string_view bytes) {
    for (unsigned char b : bytes) {
      h ^= b;
      h *= 1099511628211ull;  // FNV prime
    }
  };
  for (const std::string& row : rows) {
    mix(std::to_string(row.size()) + ":");
    mix(row);
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace nodeagent
