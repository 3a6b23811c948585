#include "swap/swap_units.h"

#include <algorithm>
#include <map>

#include "check.h"
#include "text.h"

namespace nodeagent::join_prep {

const std::vector<std::string_view> kUnitDirs = {
    "/etc/systemd/system.control",   "/run/systemd/system.control",  "/run/systemd/transient",
    "/run/systemd/generator.early",  "/etc/systemd/system",          "/etc/systemd/system.attached",
    "/run/systemd/system",           "/run/systemd/system.attached", "/run/systemd/generator",
    "/usr/local/lib/systemd/system", "/usr/lib/systemd/system",      "/lib/systemd/system",
    "/run/systemd/generator.late",
};

namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

template <typename F>
void ForEachLine(std::string_view text, F f) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    f(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
  }
}

/// /lib/systemd/system is the same directory as /usr/lib/systemd/system on
/// merged-/usr systems; reading it twice would list every link twice.
bool LibIsUsrLib(const FileSystem& files) {
  auto info = files.Lstat("/lib");
  return info && info->type == FileType::kSymlink;
}

/// Whether the file that wins for a unit masks it: a link to /dev/null, or
/// an empty file (systemd.unit(5)).
bool IsMaskFile(const FileSystem& files, const std::string& path) {
  auto l = files.Lstat(path);
  if (!l) return false;
  if (l->type == FileType::kSymlink) {
    auto target = files.ReadLink(path);
    if (target && *target == "/dev/null") return true;
  }
  auto s = files.Stat(path);
  return s && s->type == FileType::kRegular && s->size == 0;
}

Result<std::vector<std::string>> ListBounded(const FileSystem& files, const std::string& dir) {
  auto names = files.ListDir(dir);
  if (!names) return names.error();
  if (names->size() > kMaxUnitDirEntries)
    return InvalidArgument(dir + ": more than " + std::to_string(kMaxUnitDirEntries) + " entries");
  return names;
}

}  // namespace

bool UnitFileState::IsMasked() const {
  return masked || StartsWith(unit_file_state, "masked") || load_state == "masked";
}

bool UnitFileState::StartsAtBoot() const {
  if (IsMasked()) return false;
  return !wanted_by.empty() || unit_file_state == "enabled" || unit_file_state == "enabled-runtime";
}

bool UnitFileState::DefinedInEtc() const { return StartsWith(fragment, "/etc/systemd/system/") && !masked; }

UnitScan ScanUnitFiles(const FileSystem& files, const std::function<bool(std::string_view)>& matches) {
  UnitScan scan;
  std::map<std::string, UnitFileState> units;
  bool skip_lib = LibIsUsrLib(files);
  for (auto dir_view : kUnitDirs) {
    std::string dir(dir_view);
    if (skip_lib && dir == "/lib/systemd/system") continue;
    auto names = ListBounded(files, dir);
    if (!names) {
      if (names.error().code() != ErrorCode::kNotFound && names.error().code() != ErrorCode::kInvalidArgument)
        scan.problems.push_back("cannot list " + dir + ": " + names.error().message());
      else if (names.error().code() == ErrorCode::kInvalidArgument)
        scan.problems.push_back(names.error().message());
      continue;
    }
    for (const auto& name : *names) {
      std::string path = dir + "/" + name;
      if (matches(name)) {
        auto& u = units[name];
        if (u.name.empty()) u.name = name;
        if (u.fragment.empty()) {  // the first directory that has it wins
          u.fragment = path;
          u.masked = IsMaskFile(files, path);
        }
        continue;
      }
      if (!EndsWith(name, ".wants") && !EndsWith(name, ".requires")) continue;
      auto links = ListBounded(files, path);
      if (!links) {
        if (links.error().code() != ErrorCode::kNotFound)
          scan.problems.push_back("cannot list " + path + ": " + links.error().message());
        continue;
      }
      for (const auto& link : *links) {
        if (!matches(link)) continue;
        auto& u = units[link];
        if (u.name.empty()) u.name = link;
        u.wanted_by.push_back(path + "/" + link);
      }
    }
  }
  for (auto& [_, u] : units) scan.units.push_back(std::move(u));
  return scan;
}

Result<std::string> RunReadOnly(Host& host, std::vector<std::string> argv, bool quiet_exit1_is_empty) {
  CommandSpec spec;
  spec.argv = argv;
  spec.read_only = true;
  spec.timeout = std::chrono::seconds(30);
  auto r = host.commands().Run(spec);
  if (!r) return Error(r.error().code(), CommandLine(argv) + ": " + r.error().message());
  if (quiet_exit1_is_empty && r->exit_code == 1 && !r->timed_out && !r->cancelled &&
      r->stdout_data.find_first_not_of(" \t\r\n") == std::string::npos &&
      r->stderr_data.find_first_not_of(" \t\r\n") == std::string::npos)
    return std::string();
  if (!r->succeeded()) {
    std::string how = r->timed_out ? "timed out" : "exited " + std::to_string(r->exit_code);
    std::string err = LastLine(r->stderr_data);
    return IoError(CommandLine(argv) + " " + how + (err.empty() ? "" : ": " + err));
  }
  return r->stdout_data;
}

std::vector<std::pair<std::string, std::string>> ParseListUnitFiles(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  ForEachLine(text, [&](std::string_view line) {
    auto w = Words(line);
    if (w.size() >= 2 && out.size() < kMaxUnitDirEntries) out.emplace_back(std::string(w[0]), std::string(w[1]));
  });
  return out;
}

std::vector<ListedUnit> ParseListUnits(std::string_view text) {
  std::vector<ListedUnit> out;
  ForEachLine(text, [&](std::string_view line) {
    auto w = Words(line);
    if (!w.empty() && (w[0] == "\xe2\x97\x8f" || w[0] == "*")) w.erase(w.begin());  // "●"
    if (w.size() >= 4 && out.size() < kMaxUnitDirEntries)
      out.push_back({std::string(w[0]), std::string(w[1]), std::string(w[2]), std::string(w[3])});
  });
  return out;
}

UnitScan ScanSwapUnits(Host& host) {
  auto is_swap = [](std::string_view n) { return EndsWith(n, ".swap"); };
  UnitScan scan = ScanUnitFiles(host.files(), is_swap);
  std::map<std::string, UnitFileState> by_name;
  for (auto& u : scan.units) by_name[u.name] = std::move(u);

  // systemctl 252 exits 1, saying nothing with --no-legend, when no unit file matches.
  auto files_out =
      RunReadOnly(host, {"systemctl", "list-unit-files", "--type", "swap", "--no-legend", "--no-pager"}, true);
  if (!files_out) {
    scan.problems.push_back(files_out.error().message());
  } else {
    for (auto& [name, state] : ParseListUnitFiles(*files_out)) {
      if (!is_swap(name)) continue;
      auto& u = by_name[name];
      u.name = name;
      u.unit_file_state = state;
    }
  }
  auto units_out = RunReadOnly(
      host, {"systemctl", "list-units", "--type", "swap", "--all", "--no-legend", "--no-pager", "--plain"}, true);
  if (!units_out) {
    scan.problems.push_back(units_out.error().message());
  } else {
    for (auto& l : ParseListUnits(*units_out)) {
      if (!is_swap(l.name)) continue;
      auto& u = by_name[l.name];
      u.name = l.name;
      u.load_state = l.load;
      u.active_state = l.active;
    }
  }
  scan.units.clear();
  for (auto& [_, u] : by_name) scan.units.push_back(std::move(u));
  return scan;
}

}  // namespace nodeagent::join_prep
