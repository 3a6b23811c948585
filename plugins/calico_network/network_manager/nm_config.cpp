#include "network_manager/nm_config.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace nodeagent::calico {
namespace {

std::string_view Trim(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

std::string BaseName(std::string_view path) {
  auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string DirName(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

// The 1-based line of the first byte that is not valid UTF-8; 0 when valid.
size_t FirstInvalidUtf8Line(std::string_view text) {
  size_t line = 1;
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') ++line;
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > text.size()) return line;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) return line;
    if (len == 2 && c < 0xC2) return line;  // overlong
    i += len;
  }
  return 0;
}

// One `key=value` line of a parsed file.
struct KeyLine {
  std::string key;  // as written, may end in '+' or '-'
  std::string value;
};

struct GroupLines {
  std::string name;
  std::vector<KeyLine> keys;
};

// A file parsed the way GKeyFile parses it: '#' comments and blank lines,
// `[group]` headers, `key=value` pairs inside a group; anything else is an error.
bool ParseKeyFile(const std::string& path, std::string_view text, std::vector<GroupLines>& groups,
                  std::vector<NmParseError>& errors) {
  if (size_t bad = FirstInvalidUtf8Line(text)) {
    errors.push_back({path, bad, "not valid UTF-8"});
    return false;
  }
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (++line_no > kMaxNmConfLines) {
      errors.push_back({path, 0, "more than " + std::to_string(kMaxNmConfLines) + " lines; not read"});
      return false;
    }
    size_t nl = text.find('\n', pos);
    std::string_view raw = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view line = raw;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Trim(line).empty() || line.front() == '#') continue;
    if (line.front() == '[') {
      std::string_view rest = Trim(line);
      size_t close = rest.find(']');
      std::string_view name = close == std::string_view::npos ? std::string_view() : rest.substr(1, close - 1);
      bool control = std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
      if (close == std::string_view::npos || close + 1 != rest.size() || name.empty() ||
          name.find('[') != std::string_view::npos || control) {
        errors.push_back({path, line_no, "broken section header \"" + std::string(Trim(line)) + "\""});
        return false;
      }
      groups.push_back({std::string(name), {}});
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      errors.push_back({path, line_no,
                        "\"" + std::string(Trim(line)) + "\" is not a key=value pair, a [section] or a # comment"});
      return false;
    }
    std::string_view key = Trim(line.substr(0, eq));
    if (key.empty()) {
      errors.push_back({path, line_no, "a value without a key"});
      return false;
    }
    if (groups.empty()) {
      errors.push_back({path, line_no, "key \"" + std::string(key) + "\" outside a [section]"});
      return false;
    }
    groups.back().keys.push_back({std::string(key), std::string(Trim(line.substr(eq + 1)))});
  }
  return true;
}

bool IsDeviceGroup(std::string_view group) { return StartsWith(group, "device"); }

// Keys whose values are device-spec lists (NetworkManager.conf(5), "Device List Format").
bool IsDeviceSpecKey(std::string_view group, std::string_view key) {
  if (group == "keyfile") return key == "unmanaged-devices";
  if (group == "main") return key == "no-auto-default" || key == "ignore-carrier" || key == "assume-ipv6ll-only";
  if (IsDeviceGroup(group) || StartsWith(group, "connection")) return key == "match-device";
  return false;
}

std::optional<bool> ParseBool(std::string_view v) {
  std::string s(Trim(v));
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "no" || s == "off") return false;
  return std::nullopt;
}

// Merged state of the configuration, kept beside the public NmConfig while reading.
struct GroupState {
  std::map<std::string, std::string> values;
  std::map<std::string, std::vector<std::string>> specs;
  size_t file_index = 0;  // the last file that touched the group
  size_t position = 0;    // its place in that file (a plain [device] sorts last)
  std::string file;
};

struct MergeState {
  std::map<std::string, GroupState> groups;
  size_t file_index = 0;
};

