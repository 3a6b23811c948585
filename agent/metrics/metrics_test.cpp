// The metrics' text: names, labels, counters since start, gauges from the
// last run, and label values escaped. The exposition format itself is
// checked by Prometheus' own parser in metrics_textfile_test.py.
#include "metrics/metrics.h"

#include <catch2/catch.hpp>

using namespace nodeagent;

namespace {

RunRecord Run(std::string task, std::string action, RunStatus status, int64_t started, int64_t finished) {
  RunRecord r;
  r.id = "run-" + std::to_string(started);
  r.task = std::move(task);
  r.action = std::move(action);
  r.status = status;
  r.started_ms = started;
  r.finished_ms = finished;
  return r;
}

bool Has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

}  // namespace

TEST_CASE("metrics: counters since start, gauges of the last run, no run ids") {
  AgentMetrics m("1.2.3", 1'700'000'000'000);
  m.Seed(Run("cleanup", "log-cleanup", RunStatus::kFailed, 1'600'000'000'000, 1'600'000'002'000));
  std::string seeded = m.Render();
  CHECK(Has(seeded, "nodeagent_task_last_run_status{task=\"cleanup\",action=\"log-cleanup\",status=\"failed\"} 1"));
  CHECK(seeded.find("nodeagent_runs_total{") == std::string::npos);  // no counts from before the start

  RunRecord r = Run("cleanup", "log-cleanup", RunStatus::kChanged, 1'700'000'100'000, 1'700'000'101'500);
  r.data = {{"totals", {{"deleted", {{"files", 3}, {"bytes", 4096}}}}}};
  m.Observe(r);
  m.Observe(Run("", "log-cleanup", RunStatus::kOk, 1'700'000'200'000, 1'700'000'200'010));
  RunRecord drain = Run("", "drain-and-reboot", RunStatus::kChanged, 1, 2);
  drain.data = {{"evicted", 12}, {"refusals", 2}, {"drain_seconds", 20.5}};
  m.Observe(drain);
  RunRecord prep = Run("join-drift", "join-prep", RunStatus::kFailed, 3, 4);
  prep.data = {{"checks", nlohmann::json::array({{{"id", "Swap"}, {"status", "fail"}},
                                                 {{"id", "Port-10250"}, {"status", "pass"}}})}};
  m.Observe(prep);
  m.SetRunsInProgress(1);
  m.SetRebootRequired(true);
  std::string t = m.Render();
  CHECK(Has(t, "nodeagent_build_info{version=\"1.2.3\"} 1"));
  CHECK(Has(t, "nodeagent_start_time_seconds 1700000000"));
  CHECK(Has(t, "nodeagent_runs_total{action=\"log-cleanup\",status=\"changed\"} 1"));
  CHECK(Has(t, "nodeagent_runs_total{action=\"log-cleanup\",status=\"ok\"} 1"));
  CHECK(Has(t, "nodeagent_runs_total{action=\"log-cleanup\",status=\"failed\"} 0"));
  CHECK(Has(t, "nodeagent_task_last_run_status{task=\"cleanup\",action=\"log-cleanup\",status=\"changed\"} 1"));
  CHECK(Has(t, "nodeagent_task_last_run_status{task=\"cleanup\",action=\"log-cleanup\",status=\"failed\"} 0"));
  CHECK(Has(t, "nodeagent_task_last_run_duration_seconds{task=\"cleanup\",action=\"log-cleanup\"} 1.5"));
  CHECK(Has(t, "nodeagent_log_cleanup_deleted_files_total 3"));
  CHECK(Has(t, "nodeagent_log_cleanup_deleted_bytes_total 4096"));
  CHECK(Has(t, "nodeagent_drain_pods_evicted{action=\"drain-and-reboot\"} 12"));
  CHECK(Has(t, "nodeagent_drain_eviction_retries{action=\"drain-and-reboot\"} 2"));
  CHECK(Has(t, "nodeagent_drain_duration_seconds{action=\"drain-and-reboot\"} 20.5"));
  CHECK(Has(t, "nodeagent_check_failing{action=\"join-prep\",check=\"Swap\"} 1"));
  CHECK(t.find("Port-10250") == std::string::npos);
  CHECK(Has(t, "nodeagent_runs_in_progress 1"));
  CHECK(Has(t, "nodeagent_reboot_required 1"));
  CHECK(t.find("run-") == std::string::npos);

  // A check that passes again leaves the series.
  prep.data = {{"checks", nlohmann::json::array({{{"id", "Swap"}, {"status", "fixed"}}})}};
  m.Observe(prep);
  CHECK(m.Render().find("check=\"Swap\"") == std::string::npos);
}

TEST_CASE("metrics: calico-network's failing checks by id, not its passing or skipped ones") {
  AgentMetrics m("1.2.3", 0);
  RunRecord calico = Run("calico-drift", "calico-network", RunStatus::kFailed, 1, 2);
  calico.dry_run = true;  // the shipped task only reports
  calico.data = {{"checks", nlohmann::json::array({{{"id", "nm-device-managed"}, {"status", "fail"}, {"severity", "error"}},
                                                   {{"id", "tunnel-mtu"}, {"status", "fail"}, {"severity", "warning"}},
                                                   {{"id", "nm-config-parse"}, {"status", "pass"}},
                                                   {{"id", "bgp-port"}, {"status", "skipped"}}})}};
  m.Observe(calico);
  std::string t = m.Render();
  CHECK(Has(t, "nodeagent_check_failing{action=\"calico-network\",check=\"nm-device-managed\"} 1"));
  CHECK(Has(t, "nodeagent_check_failing{action=\"calico-network\",check=\"tunnel-mtu\"} 1"));
  CHECK(t.find("nm-config-parse") == std::string::npos);
  CHECK(t.find("bgp-port") == std::string::npos);
}

TEST_CASE("metrics: label values are escaped") {
  CHECK(PromLabelValue("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}

TEST_CASE("metrics: notifications that could not be sent are counted, seeded runs not") {
  AgentMetrics m("1.2.3", 1);
  RunRecord before = Run("weekly", "drain-and-reboot", RunStatus::kFailed, 1, 2);
  before.notifications_failed = 5;
  m.Seed(before);
  CHECK(Has(m.Render(), "nodeagent_notifications_failed_total 0"));
  RunRecord r = Run("weekly", "drain-and-reboot", RunStatus::kFailed, 3, 4);
  r.notifications_failed = 2;
  m.Observe(r);
  m.Observe(Run("weekly", "drain-and-reboot", RunStatus::kChanged, 5, 6));
  r.notifications_failed = 1;
  m.Observe(r);
  std::string text = m.Render();
  CHECK(Has(text, "# TYPE nodeagent_notifications_failed_total counter"));
  CHECK(Has(text, "nodeagent_notifications_failed_total 3"));
}
