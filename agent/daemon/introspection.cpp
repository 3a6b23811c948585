#include "daemon/introspection.h"

#include "runner/run_executor.h"
#include "scheduler/task_planner.h"

namespace nodeagent {

using json = nlohmann::json;

json ActionToJson(const ActionInfo& a) {
  json params = json::array();
  for (const ParamSpec& p : a.params) {
    json allowed = json::array();
    for (auto v : p.allowed) allowed.push_back(std::string(v));
    params.push_back({{"name", std::string(p.name)}, {"type", ParamTypeName(p.type)},
                      {"default", std::string(p.default_value)}, {"doc", std::string(p.doc)},
                      {"allowed", allowed}, {"required", p.required}});
  }
  return {{"name", a.name},           {"plugin", a.plugin},         {"kind", a.kind},
          {"description", a.description}, {"maturity", a.maturity}, {"disruptive", a.disruptive},
          {"resumable", a.resumable}, {"source", a.source},         {"params", params}};
}

std::unique_ptr<TaskPlanner> MakePlanner(const AgentSetup& setup, Host& host) {
  std::vector<TaskSchedule> schedules;
  TimeZone zone = TimeZone::Utc();
  if (!setup.settings.timezone.empty()) {
    if (auto z = TimeZone::Load(host.files(), setup.settings.timezone)) zone = *z;
  } else {
    zone = TimeZone::LoadLocal(host.files());
  }
  for (const auto& [name, task] : setup.tasks) {
    if (!task.enabled || task.schedule.empty()) continue;
    auto s = Schedule::Parse(task.schedule);
    if (!s) continue;  // validated at load
    TaskSchedule ts{name, *s, task.jitter, std::nullopt, task.catch_up};
    if (!task.window.empty()) {
      auto w = MaintenanceWindow::Parse(task.window, zone,
                                        [&](std::string_view n) { return TimeZone::Load(host.files(), n); });
      if (w) ts.window = *w;
    }
    schedules.push_back(std::move(ts));
  }
  return std::make_unique<TaskPlanner>(std::move(schedules), zone, setup.settings.node_name);
}

json ListJson(const AgentSetup& setup, const TaskPlanner* planner, const TaskStateStore& task_state,
              std::chrono::system_clock::time_point started_at, const std::string& boot_id,
              const std::function<bool(const std::string&)>& task_running) {
  json out = {{"type", "list"}, {"plugins", json::array()}, {"actions", json::array()}, {"tasks", json::array()},
              {"plugin_problems", json::array()}};
  for (const auto& [name, src] : setup.catalog.plugins) out["plugins"].push_back({{"name", name}, {"source", src}});
  for (const auto& p : setup.catalog.problems) out["plugin_problems"].push_back({{"file", p.file}, {"reason", p.reason}});
  for (const ActionInfo* a : setup.catalog.All()) out["actions"].push_back(ActionToJson(*a));
  auto states = task_state.Load();
  PlanInput in;
  in.now = std::chrono::system_clock::now();
  in.started_at = started_at;
  in.boot_id = boot_id;
  for (const auto& [task, st] : states) {
    TaskHistory h;
    if (st.last_run_ms > 0) h.last_run = TimePoint(std::chrono::milliseconds(st.last_run_ms));
    h.last_run_boot_id = st.last_boot_id;
    in.history[task] = h;
  }
  std::map<std::string, std::optional<TimePoint>> next;
  if (planner)
    for (const auto& tp : planner->Compute(in).tasks) next[tp.name] = tp.next_due;
  for (const auto& [name, t] : setup.tasks) {
    json tj = {{"name", name},         {"action", t.action},   {"schedule", t.schedule},
               {"window", t.window},   {"enabled", t.enabled}, {"dry_run", t.dry_run || setup.settings.demo},
               {"running", task_running ? task_running(name) : false}};
    if (next.count(name) && next[name]) tj["next_run_ms"] = ToMillis(*next[name]);
    if (states.count(name) && states[name].last_run_ms) tj["last_run_ms"] = states[name].last_run_ms;
    out["tasks"].push_back(tj);
  }
  return out;
}

}  // namespace nodeagent
