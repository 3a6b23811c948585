#include "runtime/cgroup_driver.h"

#include <toml++/toml.h>

#include <vector>

#include "kernel/conf_dirs.h"

namespace nodeagent::join_prep {
namespace {

constexpr std::string_view kV2Plugin = "io.containerd.grpc.v1.cri";
constexpr std::string_view kV3Plugin = "io.containerd.cri.v1.runtime";

struct Parsed {
  std::optional<toml::table> table;
  std::string error;  ///< "file:line:col: what"
};

Parsed Parse(std::string_view text, std::string_view name) {
  Parsed p;
  try {
    p.table = toml::parse(text, std::string_view{name});
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    p.error = std::string(name) + ":" + std::to_string(b.line) + ":" + std::to_string(b.column) + ": " +
              std::string(e.description());
  }
  return p;
}

int ConfigVersion(const toml::table& t) {
  if (auto v = t["version"].value<int64_t>()) return static_cast<int>(*v);
  return 1;
}

std::string_view PluginOf(int version) { return version >= 3 ? kV3Plugin : kV2Plugin; }

// The key path of the default runtime's options table.
std::vector<std::string> OptionsPath(const toml::table& t, int version) {
  std::string plugin(PluginOf(version));
  std::string runtime = "runc";
  if (auto name = t["plugins"][plugin]["containerd"]["default_runtime_name"].value<std::string>())
    if (!name->empty()) runtime = *name;
  return {"plugins", plugin, "containerd", "runtimes", runtime, "options"};
}

const toml::node* At(const toml::table& t, const std::vector<std::string>& path) {
  const toml::node* n = &t;
  for (const auto& k : path) {
    const toml::table* tt = n->as_table();
    if (!tt) return nullptr;
    n = tt->get(k);
    if (!n) return nullptr;
  }
  return n;
}

// TOML key syntax as used in table headers: bare, "basic", 'literal'.
std::optional<std::vector<std::string>> HeaderKeys(std::string_view line) {
  std::string_view s = Trim(line);
  if (s.size() < 2 || s[0] != '[' || s[1] == '[') return std::nullopt;
  size_t i = 1;
  std::vector<std::string> keys;
  auto skip_ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  while (true) {
    skip_ws();
    if (i >= s.size()) return std::nullopt;
    std::string key;
    if (s[i] == '"' || s[i] == '\'') {
      char q = s[i++];
      while (i < s.size() && s[i] != q) {
        if (q == '"' && s[i] == '\\' && i + 1 < s.size()) ++i;  // \" and \\ are enough for table names
        key += s[i++];
      }
      if (i >= s.size()) return std::nullopt;
      ++i;
    } else {
      while (i < s.size() && (isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '-')) key += s[i++];
      if (key.empty()) return std::nullopt;
    }
    keys.push_back(key);
    skip_ws();
    if (i < s.size() && s[i] == '.') {
      ++i;
      continue;
    }
    if (i < s.size() && s[i] == ']') {
      ++i;
      skip_ws();
      if (i < s.size() && s[i] != '#') return std::nullopt;
      return keys;
    }
    return std::nullopt;
  }
}

std::string HeaderText(const std::vector<std::string>& path, int version) {
  // As containerd's docs write them: "double" quotes in v2, 'single' in v3.
  char q = version >= 3 ? '\'' : '"';
  std::string out = "[";
  for (size_t i = 0; i < path.size(); ++i) {
    if (i) out += '.';
    bool bare = path[i].find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
                std::string::npos;
    out += bare ? path[i] : q + path[i] + q;
  }
  return out + "]";
}

// A runtime table of our own needs its type: containerd 1.6 replaces its
// default runc entry with the one the config defines, and an options table
// alone leaves runtime_type empty (seen with `containerd config dump`).
std::string RuncTableText(const std::vector<std::string>& options_path, int version) {
  if (options_path.size() < 2 || options_path[options_path.size() - 2] != "runc") return "";
  std::vector<std::string> runtime_path(options_path.begin(), options_path.end() - 1);
  char q = version >= 3 ? '\'' : '"';
  return HeaderText(runtime_path, version) + "\n  runtime_type = " + q + "io.containerd.runc.v2" + q + "\n";
}

std::string JoinLines(const std::vector<std::string>& lines, bool final_newline) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    out += lines[i];
    if (i + 1 < lines.size() || final_newline) out += '\n';
  }
  return out;
}

}  // namespace

