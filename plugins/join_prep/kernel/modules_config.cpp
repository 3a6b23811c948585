#include "kernel/modules_config.h"

#include "kernel/conf_dirs.h"

namespace nodeagent::join_prep {
namespace {

constexpr std::string_view kEtcModules = "/etc/modules";

std::string FirstWord(std::string_view line) {
  size_t end = line.find_first_of(" \t");
  return std::string(line.substr(0, end));
}

void ParseModulesFile(const std::string& path, std::string_view text, BootModules& out) {
  bool truncated = false;
  auto lines = SplitLines(text, kMaxModuleLines, &truncated);
  if (truncated)
    out.problems.push_back(path + ": more than " + std::to_string(kMaxModuleLines) + " lines; the rest were not read");
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = Trim(lines[i]);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    // /etc/modules allows arguments after the name; the drop-ins do not, but
    // the first word is the module either way.
    std::string name = NormalizeModuleName(FirstWord(line));
    out.listed.emplace(name, ModuleListing{path, static_cast<int>(i + 1)});
  }
}

bool LinksTo(const FileSystem& files, const std::string& path, std::string_view target_path) {
  auto l = files.Lstat(path);
  if (!l || l->type != FileType::kSymlink) return false;
  auto t = files.ReadLink(path);
  if (!t) return false;
  if (*t == target_path) return true;
  // Relative links from /etc/modules-load.d: "../modules".
  return path.rfind("/etc/modules-load.d/", 0) == 0 && *t == "../modules" && target_path == kEtcModules;
}

}  // namespace

std::string NormalizeModuleName(std::string_view name) {
  std::string n(name);
  for (char& c : n)
    if (c == '-') c = '_';
  return n;
}

BootModules ReadBootModules(const FileSystem& files) {
  BootModules out;
  bool etc_modules_linked = false;
  for (const ConfFile& f : ListConfFiles(files, ConfDirs("modules-load.d"), &out.problems)) {
    if (LinksTo(files, f.path, kEtcModules)) etc_modules_linked = true;
    if (f.masked) {
      out.masked.push_back(f.path);
      continue;
    }
    auto text = files.ReadFile(f.path);
    if (!text) {
      if (text.error().code() != ErrorCode::kNotFound)  // a dangling link reads as nothing
        out.problems.push_back(f.path + ": " + text.error().message());
      continue;
    }
    out.files_read.push_back(f.path);
    ParseModulesFile(f.path, *text, out);
  }
  if (!etc_modules_linked) {
    auto text = files.ReadFile(kEtcModules);
    if (text) {
      out.files_read.emplace_back(kEtcModules);
      ParseModulesFile(std::string(kEtcModules), *text, out);
    } else if (text.error().code() != ErrorCode::kNotFound) {
      out.problems.push_back(std::string(kEtcModules) + ": " + text.error().message());
    }
  }
  return out;
}

ModuleStatus LoadedModule(const FileSystem& files, std::string_view name) {
  ModuleStatus st;
  std::string want = NormalizeModuleName(name);
  auto procmods = files.ReadFile("/proc/modules");
  if (procmods) {
    for (const auto& line : SplitLines(*procmods, 100000, nullptr)) {
      if (NormalizeModuleName(FirstWord(line)) == want) {
        st.state = ModuleState::kLoaded;
        st.evidence = "/proc/modules";
        return st;
      }
    }
  } else if (procmods.error().code() != ErrorCode::kNotFound) {
    st.problem = "/proc/modules: " + procmods.error().message();
  }
  std::string sys = "/sys/module/" + want;
  if (files.Exists(sys)) {
    st.state = ModuleState::kBuiltin;
    st.evidence = sys + " (not in /proc/modules: built in)";
    return st;
  }
  // A module built in without parameters has no /sys/module entry; what it
  // provides shows it then: the bridge sysctls, the overlay file system.
  if (want == "br_netfilter" && files.Exists("/proc/sys/net/bridge/bridge-nf-call-iptables")) {
    st.state = ModuleState::kBuiltin;
    st.evidence = "/proc/sys/net/bridge exists and br_netfilter is not in /proc/modules: built in";
    return st;
  }
  if (want == "overlay") {
    auto fs = files.ReadFile("/proc/filesystems");
    if (fs)
      for (const auto& line : SplitLines(*fs, 10000, nullptr))
        if (Trim(line) == "nodev\toverlay" || Trim(line) == "overlay") {
          st.state = ModuleState::kBuiltin;
          st.evidence = "/proc/filesystems lists overlay and it is not in /proc/modules: built in";
          return st;
        }
  }
  auto release = files.ReadFile("/proc/sys/kernel/osrelease");
  if (!release) return st;
  std::string rel(Trim(*release));
  while (!rel.empty() && rel.back() == '\n') rel.pop_back();
  rel = std::string(Trim(rel));
  if (rel.empty() || rel.find('/') != std::string::npos || rel == "..") return st;
  std::string builtin = "/lib/modules/" + rel + "/modules.builtin";
  auto text = files.ReadFile(builtin);
  if (!text) return st;
  for (const auto& line : SplitLines(*text, 100000, nullptr)) {
    // "kernel/fs/overlayfs/overlay.ko"
    std::string_view l = Trim(line);
    size_t slash = l.rfind('/');
    std::string_view base = slash == std::string_view::npos ? l : l.substr(slash + 1);
    if (base.size() > 3 && base.substr(base.size() - 3) == ".ko") base.remove_suffix(3);
    if (NormalizeModuleName(base) == want) {
      st.state = ModuleState::kBuiltin;
      st.evidence = builtin + ": " + std::string(l);
      return st;
    }
  }
  return st;
}

}  // namespace nodeagent::join_prep
