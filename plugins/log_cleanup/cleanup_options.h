// The parameters of the log-cleanup action: the ParamSpec table (the one source
// for config validation, `agentctl describe log-cleanup` and the docs), bound
// to the typed options the walker runs with, and the checks that refuse dangerous
// roots such as "/" or "/etc" before anything is walked.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/params.h"
#include "nodeagent/result.h"

namespace nodeagent::logc {

/// The parameter table of the "log-cleanup" action.
std::span<const ParamSpec> LogCleanupParams();

/// Validated, typed options of one run.
struct CleanupOptions {
  std::vector<std::string> paths;  // absolute host paths; a glob only in the last component
  std::vector<std::string> patterns{"*.log"};
  std::vector<std::string> exclude;
  std::chrono::nanoseconds max_age = std::chrono::hours(24 * 10);
  std::optional<std::chrono::nanoseconds> compress_after;
  bool recursive = true;
  int max_depth = -1;  // -1: unlimited; 0: only the files directly in each path
  bool one_file_system = true;
  bool skip_open_files = true;
  int keep_newest = 0;
  bool remove_empty_dirs = false;
};

/// Fills CleanupOptions from `params` through the bound table (each value
/// checked against its row; unset ones keep the member initialisers above,
/// which equal the table's defaults), then checks across parameters,
/// including CheckRoot() on every path. The error message names the parameter.
Result<CleanupOptions> OptionsFromParams(const Params& params);

/// ActionSpec::validate of log-cleanup: OptionsFromParams without the result.
Status ValidateParams(const Params& params);

/// Refuses a cleanup root that is relative, holds "." or ".." components, has a
/// glob before its last component, is a glob directly under "/", or is (or is
/// under) a system directory ("/", "/etc", "/usr", "/var", "/lib*", "/proc"...).
/// Also used at run time on every path a glob expands to.
Status CheckRoot(std::string_view path);

/// True when `s` holds a glob metacharacter (* ? [).
bool HasGlob(std::string_view s);

}  // namespace nodeagent::logc