RuntimeCgroup ContainerdCgroup(const std::optional<std::string>& text) {
  RuntimeCgroup r;
  std::string name(kContainerdConfig);
  if (!text) {
    r.driver = "cgroupfs";
    r.source = "containerd's default (no " + name + ")";
    return r;
  }
  Parsed p = Parse(*text, name);
  if (!p.table) {
    r.problem = p.error;
    return r;
  }
  const toml::table& t = *p.table;
  r.config_version = ConfigVersion(t);
  if (t.contains("imports")) r.note = name + " imports other files; they were not read";
  if (const toml::array* disabled = t["disabled_plugins"].as_array()) {
    for (const auto& d : *disabled) {
      auto s = d.value<std::string>();
      if (s && (*s == "cri" || *s == kV2Plugin || *s == kV3Plugin)) {
        r.cri_disabled = name + ":" + std::to_string(d.source().begin.line) + ": disabled_plugins lists \"" + *s +
                         "\": containerd serves no CRI, the kubelet cannot use it";
      }
    }
  }
  if (r.config_version < 2) {
    r.problem = name + ": config version 1 (no `version = 2` or `3`): not read; convert it with "
                       "`containerd config migrate`";
    return r;
  }
  auto path = OptionsPath(t, r.config_version);
  const toml::node* options = At(t, path);
  const toml::node* key = options && options->is_table() ? options->as_table()->get("SystemdCgroup") : nullptr;
  if (!key) {
    r.driver = "cgroupfs";
    r.source = "containerd's default (no SystemdCgroup in " + HeaderText(path, r.config_version) + " of " + name + ")";
    return r;
  }
  auto b = key->value<bool>();
  std::string where = name + ":" + std::to_string(key->source().begin.line);
  if (!b) {
    r.problem = where + ": SystemdCgroup is not a boolean";
    return r;
  }
  r.driver = *b ? "systemd" : "cgroupfs";
  r.source = where;
  std::vector<std::string> runtime_type_path(path.begin(), path.end() - 1);
  runtime_type_path.push_back("runtime_type");
  if (r.config_version == 2 && path[4] == "runc" && !At(t, runtime_type_path)) {
    std::string more = name + " sets no runtime_type for runc: containerd 1.6 then runs it with an empty type "
                              "(see `containerd config dump`); add runtime_type = \"io.containerd.runc.v2\"";
    r.note = r.note.empty() ? more : r.note + "; " + more;
  }
  return r;
}

