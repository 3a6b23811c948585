// A FileSystem that hands every call to another one. The phase guards' file
// systems differ only in what they check before a change (refused while
// planning; held to the plan while applying): deriving from this, each
// overrides just the calls that change something, and the looks (read, list,
// stat, resolve, directory descriptors) are forwarded in one place.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nodeagent/host.h"

namespace nodeagent {

class ForwardingFileSystem : public FileSystem {
 public:
  explicit ForwardingFileSystem(FileSystem& inner) : inner_(inner) {}

  const std::string& root() const override { return inner_.root(); }
  std::string Resolve(std::string_view p) const override { return inner_.Resolve(p); }
  Result<std::string> ReadFile(std::string_view p) const override { return inner_.ReadFile(p); }
  bool Exists(std::string_view p) const override { return inner_.Exists(p); }
  Result<std::vector<std::string>> ListDir(std::string_view p) const override { return inner_.ListDir(p); }
  Result<FileInfo> Stat(std::string_view p) const override { return inner_.Stat(p); }
  Result<FileInfo> Lstat(std::string_view p) const override { return inner_.Lstat(p); }
  Result<std::string> ReadLink(std::string_view p) const override { return inner_.ReadLink(p); }
  // A descriptor is for walking (log-cleanup's planner reads a tree with it);
  // like Resolve(), what a plugin does with it is beyond a guard.
  Result<int> OpenDirectory(std::string_view p, SymlinkPolicy links) const override {
    return inner_.OpenDirectory(p, links);
  }
  Status WriteFileAtomic(std::string_view p, std::string_view content, mode_t mode,
                         std::optional<std::string> backup_suffix) override {
    return inner_.WriteFileAtomic(p, content, mode, std::move(backup_suffix));
  }
  Status MakeDirs(std::string_view p, mode_t mode) override { return inner_.MakeDirs(p, mode); }
  Status Remove(std::string_view p) override { return inner_.Remove(p); }
  Status Chmod(std::string_view p, mode_t mode) override { return inner_.Chmod(p, mode); }
  Status WriteInPlace(std::string_view p, std::string_view content) override {
    return inner_.WriteInPlace(p, content);
  }

 protected:
  FileSystem& inner() { return inner_; }

 private:
  FileSystem& inner_;
};

}  // namespace nodeagent
