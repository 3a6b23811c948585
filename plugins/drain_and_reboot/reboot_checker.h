// Does this node need a reboot? The trigger of reboot-if-required, like
// kured's Checker: a sentinel file (Debian's /var/run/reboot-required, read
// under the host root) or a command whose exit code says so (RHEL's
// `needs-restarting -r` exits 1 when a reboot is needed).
#pragma once

#include <string>
#include <vector>

#include "nodeagent/host.h"

namespace nodeagent::drain {

struct RebootNeed {
  bool required = false;
  std::string why;  // "sentinel /var/run/reboot-required exists", "needs-restarting -r exited 1"
};

struct RebootCheckerOptions {
  std::string sentinel_file = "/var/run/reboot-required";
  /// When non-empty, used instead of the sentinel file.
  std::vector<std::string> sentinel_command;
  /// Exit codes of sentinel_command that mean "reboot required". Any other
  /// code (except those in `no_reboot_exit_codes`) is an error.
  std::vector<int> reboot_exit_codes{1};
  std::vector<int> no_reboot_exit_codes{0};
};

class RebootChecker {
 public:
  /// `host` must outlive the checker.
  RebootChecker(Host& host, RebootCheckerOptions options);
  /// Error when the command cannot run or exits with an unexpected code.
  Result<RebootNeed> Check();

 private:
  Host& host_;
  RebootCheckerOptions o_;
};

}  // namespace nodeagent::drain
