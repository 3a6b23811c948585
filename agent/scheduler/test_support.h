// Test helpers for the scheduler tests: file systems that serve real zoneinfo
// files read-only or canned bytes, and UTC time-point builders and printers.
#pragma once

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "nodeagent/host.h"
#include "scheduler/time_zone.h"

namespace nodeagent {

/// Reads host files directly (tests only: the product goes through the seam).
/// Every write is refused, so a test cannot change the machine.
class ReadOnlyHostFiles : public FileSystem {
 public:
  const std::string& root() const override { return root_; }
  std::string Resolve(std::string_view p) const override { return std::string(p); }
  Result<std::string> ReadFile(std::string_view p) const override {
    std::ifstream in{std::string(p), std::ios::binary};
    if (!in) return NotFound(std::string(p) + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (ss.str().size() > kMaxReadFileBytes) return Error(ErrorCode::kTooLarge, std::string(p) + ": over the read limit");
    return ss.str();
  }
  bool Exists(std::string_view p) const override { return std::ifstream{std::string(p)}.good(); }
  Result<std::vector<std::string>> ListDir(std::string_view) const override { return Internal("read-only test fs"); }
  Result<FileInfo> Stat(std::string_view) const override { return Internal("read-only test fs"); }
  Result<FileInfo> Lstat(std::string_view) const override { return Internal("read-only test fs"); }
  Result<std::string> ReadLink(std::string_view) const override { return Internal("read-only test fs"); }
  Status WriteFileAtomic(std::string_view, std::string_view, mode_t, std::optional<std::string>) override {
    return Internal("read-only test fs");
  }
  Status MakeDirs(std::string_view, mode_t) override { return Internal("read-only test fs"); }
  Status Remove(std::string_view) override { return Internal("read-only test fs"); }
  Status Chmod(std::string_view, mode_t) override { return Internal("read-only test fs"); }
  Status WriteInPlace(std::string_view, std::string_view) override { return Internal("read-only test fs"); }

 private:
  std::string root_;
};

/// Serves canned files from a map; records nothing else.
class FakeFiles : public ReadOnlyHostFiles {
 public:
  std::map<std::string, std::string, std::less<>> files;
  Result<std::string> ReadFile(std::string_view p) const override {
    auto it = files.find(p);
    if (it == files.end()) return NotFound(std::string(p) + ": no such file");
    if (it->second.size() > kMaxReadFileBytes) return Error(ErrorCode::kTooLarge, std::string(p) + ": over the read limit");
    return it->second;
  }
  bool Exists(std::string_view p) const override { return files.count(std::string(p)) > 0; }
};

/// A zone from the real /usr/share/zoneinfo; throws (failing the test with the
/// reason) when tzdata is missing.
inline TimeZone RealZone(const std::string& name) {
  ReadOnlyHostFiles files;
  auto z = TimeZone::Load(files, name);
  if (!z) throw std::runtime_error("cannot load " + name + " (is the tzdata package installed?): " + z.error().ToString());
  return *z;
}

inline TimePoint Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return TimePoint(ToLocalSeconds(CivilTime{y, mo, d, h, mi, s, 0}).time_since_epoch());
}

/// "2026-03-29T01:00:00Z", or "never".
inline std::string Iso(std::optional<TimePoint> t) {
  if (!t) return "never";
  CivilTime c = ToCivil(LocalSeconds(std::chrono::floor<std::chrono::seconds>(*t).time_since_epoch()));
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour, c.minute, c.second);
  return buf;
}

}  // namespace nodeagent
