#include "daemon/introspection.h"

#include "config/param_validation.h"
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
  json permissions = json::array();
  for (const KubePermission& k : a.permissions) {
    json verbs = json::array();
    std::string_view rest = k.verbs;
    while (!rest.empty()) {
      size_t space = rest.find(' ');
      if (space != 0) verbs.push_back(std::string(rest.substr(0, space)));
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    }
    json row = {{"verbs", verbs}, {"group", std::string(k.group)}, {"resource", std::string(k.resource)},
                {"why", std::string(k.why)}};
    if (k.scope == KubeScope::kCluster) row["scope"] = "cluster";
    if (k.scope == KubeScope::kNamespace) row["scope"] = "namespace", row["namespace"] = std::string(k.ns);
    if (k.scope == KubeScope::kNamespaceParam) {
      row["scope"] = "namespace_param";
      row["namespace_param"] = std::string(k.ns);
      for (const ParamSpec& p : a.params) {  // the namespace unless a task sets another
        if (p.name != k.ns) continue;
        auto def = DefaultValue(p);
        if (def && *def && std::holds_alternative<std::string>(**def))
          row["namespace"] = std::get<std::string>(**def);
      }
    }
    permissions.push_back(std::move(row));
  }
  json conditions = json::array();
  for (const ConditionSpec& c : a.conditions)
    conditions.push_back({{"type", std::string(c.type)}, {"true_reason", std::string(c.true_reason)},
                          {"false_reason", std::string(c.false_reason)}, {"description", std::string(c.description)}});
  return {{"name", a.name},           {"plugin", a.plugin},         {"kind", a.kind},
          {"description", a.description}, {"maturity", a.maturity}, {"disruptive", a.disruptive},
          {"resumable", a.resumable}, {"source", a.source},         {"params", params},
          {"permissions", permissions}, {"conditions", conditions}};
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
              {"plugin_problems", PluginProblemsJson(setup)}, {"sources", SourcesJson(setup)}};
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

json SourcesJson(const AgentSetup& setup) {
  json out = {{"config_files", setup.raw.files}, {"config_missing", nullptr}, {"plugin_dirs", json::array()}};
  if (setup.raw.files.empty() && !setup.config_path.empty()) out["config_missing"] = setup.config_path;
  for (const auto& d : setup.catalog.searched) {
    json loaded = json::array();
    for (const auto& [name, src] : setup.catalog.plugins)
      if (src.rfind(d.dir + "/", 0) == 0) loaded.push_back(name);
    out["plugin_dirs"].push_back({{"dir", d.dir}, {"kind", d.kind}, {"exists", d.exists},
                                  {"candidates", d.candidates}, {"loaded", loaded}});
  }
  return out;
}

std::string SourcesSentence(const json& sources) {
  std::string config;
  for (const auto& f : sources.value("config_files", json::array()))
    config += (config.empty() ? "" : ", ") + f.get<std::string>();
  if (config.empty()) {
    const json& missing = sources["config_missing"];
    config = missing.is_string() ? "none (" + missing.get<std::string>() + " does not exist, defaults apply)"
                                 : "none (defaults apply)";
  }
  std::string dirs;
  for (const auto& d : sources.value("plugin_dirs", json::array())) {
    std::string what;
    if (!d.value("exists", false)) {
      what = "does not exist";
    } else {
      size_t loaded = d.value("loaded", json::array()).size();
      what = std::to_string(d.value("candidates", 0)) + (d.value("kind", "") == "exec" ? " manifest(s)" : " module(s)") +
             ", " + std::to_string(loaded) + " loaded";
    }
    dirs += (dirs.empty() ? "" : ", ") + d.value("dir", "") + " (" + what + ")";
  }
  return "config: " + config + "; plugins searched: " + (dirs.empty() ? "none" : dirs);
}

std::string UnknownActionMessage(const std::string& name, const AgentSetup& setup) {
  auto names = setup.catalog.Names();
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  return "unknown action '" + name + "' (" + (known.empty() ? "no action is loaded" : "known: " + known) + "; " +
         SourcesSentence(SourcesJson(setup)) + ")";
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
