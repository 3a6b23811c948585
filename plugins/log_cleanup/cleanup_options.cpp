#include "cleanup_options.h"

#include "nodeagent/param_binding.h"

#include <fnmatch.h>

#include <algorithm>
#include <array>

namespace nodeagent::logc {

namespace {

using namespace std::chrono_literals;
constexpr Duration kDays = std::chrono::hours(24);

using O = CleanupOptions;

// The table: each row names the member it fills (nodeagent/param_binding.h).
constexpr ParamField<CleanupOptions> kFields[] = {
    Bind<&O::paths>({"paths", ParamType::kStringList, "",
                     "Directories to clean: absolute host paths, resolved under the agent root. The last component "
                     "may be a glob (\"/var/log/app-*\"). System directories (/, /etc, /usr, /var, /lib*, /proc, ...) "
                     "are refused.",
                     {}, true}),
    Bind<&O::patterns>({"patterns", ParamType::kStringList, "[\"*.log\"]",
                        "File name globs (fnmatch, matched against the base name; a leading dot is matched by *) of "
                        "the files to delete or compress."}),
    Bind<&O::exclude>({"exclude", ParamType::kStringList, "[]",
                       "File name globs that are never touched, even when they match patterns."}),
    Bind<&O::max_age>({.name = "max_age", .type = ParamType::kDuration, .default_value = "\"10d\"",
                       .doc = "A file is deleted when its mtime is more than max_age before the start of the run "
                              "(units s, m, h, d, w). `find -mtime +10` equals max_age=11d, see the README.",
                       .range = DurationRange(1min, kDays * 3650)}),
    Bind<&O::compress_after>(
        {.name = "compress_after", .type = ParamType::kDuration, .default_value = "",
         .doc = "When set: gzip matching files older than this but not older than max_age into NAME.gz (mtime, "
                "mode and owner kept; written atomically; the original is removed after the .gz is durable).",
         .range = DurationRange(1min, kDays * 3650)}),
    Bind<&O::recursive>({"recursive", ParamType::kBool, "true", "Descend into subdirectories."}),
    Bind<&O::max_depth>(
        {.name = "max_depth", .type = ParamType::kInt, .default_value = "",
         .doc = "How many directory levels below each path to descend (0: only the path itself). Unset: no limit.",
         .range = IntRange(0, 4096)}),
    Bind<&O::one_file_system>({"one_file_system", ParamType::kBool, "true",
                               "Do not descend into directories on another filesystem (mount points)."}),
    Bind<&O::skip_open_files>(
        {"skip_open_files", ParamType::kBool, "true",
         "Leave files that any process holds open (found through /proc/*/fd under the agent root)."}),
    Bind<&O::keep_newest>(
        {.name = "keep_newest", .type = ParamType::kInt, .default_value = "0",
         .doc = "Keep at least this many of the newest matching files in each directory, even when they are old.",
         .range = IntRange(0, 1'000'000)}),
    Bind<&O::remove_empty_dirs>({"remove_empty_dirs", ParamType::kBool, "false",
                                 "Remove subdirectories (never a configured path itself) that this run has emptied."}),
};

constexpr auto kParams = SpecsOf(kFields);
static_assert(HasValidRanges(kParams), "every number in the table needs a range");

// Exact paths refused as cleanup roots.
constexpr std::array<std::string_view, 27> kRefused = {
    "/",          "/bin",      "/boot",     "/dev",      "/etc",     "/home",     "/lib",
    "/media",     "/mnt",      "/opt",      "/proc",     "/root",    "/run",      "/sbin",
    "/srv",       "/sys",      "/usr",      "/var",      "/snap",    "/usr/bin",  "/usr/sbin",
    "/usr/lib",   "/usr/local", "/usr/share", "/var/lib", "/var/cache", "/var/spool",
};
// Trees under which nothing may be cleaned.
constexpr std::array<std::string_view, 5> kRefusedTrees = {"/proc", "/sys", "/dev", "/boot", "/etc"};

std::vector<std::string_view> Components(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t start = i;
    while (i < path.size() && path[i] != '/') ++i;
    if (i > start) out.push_back(path.substr(start, i - start));
  }
  return out;
}

Error ParamError(std::string_view name, const std::string& message) {
  return InvalidArgument("log-cleanup: parameter '" + std::string(name) + "': " + message);
}

}  // namespace

std::span<const ParamSpec> LogCleanupParams() { return kParams; }

bool HasGlob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

Status CheckRoot(std::string_view path) {
  auto refuse = [&](const std::string& why) {
    return InvalidArgument("refusing cleanup root \"" + std::string(path) + "\": " + why);
  };
  if (path.empty() || path[0] != '/') return refuse("not an absolute path; give a full host path like /var/log/app");
  std::vector<std::string_view> parts = Components(path);
  std::string normal;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "." || parts[i] == "..") return refuse("\".\" and \"..\" components are not allowed");
    if (i + 1 < parts.size() && HasGlob(parts[i])) return refuse("a glob is allowed only in the last component");
    normal += "/";
    normal += parts[i];
  }
  if (normal.empty()) normal = "/";
  if (parts.size() == 1 && HasGlob(parts[0])) return refuse("a glob directly under / could match system directories");
  if (!parts.empty() && parts.size() == 1 && parts[0].substr(0, 3) == "lib") return refuse("a system directory");
  for (std::string_view r : kRefused) {
    if (normal == r) return refuse("a system directory; name the application's own log directory instead");
    // A glob in the last component that could match a refused path ("/usr/l*").
    if (HasGlob(path) && parts.size() == Components(r).size()) {
      std::string pattern(normal);
      if (::fnmatch(pattern.c_str(), std::string(r).c_str(), FNM_PATHNAME) == 0)
        return refuse("the glob matches the system directory " + std::string(r));
    }
  }
  for (std::string_view t : kRefusedTrees) {
    if (normal.size() > t.size() && normal.compare(0, t.size(), t) == 0 && normal[t.size()] == '/')
      return refuse("inside " + std::string(t) + ", which holds no logs to clean");
  }
  return Status::Ok();
}

Result<CleanupOptions> OptionsFromParams(const Params& params) {
  Result<CleanupOptions> bound = BindOptions<CleanupOptions>(kFields, params);  // types and ranges
  if (!bound) return bound.error().Wrap("log-cleanup");
  CleanupOptions o = std::move(*bound);
  if (o.paths.empty()) return ParamError("paths", "required: at least one directory to clean");
  for (const std::string& p : o.paths) {
    Status st = CheckRoot(p);
    if (!st.ok()) return ParamError("paths", st.error().message());
  }
  if (o.patterns.empty()) return ParamError("patterns", "needs at least one file name glob");
  for (const auto* list : {&o.patterns, &o.exclude}) {
    for (const std::string& g : *list) {
      if (g.empty() || g.find('/') != std::string::npos)
        return ParamError(list == &o.patterns ? "patterns" : "exclude",
                          "\"" + g + "\" is not a file name glob (must be non-empty, without '/')");
    }
  }
  if (o.compress_after && *o.compress_after >= o.max_age)
    return ParamError("compress_after", "must be shorter than max_age, or files are deleted before they are compressed");
  if (!o.recursive) o.max_depth = 0;
  return o;
}

Status ValidateParams(const Params& params) {
  Result<CleanupOptions> o = OptionsFromParams(params);
  if (!o.ok()) return o.error();
  return Status::Ok();
}

}  // namespace nodeagent::logc
