// The parameters of the five actions (cordon, uncordon, drain,
// drain-and-reboot, reboot-if-required) as ParamSpec tables, and the typed
// RunOptions the coordinator works from. Each row of the tables names the
// RunOptions member it fills (nodeagent/param_binding.h), so a parameter's
// name, type, default, range and member are written once.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <vector>

#include "drainer.h"
#include "lease_lock.h"
#include "nodeagent/params.h"
#include "pod_filter.h"
#include "reboot_checker.h"

namespace nodeagent::drain {

std::span<const ParamSpec> NodeOnlyParams();       // cordon
std::span<const ParamSpec> UncordonParams();       // uncordon: node, and the reboot lock to give back
std::span<const ParamSpec> DrainParams();          // drain
std::span<const ParamSpec> DrainRebootParams();    // drain-and-reboot
std::span<const ParamSpec> RebootIfRequiredParams();

struct RunOptions {
  std::string node;
  bool reboot = false;  // drain-and-reboot / reboot-if-required
  PodFilterOptions filter;
  std::string pod_selector;
  DrainerOptions drainer;
  bool use_lock = false;  // cordon .. uncordon under the reboot lock, or give it back (uncordon)
  bool release_lock = true;  // uncordon: also give back the node's lock slot
  LeaseLockOptions lock;
  std::chrono::milliseconds lock_wait{std::chrono::hours(1)};
  bool prefer_no_schedule_taint = false;
  std::vector<std::string> reboot_command{"systemctl", "reboot"};
  std::chrono::milliseconds reboot_delay{0};
  std::chrono::milliseconds reboot_timeout{std::chrono::minutes(10)};
  std::chrono::milliseconds ready_timeout{std::chrono::minutes(15)};
  // Removed: the core's [[notify]] targets replace them; ValidateParams
  // refuses a config that still sets either.
  std::string notify_url;
  std::string notify_format;
  // reboot-if-required
  RebootCheckerOptions checker;
  std::string blocking_pod_selector;
  std::string prometheus_url;
  std::string alert_filter_regex;
};

/// Fills RunOptions from whatever rows of the tables above `params` carries,
/// each checked against its row (range, allowed values); `default_node` when
/// `node` is empty. The error names the parameter.
Result<RunOptions> OptionsFromParams(const Params& params, const std::string& default_node);

/// Cross-parameter checks (validate hook of the ActionSpecs).
Status ValidateParams(const Params& params);

}  // namespace nodeagent::drain
