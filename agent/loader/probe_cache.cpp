#include "loader/probe_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <ctime>

#include "host/local_file_system.h"
#include "loader/plugin_tables.h"
#include "nodeagent/plugin.h"

namespace nodeagent {

namespace {

/// An entry holds the tables and its key; the tables are bounded as a probe's
/// answer is.
constexpr size_t kMaxEntryBytes = kMaxPluginTablesWireBytes + 64 * 1024;

int64_t Nanos(const struct timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

std::string Hex64(uint64_t v) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(v));
  return out;
}

/// FNV-1a: a stable name for a path (not a security boundary: the entry
/// repeats its module's path in its key, which is compared in full).
uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

namespace {

std::string IdentityOf(const struct stat& st) {
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
         std::to_string(Nanos(st.st_mtim)) + ":" + std::to_string(Nanos(st.st_ctim));
}

}  // namespace

std::string FileIdentity(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return "";
  return IdentityOf(st);
}

ProbeCache::ProbeCache(std::string dir, const std::string& probe_exe, bool require_root_owner, int racy_seconds)
    : dir_(std::move(dir)),
      probe_identity_(FileIdentity(probe_exe)),
      require_root_owner_(require_root_owner),
      racy_seconds_(racy_seconds) {
  if (!dir_.empty()) ::mkdir(dir_.c_str(), 0700);  // EEXIST, or no parent: DirSafe() decides
}

bool ProbeCache::DirSafe() const {
  struct stat st;
  if (dir_.empty() || ::lstat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  if (st.st_mode & (S_IWGRP | S_IWOTH)) return false;
  return !require_root_owner_ || st.st_uid == 0;
}

std::string ProbeCache::EntryPath(const std::string& module) const {
  std::string base = module.substr(module.find_last_of('/') + 1);
  for (char& c : base)
    if (c == '.' || !(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) c = '_';
  return dir_ + "/" + base.substr(0, 64) + "-" + Hex64(Fnv1a(module)) + ".json";
}

std::string ProbeCache::Key(const std::string& module) const { return KeyFor(module, FileIdentity(module)); }

std::string ProbeCache::KeyFor(const std::string& module, const std::string& identity) const {
  if (identity.empty() || probe_identity_.empty() || dir_.empty()) return "";
  return "abi " + std::to_string(kPluginAbiVersion) + " module " + module + " " + identity + " probe " +
         probe_identity_;
}

std::optional<nlohmann::json> ProbeCache::Find(const std::string& module, const std::string& key) const {
  if (key.empty() || !DirSafe()) return std::nullopt;
  const std::string path = EntryPath(module);
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct stat st;
  Result<std::string> text = Error(ErrorCode::kPermissionDenied, "not a regular file of ours");
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid())
    text = ReadAllFromFd(fd, kMaxEntryBytes, path);
  ::close(fd);
  if (!text) return std::nullopt;
  auto entry = nlohmann::json::parse(*text, nullptr, false);
  if (entry.is_discarded() || !entry.is_object()) return std::nullopt;
  auto kept_key = entry.find("key");
  auto tables = entry.find("plugin");
  if (kept_key == entry.end() || !kept_key->is_string() || *kept_key != key || tables == entry.end())
    return std::nullopt;
  return std::move(*tables);
}

bool ProbeCache::Keep(const std::string& module, const std::string& key, const nlohmann::json& tables) const {
  // One lstat answers both questions: is the module still the file the key
  // names, and is its last change old enough.
  struct stat st;
  struct timespec now;
  if (key.empty() || ::lstat(module.c_str(), &st) != 0 || KeyFor(module, IdentityOf(st)) != key || !DirSafe() ||
      ::clock_gettime(CLOCK_REALTIME, &now) != 0)
    return false;
  const int64_t age = Nanos(now) - std::max(Nanos(st.st_mtim), Nanos(st.st_ctim));
  if (age < static_cast<int64_t>(racy_seconds_) * 1000000000) return false;
  const std::string text = nlohmann::json{{"key", key}, {"plugin", tables}}.dump();
  if (text.size() > kMaxEntryBytes) return false;
  return WriteFileAtomically(EntryPath(module), text, 0600).ok();
}

}  // namespace nodeagent
