#include "run_options.h"

#include <regex>

namespace nodeagent::drain {

namespace {

using namespace std::chrono_literals;
constexpr Duration kDays = std::chrono::hours(24);

constexpr std::string_view kTimeoutPolicies[] = {"abort", "delete"};
constexpr std::string_view kNotifyFormats[] = {"json", "slack"};

#define NODE_ROW {"node", ParamType::kString, "\"\"", "Node to act on. Default: agent.node_name."}
#define DRAIN_ROWS                                                                                               \
  {"ignore_daemonsets", ParamType::kBool, "true", "Skip DaemonSet-managed pods (kubectl --ignore-daemonsets)."}, \
      {"delete_emptydir_data", ParamType::kBool, "true",                                                         \
       "Evict pods with emptyDir volumes; their data is lost (kubectl --delete-emptydir-data)."},               \
      {"force", ParamType::kBool, "false", "Also delete pods without a controller; they are lost (kubectl --force)."}, \
      {"pod_selector", ParamType::kString, "\"\"", "Only evict pods matching this label selector."},            \
      {.name = "grace_period", .type = ParamType::kInt, .default_value = "-1",                                   \
       .doc = "Seconds each pod gets to terminate; -1: the pod's own.", .range = IntRange(-1, 86'400)},         \
      {.name = "drain_timeout", .type = ParamType::kDuration, .default_value = "\"10m\"",                        \
       .doc = "Give up the drain after this long (kubectl --timeout; `timeout` is the core's run timeout). See " \
              "on_drain_timeout; 0: never.",                                                                     \
       .range = DurationRange(0s, kDays * 7)},                                                                   \
      {.name = "skip_wait_for_delete_timeout", .type = ParamType::kDuration, .default_value = "\"0s\"",          \
       .doc = "Skip pods whose deletionTimestamp is older than this; 0: never skip.",                           \
       .range = DurationRange(0s, kDays * 7)},                                                                   \
      {"disable_eviction", ParamType::kBool, "false", "Delete pods instead of evicting them: bypasses PodDisruptionBudgets."}, \
      {"on_drain_timeout", ParamType::kEnum, "\"abort\"",                                                        \
       "At the timeout: abort (uncordon if we cordoned, release the lock, fail naming the blockers) or delete "  \
       "(delete the remaining pods without eviction).",                                                          \
       kTimeoutPolicies},                                                                                        \
  {                                                                                                              \
    .name = "max_in_flight", .type = ParamType::kInt, .default_value = "16",                                     \
    .doc = "Evictions in flight at once.", .range = IntRange(1, 256)                                             \
  }
#define LOCK_ROWS                                                                                                \
  {"lock_namespace", ParamType::kString, "\"kube-system\"", "Namespace of the reboot lock Leases."},             \
      {"lock_name", ParamType::kString, "\"nodeagent-reboot-lock\"",                                             \
       "Lease name prefix; slots are <lock_name>-0 .. <lock_name>-<concurrency-1>."},                            \
      {.name = "concurrency", .type = ParamType::kInt, .default_value = "1",                                     \
       .doc = "Nodes allowed between cordon and uncordon at once, cluster-wide.", .range = IntRange(1, 100)},   \
      {.name = "lock_ttl", .type = ParamType::kDuration, .default_value = "\"30m\"",                             \
       .doc = "leaseDurationSeconds: a lease seen unchanged for this long is taken over. Must be at least "     \
              "reboot_timeout + ready_timeout (checked).",                                                       \
       .range = DurationRange(1min, kDays * 7)},                                                                 \
      {.name = "lock_wait", .type = ParamType::kDuration, .default_value = "\"1h\"",                             \
       .doc = "How long to wait for a free lock slot before failing.", .range = DurationRange(0s, kDays * 7)},  \
  {                                                                                                              \
    "prefer_no_schedule_taint", ParamType::kBool, "false",                                                      \
        "Taint the node nodeagent.io/reboot-pending:PreferNoSchedule while waiting for the lock."               \
  }
#define REBOOT_ROWS                                                                                              \
  {"reboot_command", ParamType::kStringList, "[\"systemctl\", \"reboot\"]", "Command (argv) that reboots the node."}, \
      {.name = "reboot_delay", .type = ParamType::kDuration, .default_value = "\"0s\"",                          \
       .doc = "Wait this long after draining before rebooting.", .range = DurationRange(0s, kDays)},            \
      {.name = "reboot_timeout", .type = ParamType::kDuration, .default_value = "\"10m\"",                       \
       .doc = "If the boot id has not changed this long after the reboot command, the reboot failed.",          \
       .range = DurationRange(1s, kDays)},                                                                       \
      {.name = "ready_timeout", .type = ParamType::kDuration, .default_value = "\"15m\"",                        \
       .doc = "After the reboot, how long to wait for the Node to report the new boot id and Ready.",           \
       .range = DurationRange(1s, kDays)},                                                                       \
      {"notify_url", ParamType::kString, "\"\"",                                                               \
       "Webhook notified on drain, reboot, uncordon and failure (secret: its path often holds a token).", {},     \
       false, true},                                                                                             \
  {                                                                                                              \
    "notify_format", ParamType::kEnum, "\"json\"", "Webhook body: json (generic) or slack ({\"text\": ...}).",  \
        kNotifyFormats                                                                                           \
  }

constexpr ParamSpec kNodeOnly[] = {NODE_ROW};
constexpr ParamSpec kUncordon[] = {
    NODE_ROW,
    {"release_lock", ParamType::kBool, "true",
     "Also give back this node's reboot lock slot, if it holds one (after an aborted or hand-finished "
     "drain-and-reboot)."},
    {"lock_namespace", ParamType::kString, "\"kube-system\"", "Namespace of the reboot lock Leases."},
    {"lock_name", ParamType::kString, "\"nodeagent-reboot-lock\"", "Lease name prefix of the reboot lock."},
    {.name = "concurrency", .type = ParamType::kInt, .default_value = "1",
     .doc = "Slots of the reboot lock (as configured for drain-and-reboot).", .range = IntRange(1, 100)},
};
constexpr ParamSpec kDrain[] = {NODE_ROW, DRAIN_ROWS,
                            {"notify_url", ParamType::kString, "\"\"", "Webhook notified on drain and failure (secret).",
                             {}, false, true},
                            {"notify_format", ParamType::kEnum, "\"json\"", "json or slack.", kNotifyFormats}};
constexpr ParamSpec kDrainReboot[] = {NODE_ROW, DRAIN_ROWS, LOCK_ROWS, REBOOT_ROWS};
constexpr ParamSpec kRebootIfRequired[] = {
    NODE_ROW, DRAIN_ROWS, LOCK_ROWS, REBOOT_ROWS,
    {"sentinel_file", ParamType::kString, "\"/var/run/reboot-required\"",
     "A reboot is required while this file exists (under the host root)."},
    {"sentinel_command", ParamType::kStringList, "[]",
     "Instead of the file: run this command (argv); its exit code says whether a reboot is required."},
    {"sentinel_reboot_exit_codes", ParamType::kStringList, "[\"1\"]",
     "Exit codes of sentinel_command meaning \"reboot required\" (needs-restarting -r: 1)."},
    {"sentinel_ok_exit_codes", ParamType::kStringList, "[\"0\"]",
     "Exit codes meaning \"no reboot required\"; any other code fails the check."},
    {"blocking_pod_selector", ParamType::kString, "\"\"",
     "Do not reboot while a pod on the node matches this label selector."},
    {"prometheus_url", ParamType::kString, "\"\"", "Do not reboot while this Prometheus has matching firing alerts."},
    {"alert_filter_regex", ParamType::kString, "\"\"",
     "Only firing alerts whose name matches this regex block (empty: any firing alert)."},
};

static_assert(HasValidRanges(kNodeOnly) && HasValidRanges(kUncordon) && HasValidRanges(kDrain) &&
                  HasValidRanges(kDrainReboot) && HasValidRanges(kRebootIfRequired),
              "every number in the tables needs a range");

Result<std::vector<int>> Codes(const Params& p, std::string_view name) {
  std::vector<int> out;
  for (const auto& s : p.GetList(name)) {
    try {
      size_t used = 0;
      int v = std::stoi(s, &used);
      if (used != s.size()) throw std::invalid_argument(s);
      out.push_back(v);
    } catch (const std::exception&) {
      return InvalidArgument(std::string(name) + ": \"" + s + "\" is not an exit code");
    }
  }
  return out;
}

}  // namespace

std::span<const ParamSpec> NodeOnlyParams() { return kNodeOnly; }
std::span<const ParamSpec> UncordonParams() { return kUncordon; }
std::span<const ParamSpec> DrainParams() { return kDrain; }
std::span<const ParamSpec> DrainRebootParams() { return kDrainReboot; }
std::span<const ParamSpec> RebootIfRequiredParams() { return kRebootIfRequired; }

Result<RunOptions> OptionsFromParams(const Params& p, const std::string& default_node) {
  RunOptions o;
  o.node = p.Has("node") ? p.GetString("node") : "";
  if (o.node.empty()) o.node = default_node;
  if (o.node.empty()) return InvalidArgument("node: empty, and agent.node_name is not set");
  if (p.Has("ignore_daemonsets")) {
    o.filter.ignore_daemonsets = p.GetBool("ignore_daemonsets");
    o.filter.delete_emptydir_data = p.GetBool("delete_emptydir_data");
    o.filter.force = p.GetBool("force");
    o.filter.skip_wait_for_delete_timeout =
        std::chrono::duration_cast<std::chrono::seconds>(p.GetDuration("skip_wait_for_delete_timeout"));
    o.pod_selector = p.GetString("pod_selector");
    o.drainer.grace_period_seconds = p.GetInt("grace_period");
    o.drainer.timeout = p.GetDuration("drain_timeout");
    o.drainer.disable_eviction = p.GetBool("disable_eviction");
    o.drainer.on_timeout = p.GetString("on_drain_timeout") == "delete" ? OnDrainTimeout::kDelete : OnDrainTimeout::kAbort;
    o.drainer.max_in_flight = static_cast<int>(p.GetInt("max_in_flight"));
  }
  if (p.Has("notify_url")) {
    o.notify_url = p.GetString("notify_url");
    o.notify_format = p.GetString("notify_format") == "slack" ? NotifyFormat::kSlack : NotifyFormat::kJson;
  }
  if (p.Has("concurrency")) {
    o.use_lock = !p.Has("release_lock") || p.GetBool("release_lock");
    o.lock.ns = p.GetString("lock_namespace");
    o.lock.prefix = p.GetString("lock_name");
    o.lock.concurrency = static_cast<int>(p.GetInt("concurrency"));
    o.lock.holder = o.node;
    if (p.Has("lock_ttl")) {  // not in uncordon's table
      o.lock.ttl = std::chrono::duration_cast<std::chrono::seconds>(p.GetDuration("lock_ttl"));
      o.lock_wait = p.GetDuration("lock_wait");
      o.prefer_no_schedule_taint = p.GetBool("prefer_no_schedule_taint");
    }
  }
  if (p.Has("reboot_command")) {
    o.reboot = true;
    o.reboot_command = p.GetList("reboot_command");
    o.reboot_delay = p.GetDuration("reboot_delay");
    o.reboot_timeout = p.GetDuration("reboot_timeout");
    o.ready_timeout = p.GetDuration("ready_timeout");
  }
  if (p.Has("sentinel_file")) {
    o.checker.sentinel_file = p.GetString("sentinel_file");
    o.checker.sentinel_command = p.GetList("sentinel_command");
    auto yes = Codes(p, "sentinel_reboot_exit_codes");
    if (!yes) return yes.error();
    auto no = Codes(p, "sentinel_ok_exit_codes");
    if (!no) return no.error();
    o.checker.reboot_exit_codes = *yes;
    o.checker.no_reboot_exit_codes = *no;
    o.blocking_pod_selector = p.GetString("blocking_pod_selector");
    o.prometheus_url = p.GetString("prometheus_url");
    o.alert_filter_regex = p.GetString("alert_filter_regex");
  }
  return o;
}

Status ValidateParams(const Params& p) {
  auto o = OptionsFromParams(p, "validation-placeholder");
  if (!o) return o.error();
  if (p.Has("max_in_flight") && (o->drainer.max_in_flight < 1 || o->drainer.max_in_flight > 256))
    return InvalidArgument("max_in_flight: must be 1..256, got " + std::to_string(o->drainer.max_in_flight));
  if (o->use_lock) {
    if (o->lock.concurrency < 1 || o->lock.concurrency > 100)
      return InvalidArgument("concurrency: must be 1..100, got " + std::to_string(o->lock.concurrency));
    if (o->lock.ttl.count() < 1) return InvalidArgument("lock_ttl: must be at least 1s");
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
