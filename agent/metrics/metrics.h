// What the agent did, as Prometheus metrics an operator's existing
// monitoring picks up without a port: node-exporter's textfile collector
// reads *.prom files from a folder, so the daemon writes one there at start
// and after every run (atomically: a scrape never sees half a file). The
// numbers come from the run records the core already keeps, so no plugin
// reports anything itself. Names follow Prometheus' conventions (base units,
// `_total` counters, `_seconds`); labels only take bounded values (task and
// action names from the config and the plugins, run statuses, join-prep's
// check ids), never run ids or paths.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "state/run_record.h"

namespace nodeagent {

class AgentMetrics {
 public:
  AgentMetrics(std::string version, int64_t start_ms) : version_(std::move(version)), start_ms_(start_ms) {}

  /// The last finished run of each task (from the history at start): its
  /// gauges, not its counters (those count what happened since start).
  void Seed(const RunRecord& last_finished);
  /// A run that ended: gauges and counters.
  void Observe(const RunRecord& run);

  void SetRunsInProgress(size_t n) { in_progress_ = n; }
  void SetPlugins(size_t loaded, size_t problems) {
    plugins_loaded_ = loaded;
    plugin_problems_ = problems;
  }
  void SetRebootRequired(bool required) { reboot_required_ = required; }

  /// The exposition text (text format 0.0.4), with HELP and TYPE lines.
  std::string Render() const;

 private:
  struct LastRun {
    std::string action;
    int64_t finished_ms = 0;
    int64_t duration_ms = 0;
    std::string status;
  };
  void Gauges(const RunRecord& run, bool with_drain);

  std::string version_;
  int64_t start_ms_ = 0;
  size_t in_progress_ = 0, plugins_loaded_ = 0, plugin_problems_ = 0;
  bool reboot_required_ = false;
  std::map<std::string, LastRun> last_by_task_;                    // task ("" for ad-hoc runs: by action)
  std::map<std::pair<std::string, std::string>, uint64_t> runs_;  // (action, status) -> count since start
  std::map<std::string, double> drain_seconds_, evicted_, eviction_retries_;  // by action, last drain
  double cleanup_deleted_files_ = 0, cleanup_deleted_bytes_ = 0;               // totals since start
  uint64_t notifications_failed_ = 0;                                          // total since start
  std::map<std::pair<std::string, std::string>, int> failing_checks_;        // (action, check id) -> 1
};

/// Escapes a label value (backslash, double quote, newline).
std::string PromLabelValue(const std::string& value);

}  // namespace nodeagent
