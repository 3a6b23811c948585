#include "swap/zram.h"

#include <algorithm>
#include <map>

#include "swap/swap_units.h"

namespace nodeagent::join_prep {
namespace {

// Low precedence first, as zram-generator scans them.
const std::vector<std::string_view> kConfigBases = {"/usr/lib", "/usr/local/lib", "/etc", "/run"};
const std::vector<std::string_view> kGeneratorDirs = {
    "/run/systemd/system-generators", "/etc/systemd/system-generators", "/usr/local/lib/systemd/system-generators",
    "/usr/lib/systemd/system-generators", "/lib/systemd/system-generators"};

std::string_view Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool IsZramSection(std::string_view name) {
  if (name.size() <= 4 || name.substr(0, 4) != "zram") return false;
  return std::all_of(name.begin() + 4, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsDevNullLink(const FileSystem& files, const std::string& path) {
  auto l = files.Lstat(path);
  if (!l || l->type != FileType::kSymlink) return false;
  auto t = files.ReadLink(path);
  return t && *t == "/dev/null";
}

/// Each [section] (key "") and its key = value pairs in order; comments
/// (# ;) and blank lines skipped; anything else a problem naming FILE:LINE.
struct IniSetting {
  std::string section, key, value;
};
std::vector<IniSetting> ParseIni(std::string_view text, const std::string& path, std::vector<std::string>& problems) {
  std::vector<IniSetting> out;
  std::string section;
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    auto line = Trim(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (++line_no > kMaxZramConfigLines) {
      problems.push_back(path + ": more than " + std::to_string(kMaxZramConfigLines) + " lines; the rest not read");
      break;
    }
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        problems.push_back(path + ":" + std::to_string(line_no) + ": unterminated section header");
        section.clear();
        continue;
      }
      section = std::string(Trim(line.substr(1, line.size() - 2)));
      out.push_back({section, "", ""});  // a section alone makes a device
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      problems.push_back(path + ":" + std::to_string(line_no) + ": expected key = value or [section]");
      continue;
    }
    if (section.empty()) continue;  // the generator ignores settings outside a section
    out.push_back({section, std::string(Trim(line.substr(0, eq))), std::string(Trim(line.substr(eq + 1)))});
  }
  return out;
}

void Apply(ZramDevice& d, const IniSetting& s) {
  if (s.key == "host-memory-limit" || s.key == "memory-limit")
    d.host_memory_limit = s.value;
  else if (s.key == "zram-size")
    d.zram_size = s.value;
  else if (s.key == "zram-fraction")
    d.zram_fraction = s.value;
  else if (s.key == "max-zram-size")
    d.max_zram_size = s.value;
  else if (s.key == "mount-point")
    d.mount_point = s.value;
  else if (s.key == "fs-type")
    d.fs_type = s.value;
}

bool IsZeroNumber(const std::optional<std::string>& v) {
  if (!v || v->empty()) return false;
  bool digit = false;
  for (char c : *v) {
    if (c == '0')
      digit = true;
    else if (c != '.')
      return false;
  }
  return digit;
}

std::optional<long long> ParseMiB(const std::string& v) {
  if (v.empty() || v.size() > 15 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::stoll(v);
}

std::optional<long long> MemTotalMiB(const FileSystem& files) {
  auto text = files.ReadFile("/proc/meminfo");
  if (!text) return std::nullopt;
  auto at = text->find("MemTotal:");
  if (at == std::string::npos) return std::nullopt;
  size_t i = at + 9;
  while (i < text->size() && (*text)[i] == ' ') ++i;
  size_t start = i;
  while (i < text->size() && (*text)[i] >= '0' && (*text)[i] <= '9') ++i;
  if (i == start || i - start > 15) return std::nullopt;
  return std::stoll(text->substr(start, i - start)) / 1024;
}

/// Whether the generator creates the device, and why not.
void Decide(ZramDevice& d, std::optional<long long> mem_mib, std::vector<std::string>& problems) {
  d.swap = !d.mount_point && (!d.fs_type || *d.fs_type == "swap");
  if (d.host_memory_limit && *d.host_memory_limit != "none") {
    auto limit = ParseMiB(*d.host_memory_limit);
    if (!limit) {
      problems.push_back(d.name + ": host-memory-limit \"" + *d.host_memory_limit + "\" is not a number");
    } else if (*limit == 0) {
      d.created = false;
      d.why_not = "host-memory-limit = 0";
      return;
    } else if (mem_mib && *mem_mib > *limit) {
      d.created = false;
      d.why_not =
          "host-memory-limit = " + *d.host_memory_limit + " MiB, below MemTotal " + std::to_string(*mem_mib) + " MiB";
      return;
    } else if (!mem_mib) {
      problems.push_back(d.name + ": host-memory-limit = " + *d.host_memory_limit +
                         " but /proc/meminfo has no MemTotal; assuming the device is created");
    }
  }
  bool legacy = d.zram_fraction || d.max_zram_size;  // these override zram-size
  if ((legacy && (IsZeroNumber(d.zram_fraction) || IsZeroNumber(d.max_zram_size))) ||
      (!legacy && IsZeroNumber(d.zram_size))) {
    d.created = false;
    d.why_not = "size 0";
  }
}

std::string KernelZramSetting(const FileSystem& files) {
  auto text = files.ReadFile("/proc/cmdline");
  if (!text) return "";
  std::string found;
  size_t i = 0;
  const std::string& t = *text;
  while (i < t.size()) {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\n' || t[i] == '\t')) ++i;
    size_t start = i;
    while (i < t.size() && t[i] != ' ' && t[i] != '\n' && t[i] != '\t') ++i;
    std::string_view word(t.data() + start, i - start);
    if (word == "systemd.zram" || word.substr(0, 13) == "systemd.zram=") {
      auto v = word.size() > 13 ? word.substr(13) : std::string_view("1");
      bool off = v == "0" || v == "no" || v == "false" || v == "off";
      found = off ? "systemd.zram=0" : "systemd.zram=1";  // the last one counts
    }
  }
  return found;
}

}  // namespace

std::vector<const ZramDevice*> ZramGeneratorView::SwapAtBoot() const {
  std::vector<const ZramDevice*> out;
  if (!Active()) return out;
  for (const auto& d : devices)
    if (d.swap && d.created) out.push_back(&d);
  return out;
}

ZramGeneratorView ReadZramGenerator(const FileSystem& files) {
  ZramGeneratorView view;
  for (auto dir : kGeneratorDirs) {
    std::string path = std::string(dir) + "/zram-generator";
    if (!files.Exists(path)) continue;
    if (IsDevNullLink(files, path))
      view.generator_masked = true;
    else
      view.generator = path;
    break;
  }
  if (view.generator.empty()) return view;
  view.kernel_setting = KernelZramSetting(files);

  std::vector<std::string> ordered;
  for (auto it = kConfigBases.rbegin(); it != kConfigBases.rend(); ++it) {
    std::string main = std::string(*it) + "/systemd/zram-generator.conf";
    if (files.Exists(main)) {
      ordered.push_back(main);
      break;
    }
  }
  std::map<std::string, std::string> dropins;  // name -> winning path ("" masked)
  for (auto base : kConfigBases) {
    std::string dir = std::string(base) + "/systemd/zram-generator.conf.d";
    auto names = files.ListDir(dir);
    if (!names) {
      if (names.error().code() != ErrorCode::kNotFound)
        view.problems.push_back("cannot list " + dir + ": " + names.error().message());
      continue;
    }
    for (const auto& n : *names) {
      if (n.size() <= 5 || n.substr(n.size() - 5) != ".conf") continue;
      std::string path = dir + "/" + n;
      dropins[n] = IsDevNullLink(files, path) ? "" : path;
    }
  }
  if (dropins.size() > kMaxZramDropIns) {
    view.problems.push_back("more than " + std::to_string(kMaxZramDropIns) + " zram-generator drop-ins");
    return view;
  }
  for (auto& [_, path] : dropins)
    if (!path.empty()) ordered.push_back(path);

  std::map<std::string, ZramDevice> devices;
  if (view.kernel_setting == "systemd.zram=1") {
    devices["zram0"].name = "zram0";
    devices["zram0"].set_in.push_back("/proc/cmdline");
  }
  for (const auto& path : ordered) {
    if (IsDevNullLink(files, path)) {  // masks the vendor file; read as empty
      view.files.push_back(path + " -> /dev/null");
      continue;
    }
    auto text = files.ReadFile(path);
    if (!text) {
      view.problems.push_back("cannot read " + path + ": " + text.error().message());
      continue;
    }
    view.files.push_back(path);
    for (const auto& s : ParseIni(*text, path, view.problems)) {
      if (!IsZramSection(s.section)) continue;
      auto& d = devices[s.section];
      d.name = s.section;
      if (d.set_in.empty() || d.set_in.back() != path) d.set_in.push_back(path);
      Apply(d, s);
      if (path == kZramNoSwapDropIn && s.key == "host-memory-limit" && s.value == "0") {
        view.already_off.push_back(s.section);
      }
    }
  }
  auto mem = MemTotalMiB(files);
  for (auto& [_, d] : devices) {
    Decide(d, mem, view.problems);
    view.devices.push_back(std::move(d));
  }
  return view;
}

std::string ZramNoSwapDropInContent(const std::vector<std::string>& devices) {
  std::vector<std::string> names = devices;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string out =
      "# Written by nodeagent join-prep: the kubelet needs swap off.\n"
      "# zram-generator does not create a device when the machine has more\n"
      "# memory (MiB) than its host-memory-limit, so 0 keeps each device below\n"
      "# from being set up as swap at boot. Delete this file to undo.\n";
  for (const auto& n : names) out += "\n[" + n + "]\nhost-memory-limit = 0\n";
  return out;
}

ZramToolsView ReadZramTools(const FileSystem& files) {
  ZramToolsView view;
  view.config_present = files.Exists("/etc/default/zramswap");
  auto scan = ScanUnitFiles(files, [](std::string_view n) { return n == "zramswap.service"; });
  view.problems = scan.problems;
  for (const auto& u : scan.units) {
    view.fragment = u.fragment;
    view.masked = u.masked;
    view.wanted_by = u.wanted_by;
  }
  return view;
}

}  // namespace nodeagent::join_prep