void MergeSpecs(std::vector<std::string>& old, const std::vector<std::string>& items, char op) {
  if (op == '+') {
    for (const auto& s : items)
      if (std::find(old.begin(), old.end(), s) == old.end()) old.push_back(s);
  } else {
    for (const auto& s : items) old.erase(std::remove(old.begin(), old.end(), s), old.end());
  }
}

void MergeKey(NmConfig& config, GroupState& state, const std::string& group, const KeyLine& kl,
              const std::string& path) {
  char op = 0;
  std::string key = kl.key;
  if (EndsWith(key, "+") || EndsWith(key, "-")) {
    op = key.back();
    key.pop_back();  // "unmanaged-devices +=" leaves "unmanaged-devices ": unknown to NetworkManager too
  }
  if (IsDeviceSpecKey(group, key)) {
    auto items = SplitDeviceSpecs(kl.value);
    auto it = state.specs.find(key);
    if (op == 0) {
      state.specs[key] = items;
      if (group == "keyfile") config.unmanaged_replaced_by.push_back(path);
    } else if (it != state.specs.end()) {
      MergeSpecs(it->second, items, op);
    } else if (op == '+') {
      state.specs[key] = items;
    }
    if (group == "keyfile" && op == '-') config.unmanaged_removed_by.push_back(path);
    return;
  }
  if (op != 0) {
    config.problems.push_back(path + ": [" + group + "] " + kl.key + "= is not a list key handled here; ignored");
    return;
  }
  state.values[key] = kl.value;
}

// `[.config] enable`: false skips the file; other predicates (nm-version:, env:) are not evaluated.
bool FileEnabled(NmConfig& config, const std::string& path, const std::vector<GroupLines>& groups, bool is_main) {
  for (const auto& g : groups) {
    if (g.name != ".config") continue;
    for (const auto& kl : g.keys) {
      if (kl.key != "enable") continue;
      auto b = ParseBool(kl.value);
      if (b && !*b && !is_main) return false;
      if (!b)
        config.problems.push_back(path + ": [.config] enable=" + kl.value +
                                  " is not evaluated; the file is taken as enabled");
    }
  }
  return true;
}

void MergeParsed(NmConfig& config, MergeState& merge, const std::string& path, const std::vector<GroupLines>& groups,
                 bool is_main) {
  if (!FileEnabled(config, path, groups, is_main)) {
    config.disabled.push_back(path);
    return;
  }
  config.files_read.push_back(path);
  size_t index = ++merge.file_index;
  size_t position = 0;
  for (const auto& g : groups) {
    if (StartsWith(g.name, ".")) continue;
    auto& state = merge.groups[g.name];
    if (state.file_index != index) {
      state.file_index = index;
      state.position = g.name == "device" ? SIZE_MAX : position++;
    }
    state.file = path;
    for (const auto& kl : g.keys) MergeKey(config, state, g.name, kl, path);
  }
}

void Finish(NmConfig& config, const MergeState& merge) {
  auto keyfile = merge.groups.find("keyfile");
  if (keyfile != merge.groups.end()) {
    auto it = keyfile->second.specs.find("unmanaged-devices");
    if (it != keyfile->second.specs.end()) config.unmanaged_devices = it->second;
  }
  std::vector<std::pair<const std::string*, const GroupState*>> devices;
  for (const auto& [name, state] : merge.groups)
    if (IsDeviceGroup(name)) devices.emplace_back(&name, &state);
  // Later files first; within a file, in order of appearance, [device] last.
  std::stable_sort(devices.begin(), devices.end(), [](const auto& a, const auto& b) {
    if (a.second->file_index != b.second->file_index) return a.second->file_index > b.second->file_index;
    return a.second->position < b.second->position;
  });
  for (const auto& [name, state] : devices) {
    NmDeviceSection s;
    s.name = *name;
    s.file = state->file;
    if (auto it = state->specs.find("match-device"); it != state->specs.end()) s.match_device = it->second;
    if (auto it = state->values.find("managed"); it != state->values.end()) {
      s.managed = ParseBool(it->second);
      if (!s.managed) config.problems.push_back(s.file + ": [" + s.name + "] managed=" + it->second + " is not a boolean");
    }
    if (auto it = state->values.find("stop-match"); it != state->values.end()) s.stop_match = ParseBool(it->second).value_or(false);
    config.device_sections.push_back(std::move(s));
  }
}

