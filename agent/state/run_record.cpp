#include "state/run_record.h"

#include <ctime>
#include <random>

namespace nodeagent {

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

LogLevel ParseLogLevel(std::string_view s) {
  if (s == "debug") return LogLevel::kDebug;
  if (s == "warning") return LogLevel::kWarning;
  if (s == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

nlohmann::json ToJson(const Finding& f) {
  nlohmann::json j = {{"severity", SeverityName(f.severity)}, {"subject", f.subject}, {"message", f.message}};
  if (!f.condition.empty()) j["condition"] = f.condition;  // the Node condition it holds True
  return j;
}

nlohmann::json ToJson(const Change& c) {
  nlohmann::json j = {{"kind", c.kind}, {"target", c.target}};
  if (!c.description.empty()) j["description"] = c.description;
  if (!c.diff.empty()) j["diff"] = c.diff;
  if (c.bytes) j["bytes"] = c.bytes;
  if (!c.objects.empty()) j["objects"] = c.objects;
  return j;
}

nlohmann::json ToJson(const LogLine& l) { return {{"t", l.time_ms}, {"level", LogLevelName(l.level)}, {"msg", l.message}}; }

Finding FindingFromJson(const nlohmann::json& j) {
  std::string sev = j.value("severity", "info");
  return {sev == "error" ? Severity::kError : sev == "warning" ? Severity::kWarning : Severity::kInfo,
          j.value("subject", ""), j.value("message", ""), j.value("condition", "")};
}

Change ChangeFromJson(const nlohmann::json& j) {
  Change c;
  c.kind = j.value("kind", "");
  c.target = j.value("target", "");
  c.description = j.value("description", "");
  c.diff = j.value("diff", "");
  c.bytes = j.value("bytes", int64_t{0});
  if (auto it = j.find("objects"); it != j.end() && it->is_array())
    for (const auto& o : *it)
      if (o.is_string()) c.objects.push_back(o.get<std::string>());
  return c;
}

LogLine LogLineFromJson(const nlohmann::json& j) {
  return {j.value("t", int64_t{0}), ParseLogLevel(j.value("level", "info")), j.value("msg", "")};
}

nlohmann::json ToJson(const RunRecord& r, bool with_logs) {
  nlohmann::json j = {{"id", r.id},
                      {"task", r.task},
                      {"action", r.action},
                      {"plugin", r.plugin},
                      {"node", r.node},
                      {"trigger", r.trigger},
                      {"requested_by", r.requested_by},
                      {"dry_run", r.dry_run},
                      {"status", RunStatusName(r.status)},
                      {"summary", r.summary},
                      {"params", r.params},
                      {"params_wire", r.params_wire},
                      {"timeout_ms", r.timeout_ms},
                      {"data", r.data},
                      {"started_ms", r.started_ms},
                      {"finished_ms", r.finished_ms},
                      {"duration_ms", r.duration_ms()},
                      {"boot_id", r.boot_id},
                      {"worker_pid", r.worker_pid},
                      {"worker_start_ticks", r.worker_start_ticks},
                      {"worker_kernel_boot_id", r.worker_kernel_boot_id},
                      {"resumes", r.resumes},
                      {"notifications_failed", r.notifications_failed}};
  j["findings"] = nlohmann::json::array();
  for (const auto& f : r.findings) j["findings"].push_back(ToJson(f));
  j["changes"] = nlohmann::json::array();
  for (const auto& c : r.changes) j["changes"].push_back(ToJson(c));
  if (r.list_lines > 0 || r.list_lines_dropped > 0) {
    j["list_lines"] = r.list_lines;
    if (r.list_lines_dropped > 0) j["list_lines_dropped"] = r.list_lines_dropped;
  }
  if (r.preview) j["preview"] = true;
  if (!r.confirmed_plan.empty()) j["confirmed_plan"] = r.confirmed_plan;
  if (r.plan) {
    nlohmann::json p = {{"summary", r.plan->summary}, {"fingerprint", r.plan->fingerprint},
                        {"findings", nlohmann::json::array()}, {"changes", nlohmann::json::array()}};
    for (const auto& f : r.plan->findings) p["findings"].push_back(ToJson(f));
    for (const auto& c : r.plan->changes) p["changes"].push_back(ToJson(c));
    j["plan"] = std::move(p);
  }
  if (with_logs) {
    j["logs"] = nlohmann::json::array();
    for (const auto& l : r.logs) j["logs"].push_back(ToJson(l));
  }
  return j;
}

RunRecord RunRecordFromJson(const nlohmann::json& j) {
  RunRecord r;
  r.id = j.value("id", "");
  r.task = j.value("task", "");
  r.action = j.value("action", "");
  r.plugin = j.value("plugin", "");
  r.node = j.value("node", "");
  r.trigger = j.value("trigger", "");
  r.requested_by = j.value("requested_by", "");
  r.dry_run = j.value("dry_run", false);
  r.status = ParseRunStatus(j.value("status", "interrupted")).value_or(RunStatus::kInterrupted);
  r.summary = j.value("summary", "");
  r.params = j.value("params", nlohmann::json::object());
  r.params_wire = j.value("params_wire", nlohmann::json::object());
  r.timeout_ms = j.value("timeout_ms", int64_t{0});
  r.data = j.value("data", nlohmann::json::object());
  r.started_ms = j.value("started_ms", int64_t{0});
  r.finished_ms = j.value("finished_ms", int64_t{0});
  r.boot_id = j.value("boot_id", "");
  r.worker_pid = j.value("worker_pid", int64_t{0});
  r.worker_start_ticks = j.value("worker_start_ticks", int64_t{0});
  r.worker_kernel_boot_id = j.value("worker_kernel_boot_id", "");
  r.resumes = j.value("resumes", 0);
  r.notifications_failed = j.value("notifications_failed", 0);
  for (const auto& f : j.value("findings", nlohmann::json::array())) r.findings.push_back(FindingFromJson(f));
  for (const auto& c : j.value("changes", nlohmann::json::array())) r.changes.push_back(ChangeFromJson(c));
  for (const auto& l : j.value("logs", nlohmann::json::array())) r.logs.push_back(LogLineFromJson(l));
  r.list_lines = j.value("list_lines", int64_t{0});
  r.list_lines_dropped = j.value("list_lines_dropped", int64_t{0});
  r.preview = j.value("preview", false);
  r.confirmed_plan = j.value("confirmed_plan", "");
  if (auto p = j.find("plan"); p != j.end() && p->is_object()) {
    RecordedPlan plan;
    plan.summary = p->value("summary", "");
    plan.fingerprint = p->value("fingerprint", "");
    for (const auto& f : p->value("findings", nlohmann::json::array())) plan.findings.push_back(FindingFromJson(f));
    for (const auto& c : p->value("changes", nlohmann::json::array())) plan.changes.push_back(ChangeFromJson(c));
    r.plan = std::move(plan);
  }
  return r;
}

std::string NewRunId(std::chrono::system_clock::time_point now) {
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  static thread_local std::mt19937 rng{std::random_device{}()};
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%06x", static_cast<unsigned>(rng() & 0xffffff));
  return std::string(buf) + "-" + suffix;
}

}  // namespace nodeagent
