#include "kernel/sysctl_config.h"

#include <fnmatch.h>

#include "kernel/conf_dirs.h"

namespace nodeagent::join_prep {
namespace {

constexpr std::string_view kSysctlConf = "/etc/sysctl.conf";

// The host path a symlink in `dir` points at, for comparing with a path.
std::string LinkTarget(const FileSystem& files, const std::string& dir, const std::string& path) {
  auto l = files.Lstat(path);
  if (!l || l->type != FileType::kSymlink) return "";
  auto target = files.ReadLink(path);
  if (!target) return "";
  std::string joined = (!target->empty() && (*target)[0] == '/') ? *target : dir + "/" + *target;
  // Fold "." and ".." by name.
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= joined.size()) {
    size_t slash = joined.find('/', pos);
    std::string part = joined.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

void ParseFile(const std::string& path, const std::string& order_name, std::string_view text, SysctlConfig& out) {
  bool truncated = false;
  auto lines = SplitLines(text, kMaxSysctlLinesPerFile, &truncated);
  if (truncated)
    out.problems.push_back(path + ": more than " + std::to_string(kMaxSysctlLinesPerFile) +
                           " lines; the rest were not read");
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = Trim(lines[i]);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (out.assignments.size() >= kMaxSysctlAssignments) {
      out.problems.push_back(path + ":" + std::to_string(i + 1) + ": over " +
                             std::to_string(kMaxSysctlAssignments) + " assignments in all; the rest were not read");
      return;
    }
    SysctlAssignment a;
    a.file = path;
    a.order_name = order_name;
    a.line = static_cast<int>(i + 1);
    size_t eq = line.find('=');
    std::string_view key = Trim(line.substr(0, eq));
    if (!key.empty() && key[0] == '-') key = Trim(key.substr(1));
    if (key.empty()) {
      out.problems.push_back(path + ":" + std::to_string(i + 1) + ": no key before '='");
      continue;
    }
    a.key = std::string(key);
    a.glob = key.find_first_of("*?[") != std::string_view::npos;
    if (eq == std::string_view::npos) {
      if (line[0] == '-') {
        a.exclusion = true;
      } else {
        out.problems.push_back(path + ":" + std::to_string(i + 1) + ": no '=' in \"" + std::string(line) +
                               "\" (systemd-sysctl ignores the line)");
        continue;
      }
    } else {
      a.value = std::string(Trim(line.substr(eq + 1)));
    }
    out.assignments.push_back(std::move(a));
  }
}

}  // namespace

std::string NormalizeSysctlKey(std::string_view key) {
  std::string k(key);
  size_t first = k.find_first_of("./");
  if (first == std::string::npos || k[first] == '/') return k;
  for (char& c : k) {
    if (c == '.') c = '/';
    else if (c == '/') c = '.';
  }
  return k;
}

SysctlConfig ReadSysctlConfig(const FileSystem& files) {
  SysctlConfig out;
  for (const ConfFile& f : ListConfFiles(files, ConfDirs("sysctl.d"), &out.problems)) {
    std::string dir = f.path.substr(0, f.path.rfind('/'));
    if (LinkTarget(files, dir, f.path) == kSysctlConf) out.sysctl_conf_linked = true;
    if (f.masked) continue;
    auto text = files.ReadFile(f.path);
    if (!text) {
      out.problems.push_back(f.path + ": " + text.error().message());
      continue;
    }
    out.files_read.push_back(f.path);
    ParseFile(f.path, f.name, *text, out);
  }
  if (!out.sysctl_conf_linked) {
    auto text = files.ReadFile(kSysctlConf);
    if (text) {
      out.files_read.emplace_back(kSysctlConf);
      ParseFile(std::string(kSysctlConf), "(last: sysctl.conf)", *text, out);
    } else if (text.error().code() != ErrorCode::kNotFound) {
      out.problems.push_back(std::string(kSysctlConf) + ": " + text.error().message());
    }
  }
  return out;
}

SysctlBootValue BootValue(const SysctlConfig& config, std::string_view key) {
  SysctlBootValue out;
  std::string want = NormalizeSysctlKey(key);
  bool excluded = false;
  std::optional<SysctlAssignment> last_explicit, last_glob;
  for (const auto& a : config.assignments) {
    std::string k = NormalizeSysctlKey(a.key);
    if (a.glob) {
      if (a.exclusion) continue;
      if (fnmatch(k.c_str(), want.c_str(), 0) != 0) continue;
      out.applying.push_back(a);
      last_glob = a;
      continue;
    }
    if (k != want) continue;
    if (a.exclusion) {
      excluded = true;
      continue;
    }
    out.applying.push_back(a);
    last_explicit = a;
  }
  if (last_explicit) out.winner = last_explicit;
  else if (last_glob && !excluded) out.winner = last_glob;
  return out;
}

}  // namespace nodeagent::join_prep