std::optional<std::string> EditContainerdCgroup(const std::optional<std::string>& text, bool systemd,
                                                int new_file_version, std::string* why) {
  std::string value = systemd ? "true" : "false";
  std::string name(kContainerdConfig);
  if (!text) {
    int v = new_file_version >= 3 ? 3 : 2;
    std::vector<std::string> path = {"plugins", std::string(PluginOf(v)), "containerd", "runtimes", "runc", "options"};
    return "version = " + std::to_string(v) + "\n\n" + RuncTableText(path, v) + HeaderText(path, v) +
           "\n  SystemdCgroup = " + value + "\n";
  }
  Parsed p = Parse(*text, name);
  if (!p.table) {
    *why = p.error + " (not edited)";
    return std::nullopt;
  }
  int version = ConfigVersion(*p.table);
  if (version < 2) {
    *why = name + ": config version 1 is not edited; convert it with `containerd config migrate`";
    return std::nullopt;
  }
  auto path = OptionsPath(*p.table, version);
  bool final_newline = !text->empty() && text->back() == '\n';
  bool truncated = false;
  std::vector<std::string> lines = SplitLines(*text, 1'000'000, &truncated);
  if (truncated) {
    *why = name + ": over 1,000,000 lines; not edited";
    return std::nullopt;
  }
  if (final_newline && !lines.empty() && lines.back().empty()) lines.pop_back();
  const toml::node* options = At(*p.table, path);
  const toml::node* key = options && options->is_table() ? options->as_table()->get("SystemdCgroup") : nullptr;

  std::string edited;
  if (key) {
    // Change the value where it stands: line and column from toml++.
    const auto& b = key->source().begin;
    std::string old = key->value<bool>() ? (*key->value<bool>() ? "true" : "false") : "";
    size_t li = b.line - 1, col = b.column - 1;
    if (old.empty() || li >= lines.size() || lines[li].compare(col, old.size(), old) != 0) {
      *why = name + ":" + std::to_string(b.line) + ": SystemdCgroup is not a plain boolean there; edit it by hand";
      return std::nullopt;
    }
    lines[li].replace(col, old.size(), value);
    edited = JoinLines(lines, final_newline);
  } else {
    // Under the table's own header when it has one, else a new table at the end.
    std::optional<size_t> header;
    for (size_t i = 0; i < lines.size(); ++i) {
      auto keys = HeaderKeys(lines[i]);
      if (keys && *keys == path) header = i;
    }
    if (header) {
      std::string indent = "  ";
      for (size_t i = *header + 1; i < lines.size(); ++i) {
        std::string_view t = Trim(lines[i]);
        if (t.empty() || t[0] == '#') continue;
        if (t[0] != '[') indent = lines[i].substr(0, lines[i].find_first_not_of(" \t"));
        break;
      }
      lines.insert(lines.begin() + static_cast<long>(*header) + 1, indent + "SystemdCgroup = " + value);
      edited = JoinLines(lines, final_newline);
    } else {
      edited = *text;
      if (!edited.empty() && edited.back() != '\n') edited += '\n';
      std::vector<std::string> runtime_path(path.begin(), path.end() - 1);
      if (!At(*p.table, runtime_path)) edited += RuncTableText(path, version);
      edited += HeaderText(path, version) + "\n  SystemdCgroup = " + value + "\n";
    }
  }
  // Prove the edit says what we meant and nothing broke.
  Parsed check = Parse(edited, name);
  const toml::node* now = check.table ? At(*check.table, path) : nullptr;
  const toml::node* k = now && now->is_table() ? now->as_table()->get("SystemdCgroup") : nullptr;
  if (!k || k->value<bool>() != systemd) {
    *why = name + ": the table " + HeaderText(path, version) +
           " is defined in a way a one-line edit cannot extend (inline or dotted keys); set SystemdCgroup = " + value +
           " there by hand" + (check.error.empty() ? "" : " (" + check.error + ")");
    return std::nullopt;
  }
  return edited;
}

RuntimeCgroup CrioCgroup(const FileSystem& files) {
  RuntimeCgroup r;
  r.driver = "systemd";
  r.source = "CRI-O's default";
  std::vector<std::string> paths = {std::string(kCrioConfig)};
  auto names = files.ListDir(kCrioConfigDir);
  if (names) {
    size_t n = 0;
    for (const auto& f : *names)
      if (f.size() > 5 && f.compare(f.size() - 5, 5, ".conf") == 0 && ++n <= 1000)
        paths.push_back(std::string(kCrioConfigDir) + "/" + f);
  }
  for (const auto& path : paths) {
    auto text = files.ReadFile(path);
    if (!text) {
      if (text.error().code() != ErrorCode::kNotFound) {
        r.problem = path + ": " + text.error().message();
        r.driver.clear();
        return r;
      }
      continue;
    }
    Parsed p = Parse(*text, path);
    if (!p.table) {
      r.problem = p.error;
      r.driver.clear();
      return r;
    }
    const toml::node* n = At(*p.table, {"crio", "runtime", "cgroup_manager"});
    if (!n) continue;
    auto v = n->value<std::string>();
    std::string where = path + ":" + std::to_string(n->source().begin.line);
    if (!v || (*v != "systemd" && *v != "cgroupfs")) {
      r.problem = where + ": cgroup_manager is neither \"systemd\" nor \"cgroupfs\"";
      r.driver.clear();
      return r;
    }
    r.driver = *v;
    r.source = where;
  }
  return r;
}

}  // namespace nodeagent::join_prep
