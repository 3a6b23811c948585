#include "kernel/conf_dirs.h"

#include <algorithm>
#include <map>

namespace nodeagent::join_prep {

std::vector<std::string> ConfDirs(std::string_view subdir) {
  std::string s(subdir);
  // /lib is /usr/lib on merged-usr systems; listing both reads the same
  // files twice under the same names, which the same-name rule collapses.
  return {"/etc/" + s, "/run/" + s, "/usr/local/lib/" + s, "/usr/lib/" + s, "/lib/" + s};
}

bool IsMasked(const FileSystem& files, const std::string& path) {
  auto l = files.Lstat(path);
  if (!l) return false;
  if (l->type == FileType::kSymlink) {
    auto target = files.ReadLink(path);
    return target && *target == "/dev/null";
  }
  return l->type == FileType::kCharDevice;
}

std::vector<ConfFile> ListConfFiles(const FileSystem& files, const std::vector<std::string>& dirs,
                                    std::vector<std::string>* problems) {
  std::map<std::string, ConfFile> by_name;  // sorted by name, as the boot sorts them
  for (const auto& dir : dirs) {
    auto names = files.ListDir(dir);
    if (!names) {
      if (names.error().code() != ErrorCode::kNotFound && problems)
        problems->push_back(dir + ": " + names.error().message());
      continue;
    }
    size_t taken = 0;
    for (const auto& name : *names) {
      if (name.size() < 6 || name.compare(name.size() - 5, 5, ".conf") != 0) continue;
      if (++taken > kMaxConfFilesPerDir) {
        if (problems)
          problems->push_back(dir + ": more than " + std::to_string(kMaxConfFilesPerDir) +
                              " files; the rest were not read");
        break;
      }
      std::string path = dir + "/" + name;
      auto it = by_name.find(name);
      if (it != by_name.end()) {
        it->second.shadowed.push_back(path);
        continue;
      }
      ConfFile f;
      f.name = name;
      f.path = path;
      f.masked = IsMasked(files, path);
      by_name.emplace(name, std::move(f));
    }
  }
  std::vector<ConfFile> out;
  out.reserve(by_name.size());
  for (auto& [_, f] : by_name) out.push_back(std::move(f));
  return out;
}

std::vector<std::string> SplitLines(std::string_view text, size_t max_lines, bool* truncated) {
  std::vector<std::string> lines;
  if (truncated) *truncated = false;
  size_t pos = 0;
  while (pos < text.size()) {
    if (lines.size() >= max_lines) {
      if (truncated) *truncated = true;
      break;
    }
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.emplace_back(line);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return lines;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace nodeagent::join_prep