// NetworkManager refuses to start on a drop-in that is not a regular file
// (a symlink to one is fine): there is no /dev/null masking as in systemd.
std::optional<std::string> NotRegular(const FileSystem& files, const std::string& path) {
  auto l = files.Lstat(path);
  if (!l) return std::nullopt;  // missing: the read reports it
  if (l->type == FileType::kSymlink) {
    auto target = files.ReadLink(path);
    if (target && (*target == "/dev/null"))
      return "a link to /dev/null, not a regular file (NetworkManager does not start with it)";
  }
  auto st = files.Stat(path);
  if (st && st->type != FileType::kRegular) return "not a regular file (NetworkManager does not start with it)";
  return std::nullopt;
}

bool IsMaskLink(const FileSystem& files, const std::string& path) {
  auto l = files.Lstat(path);
  if (!l) return false;
  if (l->type == FileType::kSymlink) {
    auto target = files.ReadLink(path);
    return target && *target == "/dev/null";
  }
  return l->type == FileType::kCharDevice;
}

// The *.conf names of a directory (hidden files skipped), overlay files added.
std::set<std::string> ConfNames(const FileSystem& files, const std::string& dir, const NmOverlay& overlay,
                                NmConfig& config) {
  std::set<std::string> names;
  auto listed = files.ListDir(dir);
  if (!listed) {
    if (listed.error().code() != ErrorCode::kNotFound) config.problems.push_back(dir + ": " + listed.error().message());
  } else {
    for (const auto& name : *listed) {
      if (!EndsWith(name, ".conf")) continue;  // NetworkManager 1.42 reads hidden files and ".conf" too
      if (names.size() >= kMaxNmConfFilesPerDir) {
        config.problems.push_back(dir + ": more than " + std::to_string(kMaxNmConfFilesPerDir) +
                                  " files; the rest were not read");
        break;
      }
      names.insert(name);
    }
  }
  for (const auto& [path, _] : overlay)
    if (DirName(path) == dir) names.insert(BaseName(path));
  return names;
}

void ReadOne(const FileSystem& files, const std::string& path, const NmOverlay& overlay, bool is_main,
             NmConfig& config, MergeState& merge) {
  std::string text;
  if (auto it = overlay.find(path); it != overlay.end()) {
    text = it->second;
  } else if (auto bad = NotRegular(files, path)) {
    config.errors.push_back({path, 0, *bad});
    return;
  } else {
    auto read = files.ReadFile(path);
    if (!read) {
      if (is_main && read.error().code() == ErrorCode::kNotFound) return;
      config.errors.push_back({path, 0, read.error().message()});
      return;
    }
    text = std::move(*read);
  }
  std::vector<GroupLines> groups;
  if (ParseKeyFile(path, text, groups, config.errors)) MergeParsed(config, merge, path, groups, is_main);
}

bool MatchGlob(std::string_view pattern, std::string_view name) {
  size_t p = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p, ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++, mark = n;
    } else if (star != std::string_view::npos) {
      p = star + 1, n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool LooksLikeMac(std::string_view s) {
  if (s.size() < 11) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '-'; }) &&
         (s.find(':') != std::string_view::npos || s.find('-') != std::string_view::npos);
}

// A qualified interface-name spec matches the name (nullopt: not about names).
std::optional<bool> MatchInterfaceName(std::string_view spec, std::string_view ifname) {
  constexpr std::string_view kPrefix = "interface-name:";
  if (!StartsWith(spec, kPrefix)) return std::nullopt;
  std::string_view v = spec.substr(kPrefix.size());
  if (StartsWith(v, "=")) return v.substr(1) == ifname;
  if (StartsWith(v, "~")) v.remove_prefix(1);
  return MatchGlob(v, ifname);
}

