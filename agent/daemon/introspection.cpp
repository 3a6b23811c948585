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
                      {"allowed", allowed}, {"required", p.required}, {"secret", p.secret}});
    if (p.range.declared) {  // as written in a config: "1m", "100000"
      params.back()["min"] = FormatRangeBound(p, p.range.min);
      params.back()["max"] = FormatRangeBound(p, p.range.max);
    }
  }
  return {{"name", a.name},           {"plugin", a.plugin},         {"kind", a.kind},
          {"description", a.description}, {"maturity", a.maturity}, {"disruptive", a.disruptive},
          {"resumable", a.resumable}, {"source", a.source},         {"params", params}};
}

std::unique_ptr<TaskPlanner> MakePlanner(const AgentSetup& setup, Host& host) {
  auto configured = ScheduleTimeZone(setup.settings, host.files());
  TimeZone zone = configured ? *configured : TimeZone::Utc();  // a bad zone was refused at load
  std::vector<TaskSchedule> schedules;
  for (const auto& [name, task] : setup.tasks) {
    if (!task.enabled || task.schedule.empty()) continue;
    auto s = Schedule::Parse(task.schedule);
    auto w = TaskWindow(task, zone, host.files());
    if (!s || !w) continue;  // validated at load
    schedules.push_back(TaskSchedule{name, *s, task.jitter, *w, task.catch_up});
  }
  return std::make_unique<TaskPlanner>(std::move(schedules), zone, setup.settings.node_name);
}

json ListJson(const AgentSetup& setup, const TaskPlanner* planner, const TaskStateStore& task_state,
              std::chrono::system_clock::time_point started_at, const std::string& boot_id,
              const std::function<bool(const std::string&)>& task_running) {
  json out = {{"type", "list"}, {"plugins", json::array()}, {"actions", json::array()},
              {"plugin_problems", PluginProblemsJson(setup)}};
  for (const auto& [name, src] : setup.catalog.plugins) out["plugins"].push_back({{"name", name}, {"source", src}});
  for (const ActionInfo* a : setup.catalog.All()) out["actions"].push_back(ActionToJson(*a));
  out["tasks"] = TasksJson(setup, planner, task_state, started_at, boot_id, task_running);
  return out;
}

PlanInput MakePlanInput(const std::map<std::string, TaskRunState>& states,
                        std::chrono::system_clock::time_point started_at, const std::string& boot_id,
                        bool first_start_this_boot) {
  PlanInput in;
  in.now = std::chrono::system_clock::now();
  in.started_at = started_at;
  in.boot_id = boot_id;
  in.first_start_this_boot = first_start_this_boot;
  for (const auto& [task, st] : states) {
    TaskHistory h;
    if (st.last_run_ms > 0) h.last_run = TimePoint(std::chrono::milliseconds(st.last_run_ms));
    h.last_run_boot_id = st.last_boot_id;
    in.history[task] = h;
  }
  return in;
}

json PluginProblemsJson(const AgentSetup& setup) {
  json out = json::array();
  for (const auto& p : setup.catalog.problems) out.push_back({{"file", p.file}, {"reason", p.reason}});
  return out;
}

json TasksJson(const AgentSetup& setup, const TaskPlanner* planner, const TaskStateStore& task_state,
               std::chrono::system_clock::time_point started_at, const std::string& boot_id,
               const std::function<bool(const std::string&)>& task_running) {
  json out = json::array();
  auto states = task_state.Load();
  PlanInput in = MakePlanInput(states, started_at, boot_id, false);
  std::map<std::string, std::optional<TimePoint>> next;
  if (planner)
    for (const auto& tp : planner->Compute(in).tasks) next[tp.name] = tp.next_due;
  for (const auto& [name, t] : setup.tasks) {
    json tj = {{"name", name},         {"action", t.action},   {"schedule", t.schedule},
               {"window", t.window},   {"enabled", t.enabled}, {"dry_run", t.dry_run || setup.settings.demo},
               {"running", task_running ? task_running(name) : false}};
    if (next.count(name) && next[name]) tj["next_run_ms"] = ToMillis(*next[name]);
    if (states.count(name) && states[name].last_run_ms) tj["last_run_ms"] = states[name].last_run_ms;
    out.push_back(tj);
  }
  return out;
}

}  // namespace nodeagent
