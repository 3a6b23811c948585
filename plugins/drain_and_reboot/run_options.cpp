#include "run_options.h"

#include <regex>

#include "nodeagent/param_binding.h"

namespace nodeagent::drain {

namespace {

using namespace std::chrono_literals;
constexpr Duration kDays = std::chrono::hours(24);

constexpr std::string_view kTimeoutPolicies[] = {"abort", "delete"};

constexpr EnumChoice<OnDrainTimeout> kTimeoutPolicyValues[] = {{"abort", OnDrainTimeout::kAbort},
                                                                {"delete", OnDrainTimeout::kDelete}};

/// sentinel_*_exit_codes are lists of strings (["1"]) in configs, kept so.
Result<std::vector<int>> ExitCodes(const std::vector<std::string>& texts) {
  std::vector<int> out;
  for (const auto& s : texts) {
    try {
      size_t used = 0;
      int v = std::stoi(s, &used);
      if (used != s.size()) throw std::invalid_argument(s);
      out.push_back(v);
    } catch (const std::exception&) {
      return InvalidArgument("\"" + s + "\" is not an exit code");
    }
  }
  return out;
}

using O = RunOptions;

// Each row names the RunOptions member it fills (nodeagent/param_binding.h);
// an action's table is the rows it takes.
#define NODE_ROW Bind<&O::node>({"node", ParamType::kString, "\"\"", "Node to act on. Default: agent.node_name."})
#define DRAIN_ROWS                                                                                               \
  Bind<&O::filter, &PodFilterOptions::ignore_daemonsets>(                                                        \
      {"ignore_daemonsets", ParamType::kBool, "true", "Skip DaemonSet-managed pods (kubectl --ignore-daemonsets)."}), \
      Bind<&O::filter, &PodFilterOptions::delete_emptydir_data>(                                                 \
          {"delete_emptydir_data", ParamType::kBool, "true",                                                     \
           "Evict pods with emptyDir volumes; their data is lost (kubectl --delete-emptydir-data)."}),          \
      Bind<&O::filter, &PodFilterOptions::force>(                                                                \
          {"force", ParamType::kBool, "false",                                                                   \
           "Also delete pods without a controller; they are lost (kubectl --force)."}),                        \
      Bind<&O::pod_selector>(                                                                                    \
          {"pod_selector", ParamType::kString, "\"\"", "Only evict pods matching this label selector."}),        \
      Bind<&O::drainer, &DrainerOptions::grace_period_seconds>(                                                  \
          {.name = "grace_period", .type = ParamType::kInt, .default_value = "-1",                               \
           .doc = "Seconds each pod gets to terminate; -1: the pod's own.", .range = IntRange(-1, 86'400)}),    \
      Bind<&O::drainer, &DrainerOptions::timeout>(                                                               \
          {.name = "drain_timeout", .type = ParamType::kDuration, .default_value = "\"10m\"",                    \
           .doc = "Give up the drain after this long (kubectl --timeout; `timeout` is the core's run timeout). " \
                  "See on_drain_timeout; 0: never.",                                                             \
           .range = DurationRange(0s, kDays * 7)}),                                                              \
      Bind<&O::filter, &PodFilterOptions::skip_wait_for_delete_timeout>(                                         \
          {.name = "skip_wait_for_delete_timeout", .type = ParamType::kDuration, .default_value = "\"0s\"",      \
           .doc = "Skip pods whose deletionTimestamp is older than this; 0: never skip.",                       \
           .range = DurationRange(0s, kDays * 7)}),                                                              \
      Bind<&O::drainer, &DrainerOptions::disable_eviction>(                                                      \
          {"disable_eviction", ParamType::kBool, "false",                                                        \
           "Delete pods instead of evicting them: bypasses PodDisruptionBudgets."}),                             \
      BindEnum<kTimeoutPolicyValues, &O::drainer, &DrainerOptions::on_timeout>(                                  \
          {"on_drain_timeout", ParamType::kEnum, "\"abort\"",                                                    \
           "At the timeout: abort (uncordon if we cordoned, release the lock, fail naming the blockers) or "    \
           "delete (delete the remaining pods without eviction).",                                               \
           kTimeoutPolicies}),                                                                                   \
      Bind<&O::drainer, &DrainerOptions::max_in_flight>({.name = "max_in_flight", .type = ParamType::kInt,       \
                                                         .default_value = "16",                                  \
                                                         .doc = "Evictions in flight at once.",                  \
                                                         .range = IntRange(1, 256)})
#define LOCK_NAME_ROWS(concurrency_doc)                                                                          \
  Bind<&O::lock, &LeaseLockOptions::ns>(                                                                         \
      {"lock_namespace", ParamType::kString, "\"kube-system\"", "Namespace of the reboot lock Leases."}),        \
      Bind<&O::lock, &LeaseLockOptions::prefix>(                                                                 \
          {"lock_name", ParamType::kString, "\"nodeagent-reboot-lock\"",                                         \
           "Lease name prefix; slots are <lock_name>-0 .. <lock_name>-<concurrency-1>."}),                       \
      Bind<&O::lock, &LeaseLockOptions::concurrency>({.name = "concurrency", .type = ParamType::kInt,            \
                                                      .default_value = "1", .doc = concurrency_doc,              \
                                                      .range = IntRange(1, 100)})
#define LOCK_ROWS                                                                                                \
  LOCK_NAME_ROWS("Nodes allowed between cordon and uncordon at once, cluster-wide."),                           \
      Bind<&O::lock, &LeaseLockOptions::ttl>(                                                                    \
          {.name = "lock_ttl", .type = ParamType::kDuration, .default_value = "\"30m\"",                         \
           .doc = "leaseDurationSeconds: a lease seen unchanged for this long is taken over. Must be at least "  \
                  "reboot_timeout + ready_timeout (checked).",                                                   \
           .range = DurationRange(1min, kDays * 7)}),                                                            \
      Bind<&O::lock_wait>({.name = "lock_wait", .type = ParamType::kDuration, .default_value = "\"1h\"",         \
                           .doc = "How long to wait in the reboot queue for a lock slot before failing.",        \
                           .range = DurationRange(0s, kDays * 7)}),                                              \
      Bind<&O::lock, &LeaseLockOptions::handoff_timeout>(                                                        \
          {.name = "lock_handoff_timeout", .type = ParamType::kDuration, .default_value = "\"30s\"",             \
           .doc = "A node handing its slot to the longest-waiting node gives it this long to take it before "   \
                  "handing it to the next in line.",                                                             \
           .range = DurationRange(2s, std::chrono::hours(1))}),                                                  \
      Bind<&O::prefer_no_schedule_taint>(                                                                        \
          {"prefer_no_schedule_taint", ParamType::kBool, "false",                                                \
           "Taint the node nodeagent.io/reboot-pending:PreferNoSchedule while waiting for the lock."})
// Removed parameters, kept as rows for one release so a config that still
// sets them gets an error naming [[notify]] (ValidateParams), not "unknown key".
#define NOTIFY_ROWS                                                                                              \
  Bind<&O::notify_url>({"notify_url", ParamType::kString, "\"\"",                                                \
                        "Removed: configure a [[notify]] target in agent.toml; setting this is an error.", {},      \
                        false, true}),                                                                           \
      Bind<&O::notify_format>({"notify_format", ParamType::kString, "\"\"",                                      \
                               "Removed: the format of a [[notify]] target; setting this is an error."})
#define REBOOT_ROWS                                                                                              \
  Bind<&O::reboot_command>({"reboot_command", ParamType::kStringList, "[\"systemctl\", \"reboot\"]",             \
                            "Command (argv) that reboots the node."}),                                           \
      Bind<&O::reboot_delay>({.name = "reboot_delay", .type = ParamType::kDuration, .default_value = "\"0s\"",   \
                              .doc = "Wait this long after draining before rebooting.",                          \
                              .range = DurationRange(0s, kDays)}),                                               \
      Bind<&O::reboot_timeout>(                                                                                  \
          {.name = "reboot_timeout", .type = ParamType::kDuration, .default_value = "\"10m\"",                   \
           .doc = "If the boot id has not changed this long after the reboot command, the reboot failed.",      \
           .range = DurationRange(1s, kDays)}),                                                                  \
      Bind<&O::ready_timeout>(                                                                                   \
          {.name = "ready_timeout", .type = ParamType::kDuration, .default_value = "\"15m\"",                    \
           .doc = "After the reboot, how long to wait for the Node to report the new boot id and Ready.",       \
           .range = DurationRange(1s, kDays)}),                                                                  \
      NOTIFY_ROWS

constexpr ParamField<RunOptions> kNodeOnlyFields[] = {NODE_ROW};
constexpr ParamField<RunOptions> kUncordonFields[] = {
    NODE_ROW,
    Bind<&O::release_lock>({"release_lock", ParamType::kBool, "true",
                            "Also give back this node's reboot lock slot, if it holds one (after an aborted or "
                            "hand-finished drain-and-reboot)."}),
    Bind<&O::lock, &LeaseLockOptions::ns>(
        {"lock_namespace", ParamType::kString, "\"kube-system\"", "Namespace of the reboot lock Leases."}),
    Bind<&O::lock, &LeaseLockOptions::prefix>(
        {"lock_name", ParamType::kString, "\"nodeagent-reboot-lock\"", "Lease name prefix of the reboot lock."}),
    Bind<&O::lock, &LeaseLockOptions::concurrency>(
        {.name = "concurrency", .type = ParamType::kInt, .default_value = "1",
         .doc = "Slots of the reboot lock (as configured for drain-and-reboot).", .range = IntRange(1, 100)}),
};
constexpr ParamField<RunOptions> kDrainFields[] = {
    NODE_ROW, DRAIN_ROWS, NOTIFY_ROWS};
constexpr ParamField<RunOptions> kDrainRebootFields[] = {NODE_ROW, DRAIN_ROWS, LOCK_ROWS, REBOOT_ROWS};
constexpr ParamField<RunOptions> kRebootIfRequiredFields[] = {
    NODE_ROW, DRAIN_ROWS, LOCK_ROWS, REBOOT_ROWS,
    Bind<&O::checker, &RebootCheckerOptions::sentinel_file>(
        {"sentinel_file", ParamType::kString, "\"/var/run/reboot-required\"",
         "A reboot is required while this file exists (under the host root)."}),
    Bind<&O::checker, &RebootCheckerOptions::sentinel_command>(
        {"sentinel_command", ParamType::kStringList, "[]",
         "Instead of the file: run this command (argv); its exit code says whether a reboot is required."}),
    BindWith<&ExitCodes, &O::checker, &RebootCheckerOptions::reboot_exit_codes>(
        {"sentinel_reboot_exit_codes", ParamType::kStringList, "[\"1\"]",
         "Exit codes of sentinel_command meaning \"reboot required\" (needs-restarting -r: 1)."}),
    BindWith<&ExitCodes, &O::checker, &RebootCheckerOptions::no_reboot_exit_codes>(
        {"sentinel_ok_exit_codes", ParamType::kStringList, "[\"0\"]",
         "Exit codes meaning \"no reboot required\"; any other code fails the check."}),
    Bind<&O::blocking_pod_selector>({"blocking_pod_selector", ParamType::kString, "\"\"",
                                     "Do not reboot while a pod on the node matches this label selector."}),
    Bind<&O::prometheus_url>({"prometheus_url", ParamType::kString, "\"\"",
                              "Do not reboot while this Prometheus has matching firing alerts."}),
    Bind<&O::alert_filter_regex>({"alert_filter_regex", ParamType::kString, "\"\"",
                                  "Only firing alerts whose name matches this regex block (empty: any firing alert)."}),
};

constexpr auto kNodeOnly = SpecsOf(kNodeOnlyFields);
constexpr auto kUncordon = SpecsOf(kUncordonFields);
constexpr auto kDrain = SpecsOf(kDrainFields);
constexpr auto kDrainReboot = SpecsOf(kDrainRebootFields);
constexpr auto kRebootIfRequired = SpecsOf(kRebootIfRequiredFields);

static_assert(HasValidRanges(kNodeOnly) && HasValidRanges(kUncordon) && HasValidRanges(kDrain) &&
                  HasValidRanges(kDrainReboot) && HasValidRanges(kRebootIfRequired),
              "every number in the tables needs a range");

}  // namespace

std::span<const ParamSpec> NodeOnlyParams() { return kNodeOnly; }
std::span<const ParamSpec> UncordonParams() { return kUncordon; }
std::span<const ParamSpec> DrainParams() { return kDrain; }
std::span<const ParamSpec> DrainRebootParams() { return kDrainReboot; }
std::span<const ParamSpec> RebootIfRequiredParams() { return kRebootIfRequired; }

Result<RunOptions> OptionsFromParams(const Params& p, const std::string& default_node) {
  // Every action's rows fill the same RunOptions: reboot-if-required's table
  // holds all of them but uncordon's release_lock. A row not in the params
  // (not in this action's table) leaves its member alone.
  RunOptions o;
  for (std::span<const ParamField<RunOptions>> fields : {std::span<const ParamField<RunOptions>>(kRebootIfRequiredFields),
                                                         std::span<const ParamField<RunOptions>>(kUncordonFields)}) {
    if (Status st = FillOptions(fields, p, o); !st.ok()) return st.error();
  }
  if (o.node.empty()) o.node = default_node;
  if (o.node.empty()) return InvalidArgument("node: empty, and agent.node_name is not set");
  o.use_lock = p.Has("concurrency") && o.release_lock;  // the actions that take or give back the lock
  o.lock.holder = o.node;
  o.reboot = p.Has("reboot_command");
  return o;
}

Status ValidateParams(const Params& p) {
  auto o = OptionsFromParams(p, "validation-placeholder");
  if (!o) return o.error();
  if (o->use_lock) {
    // Nobody renews the lease while the node is down: it must outlive the
    // longest wait for the reboot plus the longest wait for the Node after it.
    const auto downtime = o->reboot_timeout + o->ready_timeout;
    if (o->reboot && o->lock.ttl < downtime)
      return InvalidArgument("lock_ttl: " + FormatDuration(o->lock.ttl) + " cannot cover reboot_timeout " +
                             FormatDuration(o->reboot_timeout) + " + ready_timeout " +
                             FormatDuration(o->ready_timeout) + " = " + FormatDuration(downtime) +
                             " (the lease is not renewed while the node is down, so another node could take the "
                             "lock mid-reboot): raise lock_ttl to at least " + FormatDuration(downtime) +
                             " or lower the timeouts");
  }
  if (!o->notify_url.empty() || !o->notify_format.empty())
    return InvalidArgument(
        "notify_url and notify_format were removed: notifications now come from the core. Move the webhook to a "
        "[[notify]] table in agent.toml (url = \"...\", format = \"json\" | \"slack\" | \"teams\", events = "
        "[\"drain\", \"reboot\", \"uncordon\", \"failure\"]) and delete these keys from the task");
  if (o->reboot && o->reboot_command.empty()) return InvalidArgument("reboot_command: must not be empty");
  if (!o->alert_filter_regex.empty()) {
    try {
      std::regex re(o->alert_filter_regex);
    } catch (const std::regex_error& e) {
      return InvalidArgument("alert_filter_regex: " + std::string(e.what()));
    }
  }
  if (!o->checker.sentinel_file.empty() && o->checker.sentinel_file[0] != '/')
    return InvalidArgument("sentinel_file: must be an absolute host path");
  return Status::Ok();
}

}  // namespace nodeagent::drain