std::string JoinSpecs(const std::vector<std::string>& specs) {
  std::string out;
  for (const auto& s : specs) {
    if (!out.empty()) out += ',';
    for (char c : s) {
      if (c == ',' || c == ';' || c == '\\') out += '\\';
      out += c;
    }
  }
  return out;
}

std::string Describe(const std::vector<std::string>& specs) {
  std::string out;
  for (const auto& s : specs) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

std::string NmParseError::Text() const {
  return line == 0 ? path + ": " + message : path + ":" + std::to_string(line) + ": " + message;
}

std::vector<std::string> SplitDeviceSpecs(std::string_view value) {
  std::vector<std::string> out;
  std::string cur;
  bool escaped_tail = false;  // the current item ends in an escaped blank: keep it
  auto flush = [&] {
    std::string_view t = cur;
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    if (!escaped_tail)
      while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (!t.empty()) out.emplace_back(t);
    cur.clear();
    escaped_tail = false;
  };
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\' && i + 1 < value.size()) {
      char n = value[++i];
      cur += n == 's' ? ' ' : n == 't' ? '\t' : n == 'n' ? '\n' : n;
      escaped_tail = n == 's' || n == 't' || n == 'n';
      continue;
    }
    if (c == ',' || c == ';') {
      flush();
      continue;
    }
    cur += c;
    if (c != ' ' && c != '\t') escaped_tail = false;
  }
  flush();
  return out;
}

SpecMatch MatchDeviceSpecs(const std::vector<std::string>& specs, std::string_view ifname) {
  bool has_positive = false, has_except = false, matched = false;
  for (const auto& raw : specs) {
    std::string_view spec = raw;
    if (StartsWith(spec, "except:")) {
      has_except = true;
      if (MatchInterfaceName(spec.substr(7), ifname).value_or(false)) return SpecMatch::kExcluded;
      continue;
    }
    has_positive = true;
    if (spec == "*") {
      matched = true;
    } else if (auto m = MatchInterfaceName(spec, ifname)) {
      matched = matched || *m;
    } else if (StartsWith(spec, "mac:") || StartsWith(spec, "type:") || StartsWith(spec, "driver:") ||
               StartsWith(spec, "s390-subchannels:") || LooksLikeMac(spec)) {
      // not known from a name
    } else {
      matched = matched || spec == ifname;
    }
  }
  if (matched || (has_except && !has_positive)) return SpecMatch::kMatch;
  return SpecMatch::kNoMatch;
}

void MergeNmConfFile(NmConfig& config, const std::string& path, std::string_view text) {
  MergeState merge;
  std::vector<GroupLines> groups;
  if (ParseKeyFile(path, text, groups, config.errors)) MergeParsed(config, merge, path, groups, false);
  Finish(config, merge);
}

NmConfig ReadNmConfig(const FileSystem& files, const NmConfLayout& layout, const NmOverlay& overlay) {
  NmConfig config;
  auto system = ConfNames(files, layout.system_dir, overlay, config);
  auto run = ConfNames(files, layout.run_dir, overlay, config);
  auto etc = ConfNames(files, layout.etc_dir, overlay, config);
  MergeState merge;
  // /usr/lib first, then /run, then the main file, then /etc; a name in /etc
  // hides it in /run and /usr/lib, a name in /run hides it in /usr/lib.
  for (const auto& name : system) {
    if (run.count(name) || etc.count(name)) {
      config.shadowed.push_back(layout.system_dir + "/" + name);
      continue;
    }
    ReadOne(files, layout.system_dir + "/" + name, overlay, false, config, merge);
  }
  for (const auto& name : run) {
    if (etc.count(name)) {
      config.shadowed.push_back(layout.run_dir + "/" + name);
      continue;
    }
    ReadOne(files, layout.run_dir + "/" + name, overlay, false, config, merge);
  }
  ReadOne(files, layout.main_file, overlay, true, config, merge);
  for (const auto& name : etc) ReadOne(files, layout.etc_dir + "/" + name, overlay, false, config, merge);
  Finish(config, merge);
  return config;
}

