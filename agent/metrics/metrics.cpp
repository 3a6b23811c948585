#include "metrics/metrics.h"

#include <set>
#include <sstream>

#include "nodeagent/action.h"

namespace nodeagent {

namespace {

const char* const kStatuses[] = {"ok", "changed", "failed", "skipped", "interrupted"};

std::string Num(double v) {
  std::ostringstream os;
  os.precision(15);
  os << v;
  return os.str();
}

void Header(std::ostringstream& os, const char* name, const char* type, const char* help) {
  os << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

double Number(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return -1;
  const auto& v = j[key];
  return v.is_number() ? v.get<double>() : -1;
}

}  // namespace

std::string PromLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void AgentMetrics::Gauges(const RunRecord& run, bool with_drain) {
  if (!run.task.empty())
    last_by_task_[run.task] = {run.action, run.finished_ms, run.duration_ms(), RunStatusName(run.status)};
  const auto& d = run.data;
  if (with_drain && !run.dry_run) {
    if (double s = Number(d, "drain_seconds"); s >= 0) drain_seconds_[run.action] = s;
    if (double e = Number(d, "evicted"); e >= 0) evicted_[run.action] = e;
    if (double r = Number(d, "refusals"); r >= 0) eviction_retries_[run.action] = r;
  }
  // join-prep's checks (dry runs too: they check the same): one series per
  // check id that fails now, replacing the action's previous set.
  if (d.is_object() && d.contains("checks") && d["checks"].is_array()) {
    for (auto it = failing_checks_.begin(); it != failing_checks_.end();)
      it = it->first.first == run.action ? failing_checks_.erase(it) : std::next(it);
    size_t n = 0;
    for (const auto& c : d["checks"]) {
      if (!c.is_object() || c.value("status", "") != "fail" || ++n > 200) continue;
      failing_checks_[{run.action, c.value("id", "")}] = 1;
    }
  }
}

void AgentMetrics::Seed(const RunRecord& last_finished) { Gauges(last_finished, false); }

void AgentMetrics::Observe(const RunRecord& run) {
  ++runs_[{run.action, RunStatusName(run.status)}];
  Gauges(run, true);
  if (run.notifications_failed > 0) notifications_failed_ += static_cast<uint64_t>(run.notifications_failed);
  if (run.dry_run || run.action != "log-cleanup") return;
  const auto& totals = run.data.is_object() ? run.data.value("totals", nlohmann::json::object()) : nlohmann::json();
  const auto& deleted = totals.is_object() ? totals.value("deleted", nlohmann::json::object()) : nlohmann::json();
  if (double f = Number(deleted, "files"); f > 0) cleanup_deleted_files_ += f;
  if (double b = Number(deleted, "bytes"); b > 0) cleanup_deleted_bytes_ += b;
}

std::string AgentMetrics::Render() const {
  std::ostringstream os;
  Header(os, "nodeagent_build_info", "gauge", "The agent's version (always 1).");
  os << "nodeagent_build_info{version=\"" << PromLabelValue(version_) << "\"} 1\n";
  Header(os, "nodeagent_start_time_seconds", "gauge", "When the daemon started, seconds since the epoch.");
  os << "nodeagent_start_time_seconds " << Num(start_ms_ / 1000.0) << "\n";
  Header(os, "nodeagent_plugins_loaded", "gauge", "Plugins loaded.");
  os << "nodeagent_plugins_loaded " << plugins_loaded_ << "\n";
  Header(os, "nodeagent_plugin_load_problems", "gauge", "Plugin files that could not be loaded.");
  os << "nodeagent_plugin_load_problems " << plugin_problems_ << "\n";
  Header(os, "nodeagent_runs_in_progress", "gauge", "Runs in progress.");
  os << "nodeagent_runs_in_progress " << in_progress_ << "\n";
  Header(os, "nodeagent_reboot_required", "gauge", "1 when /var/run/reboot-required exists on the node.");
  os << "nodeagent_reboot_required " << (reboot_required_ ? 1 : 0) << "\n";

  Header(os, "nodeagent_runs_total", "counter", "Runs that ended since the daemon started, by action and status.");
  std::set<std::string> actions;
  for (const auto& [k, _] : runs_) actions.insert(k.first);
  for (const auto& a : actions)
    for (const char* s : kStatuses) {
      auto it = runs_.find({a, s});
      os << "nodeagent_runs_total{action=\"" << PromLabelValue(a) << "\",status=\"" << s << "\"} "
         << (it == runs_.end() ? 0 : it->second) << "\n";
    }

  Header(os, "nodeagent_task_last_run_timestamp_seconds", "gauge", "When the task's last run ended.");
  for (const auto& [task, l] : last_by_task_)
    os << "nodeagent_task_last_run_timestamp_seconds{task=\"" << PromLabelValue(task) << "\",action=\""
       << PromLabelValue(l.action) << "\"} " << Num(l.finished_ms / 1000.0) << "\n";
  Header(os, "nodeagent_task_last_run_duration_seconds", "gauge", "How long the task's last run took.");
  for (const auto& [task, l] : last_by_task_)
    os << "nodeagent_task_last_run_duration_seconds{task=\"" << PromLabelValue(task) << "\",action=\""
       << PromLabelValue(l.action) << "\"} " << Num(l.duration_ms / 1000.0) << "\n";
  Header(os, "nodeagent_task_last_run_status", "gauge", "1 for the status of the task's last run, 0 for the others.");
  for (const auto& [task, l] : last_by_task_)
    for (const char* s : kStatuses)
      os << "nodeagent_task_last_run_status{task=\"" << PromLabelValue(task) << "\",action=\""
         << PromLabelValue(l.action) << "\",status=\"" << s << "\"} " << (l.status == s ? 1 : 0) << "\n";

  Header(os, "nodeagent_drain_duration_seconds", "gauge", "How long the last drain took.");
  for (const auto& [a, v] : drain_seconds_)
    os << "nodeagent_drain_duration_seconds{action=\"" << PromLabelValue(a) << "\"} " << Num(v) << "\n";
  Header(os, "nodeagent_drain_pods_evicted", "gauge", "Pods the last drain evicted.");
  for (const auto& [a, v] : evicted_)
    os << "nodeagent_drain_pods_evicted{action=\"" << PromLabelValue(a) << "\"} " << Num(v) << "\n";
  Header(os, "nodeagent_drain_eviction_retries", "gauge",
         "Evictions the last drain had to retry (refused by a PodDisruptionBudget, 429).");
  for (const auto& [a, v] : eviction_retries_)
    os << "nodeagent_drain_eviction_retries{action=\"" << PromLabelValue(a) << "\"} " << Num(v) << "\n";

  Header(os, "nodeagent_log_cleanup_deleted_files_total", "counter", "Files log-cleanup deleted since the daemon started.");
  os << "nodeagent_log_cleanup_deleted_files_total " << Num(cleanup_deleted_files_) << "\n";
  Header(os, "nodeagent_log_cleanup_deleted_bytes_total", "counter", "Bytes log-cleanup deleted since the daemon started.");
  os << "nodeagent_log_cleanup_deleted_bytes_total " << Num(cleanup_deleted_bytes_) << "\n";

  Header(os, "nodeagent_notifications_failed_total", "counter",
         "Notifications to [[notify]] targets that could not be sent (retries spent) since the daemon started.");
  os << "nodeagent_notifications_failed_total " << notifications_failed_ << "\n";

  Header(os, "nodeagent_check_failing", "gauge", "1 for each check (by id) failing in the action's last run.");
  for (const auto& [k, v] : failing_checks_)
    os << "nodeagent_check_failing{action=\"" << PromLabelValue(k.first) << "\",check=\"" << PromLabelValue(k.second)
       << "\"} " << v << "\n";
  return os.str();
}

}  // namespace nodeagent
