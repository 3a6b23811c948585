#include "loader/agent_setup.h"

#include <sys/stat.h>

#include <toml++/toml.h>

#include "host/local_host.h"
#include "loader/plugin_loader.h"
#include "scheduler/cron_schedule.h"
#include "scheduler/maintenance_window.h"
#include "scheduler/time_zone.h"

namespace nodeagent {

std::string AgentSetup::ProblemsText() const { return nodeagent::ProblemsText(problems); }

namespace {

ConfigProblem ProblemAtKey(const RawConfig& raw, const TaskConfig& task, const char* key, std::string message) {
  std::string where = "tasks." + task.name + "." + key;
  if (const toml::table* t = TaskTable(raw, task.name))
    if (const toml::node* n = t->get(key)) return ProblemAt(n->source(), where, std::move(message));
  return ConfigProblem{task.file, task.line, 1, where, std::move(message)};
}

}  // namespace

Result<TimeZone> ScheduleTimeZone(const AgentSettings& settings, const FileSystem& files) {
  if (settings.timezone.empty()) return TimeZone::LoadLocal(files);
  return TimeZone::Load(files, settings.timezone);
}

Result<std::optional<MaintenanceWindow>> TaskWindow(const TaskConfig& task, const TimeZone& zone,
                                                    const FileSystem& files) {
  if (task.window.empty()) return std::optional<MaintenanceWindow>();
  auto w = MaintenanceWindow::Parse(task.window, zone, [&](std::string_view n) { return TimeZone::Load(files, n); });
  if (!w) return w.error();
  return std::optional<MaintenanceWindow>(std::move(*w));
}

Result<std::unique_ptr<AgentSetup>> LoadAgentSetup(const SetupOptions& options) {
  auto setup = std::make_unique<AgentSetup>();
  setup->config_path = options.config_path;
  if (options.config_text) {
    setup->raw = ParseConfigText(*options.config_text, options.config_path, setup->problems);
  } else {
    auto raw = LoadConfigFiles(options.config_path, options.allow_missing_config, setup->problems);
    if (!raw) return raw.error();
    setup->raw = std::move(*raw);
  }
  setup->settings = ParseAgentSettings(setup->raw, setup->problems);
  RealHost host(setup->settings.root);
  if (setup->settings.node_name.empty()) setup->settings.node_name = ResolveNodeName(host);
  // Probes' answers are kept in the state dir, so a module is probed again
  // only when it (or the runner) changed (probe_cache.h).
  std::string probe_cache;
  if (!options.plugin_probe_exe.empty() && !setup->settings.state_dir.empty())
    probe_cache = setup->settings.state_dir + "/plugin-probes";
  LoadPlugins({setup->settings.plugin_dir, setup->settings.exec_plugin_dir, !setup->settings.allow_unsafe_plugin_owner,
               options.plugin_probe_exe, probe_cache},
              setup->catalog);
  setup->tasks = ResolveTasks(setup->raw, setup->catalog, setup->problems);

  if (options.check_schedules) {
    auto zone = ScheduleTimeZone(setup->settings, host.files());
    if (!zone) setup->problems.push_back({setup->config_path, 0, 0, "agent.timezone", zone.error().message()});
    for (const auto& [name, task] : setup->tasks) {
      if (!task.schedule.empty()) {
        auto s = Schedule::Parse(task.schedule);
        if (!s) setup->problems.push_back(ProblemAtKey(setup->raw, task, "schedule", s.error().message()));
      }
      auto w = TaskWindow(task, zone ? *zone : TimeZone::Utc(), host.files());
      if (!w) setup->problems.push_back(ProblemAtKey(setup->raw, task, "window", w.error().message()));
    }
  }
  // Secrets belong in files only root (and the nodeagent group) can read.
  auto warn_if_readable = [&](const toml::node* n, const std::string& key) {
    if (!n || !n->source().path) return;
    const std::string file = *n->source().path;
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0 && (st.st_mode & S_IROTH))
      setup->warnings.push_back(ProblemAt(n->source(), key,
                                          "is a secret, but " + file + " is readable by every user (chmod o-r " +
                                              file + ")"));
  };
  for (const auto& [name, task] : setup->tasks) {
    const toml::table* table = TaskTable(setup->raw, name);
    for (const std::string& key : task.secret_params)
      warn_if_readable(table ? table->get(key) : nullptr, "tasks." + name + "." + key);
  }
  if (const toml::array* targets = setup->raw.table->get_as<toml::array>("notify")) {
    for (size_t i = 0; i < targets->size(); ++i)
      if (const toml::table* t = targets->get(i)->as_table())
        warn_if_readable(t->get("url"), "notify[" + std::to_string(i) + "].url");
  }
  return setup;
}

}  // namespace nodeagent