NmVerdict IsUnmanaged(const NmConfig& config, std::string_view ifname) {
  if (config.unmanaged_devices) {
    const auto& specs = *config.unmanaged_devices;
    if (MatchDeviceSpecs(specs, ifname) == SpecMatch::kMatch)
      return {true, "keyfile.unmanaged-devices=" + Describe(specs)};
  }
  for (const auto& s : config.device_sections) {
    if (!s.match_device.empty() && MatchDeviceSpecs(s.match_device, ifname) != SpecMatch::kMatch) continue;
    if (s.managed)
      return {!*s.managed, "[" + s.name + "] managed=" + (*s.managed ? "true" : "false") + " in " + s.file};
    if (s.stop_match) return {false, "[" + s.name + "] stop-match=true in " + s.file + " without managed"};
  }
  return {false, "no keyfile.unmanaged-devices spec or [device*] managed=false matches"};
}

std::vector<std::string> DefaultCalicoSpecs() {
  return {"interface-name:cali*",          "interface-name:tunl*",         "interface-name:vxlan.calico",
          "interface-name:vxlan-v6.calico", "interface-name:wireguard.cali", "interface-name:wg-v6.cali"};
}

std::string SampleInterfaceName(std::string_view spec) {
  if (StartsWith(spec, "except:") || spec == "*") return {};
  std::string_view v = spec;
  if (StartsWith(v, "interface-name:")) {
    v.remove_prefix(15);
    if (StartsWith(v, "=")) return std::string(v.substr(1));
    if (StartsWith(v, "~")) v.remove_prefix(1);
  } else if (v.find(':') != std::string_view::npos) {
    return {};
  }
  std::string out;
  for (char c : v) out += c == '*' ? std::string("0123abcd") : c == '?' ? std::string("x") : std::string(1, c);
  return out;
}

std::vector<NmCoverage> CheckCoverage(const NmConfig& config, const std::vector<std::string>& specs) {
  std::vector<NmCoverage> out;
  for (const auto& spec : specs) {
    std::string sample = SampleInterfaceName(spec);
    if (sample.empty()) {
      out.push_back({spec, false, "not an interface-name spec; cannot be checked"});
      continue;
    }
    auto v = IsUnmanaged(config, sample);
    out.push_back({spec, v.unmanaged, sample + ": " + v.reason});
  }
  return out;
}

namespace {

bool AllCovered(const std::vector<NmCoverage>& coverage) {
  return std::all_of(coverage.begin(), coverage.end(), [](const NmCoverage& c) { return c.covered; });
}

constexpr std::string_view kDropInMarker = "# Written by nodeagent calico-network";

std::string DropInContent(const std::vector<std::string>& specs) {
  return std::string(kDropInMarker) + ": NetworkManager must leave Calico's\n"
         "# interfaces alone. `+=` keeps the devices other files made unmanaged.\n"
         "[keyfile]\n"
         "unmanaged-devices+=" +
         JoinSpecs(specs) + "\n";
}

// The files in /etc/NetworkManager/conf.d that replace or shrink the list.
std::vector<std::string> ListEditorsIn(const NmConfig& config, const std::string& dir) {
  std::vector<std::string> out;
  for (const auto* list : {&config.unmanaged_replaced_by, &config.unmanaged_removed_by})
    for (const auto& p : *list)
      if (DirName(p) == dir) out.push_back(p);
  return out;
}

// The first setting of an existing drop-in other than [keyfile] unmanaged-devices.
std::optional<std::string> OtherSettings(const std::string& path, std::string_view text) {
  std::vector<GroupLines> groups;
  std::vector<NmParseError> errors;
  if (!ParseKeyFile(path, text, groups, errors)) return "unparseable lines";
  for (const auto& g : groups) {
    for (const auto& kl : g.keys) {
      std::string key(Trim(std::string_view(kl.key).substr(0, kl.key.find_first_of("+-", 17))));
      if (g.name != "keyfile" || key != "unmanaged-devices") return "[" + g.name + "] " + kl.key;
    }
    if (g.keys.empty() && g.name != "keyfile") return "[" + g.name + "]";
  }
  return std::nullopt;
}

}  // namespace

