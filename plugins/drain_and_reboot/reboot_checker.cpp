#include "reboot_checker.h"

#include <algorithm>

namespace nodeagent::drain {

RebootChecker::RebootChecker(Host& host, RebootCheckerOptions options) : host_(host), o_(std::move(options)) {}

Result<RebootNeed> RebootChecker::Check() {
  if (o_.sentinel_command.empty()) {
    if (host_.files().Exists(o_.sentinel_file)) return RebootNeed{true, "sentinel " + o_.sentinel_file + " exists"};
    return RebootNeed{false, "sentinel " + o_.sentinel_file + " does not exist"};
  }
  std::string line;
  for (const auto& a : o_.sentinel_command) line += (line.empty() ? "" : " ") + a;
  CommandSpec spec;
  spec.argv = o_.sentinel_command;
  spec.timeout = std::chrono::seconds(60);
  spec.read_only = true;  // a check the operator configured; it runs while planning
  auto r = host_.commands().Run(spec);
  if (!r) return r.error().Wrap("sentinel_command `" + line + "`");
  if (r->timed_out) return Error(ErrorCode::kTimeout, "sentinel_command `" + line + "` timed out");
  auto has = [](const std::vector<int>& v, int c) { return std::find(v.begin(), v.end(), c) != v.end(); };
  std::string said = "`" + line + "` exited " + std::to_string(r->exit_code);
  if (has(o_.reboot_exit_codes, r->exit_code)) return RebootNeed{true, said};
  if (has(o_.no_reboot_exit_codes, r->exit_code)) return RebootNeed{false, said};
  return Error(ErrorCode::kInvalidArgument, "sentinel_command " + said +
                                                ", which is neither a reboot_exit_code nor a no_reboot_exit_code" +
                                                (r->stderr_data.empty() ? "" : ": " + r->stderr_data.substr(0, 300)));
}

}  // namespace nodeagent::drain