Result<NmFixPlan> PlanNmFix(const FileSystem& files, const NmFixOptions& options) {
  if (options.file_name.empty() || options.file_name.find('/') != std::string::npos ||
      !EndsWith(options.file_name, ".conf") || StartsWith(options.file_name, "."))
    return InvalidArgument("NetworkManager drop-in name \"" + options.file_name +
                           "\" must be a plain, non-hidden name ending in .conf");
  NmConfig current = ReadNmConfig(files, options.layout);
  if (!current.ok()) {
    std::string msg = "NetworkManager configuration has errors; nothing is planned:";
    for (const auto& e : current.errors) msg += "\n  " + e.Text();
    return InvalidArgument(msg);
  }
  NmFixPlan plan;
  std::string name = options.file_name;
  plan.path = options.layout.etc_dir + "/" + name;
  if (AllCovered(CheckCoverage(current, options.specs))) return plan;

  // A later drop-in that sets `unmanaged-devices=` or `-=` would undo ours: sort after it.
  for (const auto& editor : ListEditorsIn(current, options.layout.etc_dir)) {
    if (BaseName(editor) == options.file_name) continue;  // our own file, rewritten below
    for (int i = 0; i < 8 && BaseName(editor) >= name; ++i) name = "zz-" + name;
    if (BaseName(editor) >= name) return InvalidArgument("no drop-in name sorts after " + editor);
  }
  if (name != options.file_name)
    plan.notes.push_back("a later file edits [keyfile] unmanaged-devices (" +
                         Describe(ListEditorsIn(current, options.layout.etc_dir)) + "); using " + name +
                         " so that it is read after it");
  plan.path = options.layout.etc_dir + "/" + name;

  std::string content = DropInContent(options.specs);
  NmConfig simulated = ReadNmConfig(files, options.layout, NmOverlay{{plan.path, content}});
  auto coverage = CheckCoverage(simulated, options.specs);
  if (!simulated.ok() || !AllCovered(coverage)) {
    std::string msg = "a drop-in " + plan.path + " would not keep NetworkManager off every Calico interface:";
    for (const auto& c : coverage)
      if (!c.covered) msg += "\n  " + c.spec + " (" + c.reason + ")";
    return InvalidArgument(msg);
  }
  for (const auto& spec : current.unmanaged_devices.value_or(std::vector<std::string>{})) {
    const auto& after = simulated.unmanaged_devices.value_or(std::vector<std::string>{});
    if (std::find(after.begin(), after.end(), spec) == after.end())
      return InvalidArgument("a drop-in " + plan.path + " would drop \"" + spec + "\" from unmanaged-devices");
  }
  if (IsMaskLink(files, plan.path))
    return InvalidArgument(plan.path + " is a link to /dev/null (masked by the operator); not replaced");
  auto edit = PlanFileEdit(files, plan.path, [&](const std::optional<std::string>& existing) -> Result<std::string> {
    if (existing && !StartsWith(*existing, kDropInMarker)) {
      if (auto other = OtherSettings(plan.path, *existing))
        return InvalidArgument(plan.path + " was not written by nodeagent and also sets " + *other +
                               "; not replaced (choose another drop-in name)");
      plan.notes.push_back(plan.path + " was not written by nodeagent; replaced (the old content is kept as a backup)");
    }
    return content;
  });
  if (!edit) return edit.error();
  if (edit->changes()) plan.edit = std::move(*edit);
  return plan;
}

}  // namespace nodeagent::calico
