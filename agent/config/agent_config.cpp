#include "config/agent_config.h"
#include "config/listen_address.h"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "host/local_host.h"
#include "nodeagent/host.h"
#include "nodeagent/http.h"

namespace nodeagent {

namespace {

using namespace std::chrono_literals;
constexpr Duration kDays = std::chrono::hours(24);

constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warning", "error", "critical", "off"};

constexpr ParamSpec kAgentKeys[] = {
    {"root", ParamType::kString, "\"/\"",
     "Root prefix under which every host file is read and written; no path or symlink leads above it "
     "(resolved one component at a time). \"/\" on a node; a temp dir in tests."},
    {"state_dir", ParamType::kString, "\"/var/lib/nodeagent\"", "Run history, checkpoints and scheduler state."},
    {"socket", ParamType::kString, "\"/run/nodeagent/agent.sock\"", "Control socket agentctl talks to."},
    {"socket_group", ParamType::kString, "\"nodeagent\"",
     "Group that may read status and history through the socket (mode 0660). Without that group: root only (0600)."},
    {"plugin_dir", ParamType::kString, "\"/usr/lib/nodeagent/plugins\"", "Folder of native plugin modules (*.so)."},
    {"exec_plugin_dir", ParamType::kString, "\"/etc/nodeagent/exec-plugins\"",
     "Folder of exec plugins: NAME.toml manifests next to their executables."},
    {"node_name", ParamType::kString, "",
     "This node's name in the cluster. Default: the kubelet's --hostname-override, else the lowercased hostname."},
    {"log_level", ParamType::kEnum, "\"info\"", "Log level.", kLogLevels},
    {"timezone", ParamType::kString, "", "Time zone of schedules and windows (e.g. \"Europe/Berlin\"). Default: the host's."},
    {"demo", ParamType::kBool, "false", "Force every run to a dry run (safe demo mode)."},
    {.name = "shutdown_grace", .type = ParamType::kDuration, .default_value = "\"20s\"",
     .doc = "On SIGTERM, how long running work gets before it is stopped.",
     .range = DurationRange(1s, 1h)},
    {.name = "kill_grace", .type = ParamType::kDuration, .default_value = "\"10s\"",
     .doc = "Time between SIGTERM and SIGKILL when a run times out.", .range = DurationRange(1s, 10min)},
    {"allow_unsafe_plugin_owner", ParamType::kBool, "false",
     "Load plugin files not owned by root (for tests and development only)."},
};

constexpr ParamSpec kKubernetesKeys[] = {
    {"kubeconfig", ParamType::kString, "",
     "Kubeconfig file. Default: $KUBECONFIG, else /etc/nodeagent/kubeconfig; in a pod, the service account."},
    {"context", ParamType::kString, "", "Kubeconfig context. Default: current-context."},
    {.name = "qps", .type = ParamType::kFloat, .default_value = "50",
     .doc = "Client-side request rate limit (requests per second). Drains run one node at a time (the reboot lock), "
            "so this bounds one node's burst of evictions, not the cluster's load.",
     .range = FloatRange(0.1, 10'000)},
    {.name = "burst", .type = ParamType::kInt, .default_value = "100",
     .doc = "Requests allowed at once above qps (a 100-pod drain fits in one burst).", .range = IntRange(1, 10'000)},
    {.name = "request_timeout", .type = ParamType::kDuration, .default_value = "\"30s\"",
     .doc = "Timeout of one API request.", .range = DurationRange(1s, 10min)},
};

constexpr ParamSpec kHistoryKeys[] = {
    {.name = "max_runs", .type = ParamType::kInt, .default_value = "1000",
     .doc = "Runs kept in the history (oldest removed first).", .range = IntRange(1, 100'000)},
    {.name = "max_age", .type = ParamType::kDuration, .default_value = "\"30d\"",
     .doc = "Runs older than this are removed.", .range = DurationRange(1h, kDays * 3650)},
};

constexpr ParamSpec kAuditKeys[] = {
    {.name = "max_file_mib", .type = ParamType::kInt, .default_value = "8",
     .doc = "The audit trail (<state_dir>/audit/audit.jsonl) is rotated before a line would take it past this "
            "many MiB.",
     .range = IntRange(1, 1024)},
    {.name = "max_files", .type = ParamType::kInt, .default_value = "5",
     .doc = "Files of the audit trail kept, the current one included (audit.jsonl, .1, ...); the oldest goes.",
     .range = IntRange(1, 100)},
};

constexpr ParamSpec kMetricsKeys[] = {
    {"textfile", ParamType::kString, "\"/var/lib/node_exporter/textfile_collector/nodeagent.prom\"",
     "Prometheus metrics of the runs, written atomically at start and after every run for node-exporter's textfile "
     "collector. The default is written only when its folder exists; a path set here gets its folder created. "
     "\"\" turns it off."},
    {"listen", ParamType::kString, "",
     "Also serve the metrics over HTTP (GET /metrics) on this address: \"PORT\" (loopback, 127.0.0.1), "
     "\"IPv4:PORT\" or \"[IPv6]:PORT\" (\"0.0.0.0:9779\" for every interface, only when written so). Off by default. "
     "The daemon wakes only when scraped; an address it cannot bind stops it at start. Changes take effect at the "
     "next restart."},
};

constexpr ParamSpec kNotifyKeys[] = {
    {.name = "url", .type = ParamType::kString, .default_value = "",
     .doc = "Webhook the messages are POSTed to (http:// or https://). A secret: its path usually holds the token, "
            "so logs, errors and `config show` show only its scheme, host and port.",
     .required = true, .secret = true},
    {"name", ParamType::kString, "", "Name of the target in logs. Default: notify[N], N counting from 0."},
    {"format", ParamType::kEnum, "\"json\"",
     "Body: json (source, event, node, run_id, action, task, message, time), slack ({\"text\"}, also Mattermost "
     "and Rocket.Chat), teams (a message with an Adaptive Card, for Teams Workflows and incoming webhooks).",
     kNotifyFormatNames},
    {"events", ParamType::kStringList, "[]",
     "Events this target gets (\"drain\", \"reboot\", \"uncordon\", \"failure\", ...; an action's README lists "
     "its own). Empty or \"*\": all. \"failure\" also comes from the core for any run that failed."},
    {.name = "timeout", .type = ParamType::kDuration, .default_value = "\"5s\"",
     .doc = "Time one attempt may take; an action that notifies waits at most this long for the first attempt.",
     .range = DurationRange(100ms, 60s)},
    {.name = "retries", .type = ParamType::kInt, .default_value = "3",
     .doc = "Attempts after a failed first one, 1s, 2s, 4s, ... apart (at most 30s). What is still unsent when the "
            "run ends (after up to 20s more) is counted in nodeagent_notifications_failed_total.",
     .range = IntRange(0, 10)},
};

constexpr ParamSpec kTaskKeys[] = {
    {"action", ParamType::kString, "", "Action this task runs (see `agentctl list`).", {}, true},
    {"schedule", ParamType::kString, "",
     "When to run: cron (\"0 3 * * *\", names, ranges, steps, lists), @hourly/@daily/@weekly/@monthly/@reboot, or "
     "\"every 6h\". Empty: on demand only."},
    {.name = "jitter", .type = ParamType::kDuration, .default_value = "\"0s\"",
     .doc = "Random delay up to this, spread per node, added to each due time.",
     .range = DurationRange(0s, kDays * 7)},
    {"window", ParamType::kString, "",
     "Maintenance window the task may only start in: \"Mon-Fri 22:00-04:00 Europe/Berlin\", \"Sat,Sun 02:00-06:00\"."},
    {.name = "timeout", .type = ParamType::kDuration, .default_value = "\"1h\"",
     .doc = "A run still going after this is killed (its whole process group).",
     .range = DurationRange(1s, kDays * 30)},
    {"enabled", ParamType::kBool, "true", "Disabled tasks are not scheduled but can be run by hand."},
    {"catch_up", ParamType::kBool, "false", "Run once at start when a scheduled run was missed while the daemon was down."},
    {"dry_run", ParamType::kBool, "false", "Only plan: every run of this task is a dry run."},
};

// Every number in the core's tables has a range (the tests also check defaults).
static_assert(HasValidRanges(kAgentKeys) && HasValidRanges(kKubernetesKeys) && HasValidRanges(kHistoryKeys) &&
              HasValidRanges(kAuditKeys) && HasValidRanges(kTaskKeys) && HasValidRanges(kNotifyKeys));

constexpr std::string_view kTaskCoreNames[] = {"action", "schedule", "jitter", "window", "timeout",
                                               "enabled", "catch_up", "dry_run"};

// Moves (not copies) nodes: toml++ keeps source positions only on moves.
void DeepMerge(toml::table& base, toml::table&& overlay, bool top = false) {
  for (auto&& [k, v] : overlay) {
    toml::node* existing = base.get(k.str());
    if (top && k.str() == "notify" && existing && existing->is_array() && v.is_array()) {
      // [[notify]] in conf.d adds targets to those of agent.toml.
      for (auto&& item : *v.as_array()) existing->as_array()->push_back(std::move(item));
    } else if (existing && existing->is_table() && v.is_table()) {
      DeepMerge(*existing->as_table(), std::move(*v.as_table()));
    } else {
      base.insert_or_assign(k, std::move(v));
    }
  }
}

ConfigProblem ParseErrorProblem(const toml::parse_error& e) {
  return ProblemAt(e.source(), "", std::string(e.description()));
}

const toml::table* SubTable(const toml::table& t, std::string_view key, const std::string& where,
                            std::vector<ConfigProblem>& problems) {
  const toml::node* n = t.get(key);
  if (!n) return nullptr;
  if (!n->is_table()) {
    problems.push_back(ProblemAt(n->source(), where, "expected a table ([" + where + "])"));
    return nullptr;
  }
  return n->as_table();
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

/// The [[notify]] array of tables: each one checked by kNotifyKeys, the URL's
/// scheme too (errors name it redacted).
std::vector<NotifyTarget> ParseNotifyTargets(const toml::table& root, std::vector<ConfigProblem>& problems) {
  std::vector<NotifyTarget> out;
  const toml::node* n = root.get("notify");
  if (!n) return out;
  const toml::array* items = n->as_array();
  if (!items || !items->is_array_of_tables()) {
    problems.push_back(ProblemAt(n->source(), "notify", "expected an array of tables: [[notify]] url = \"...\""));
    return out;
  }
  for (size_t i = 0; i < items->size(); ++i) {
    const toml::table& t = *items->get(i)->as_table();
    std::string where = "notify[" + std::to_string(i) + "]";
    size_t before = problems.size();
    Params p = ResolveParams(kNotifyKeys, t, nullptr, where, {}, problems);
    if (problems.size() != before || !p.Has("url")) continue;
    NotifyTarget target;
    target.url = p.GetString("url");
    if (!target.url.starts_with("http://") && !target.url.starts_with("https://")) {
      problems.push_back(ProblemAt(t.get("url")->source(), where + ".url",
                                   "expected an http:// or https:// URL, got " + RedactUrl(target.url)));
      continue;
    }
    target.name = p.Has("name") && !p.GetString("name").empty() ? p.GetString("name") : where;
    const std::string& format = p.GetString("format");
    for (size_t f = 0; f < std::size(kNotifyFormatNames); ++f)
      if (kNotifyFormatNames[f] == format) target.format = static_cast<NotifyFormat>(f);
    target.events = p.GetList("events");
    target.timeout = p.GetDuration("timeout");
    target.retries = static_cast<int>(p.GetInt("retries"));
    out.push_back(std::move(target));
  }
  return out;
}

}  // namespace

std::span<const ParamSpec> TaskCoreKeys() { return kTaskKeys; }
std::span<const ParamSpec> AgentKeys() { return kAgentKeys; }
std::span<const ParamSpec> KubernetesKeys() { return kKubernetesKeys; }
std::span<const ParamSpec> HistoryKeys() { return kHistoryKeys; }
std::span<const ParamSpec> AuditKeys() { return kAuditKeys; }
std::span<const ParamSpec> MetricsKeys() { return kMetricsKeys; }
std::span<const ParamSpec> NotifyKeys() { return kNotifyKeys; }

RawConfig ParseConfigText(const std::string& text, const std::string& name, std::vector<ConfigProblem>& problems) {
  auto table = std::make_shared<toml::table>();
  RawConfig raw;
  raw.files.push_back(name);
  try {
    *table = toml::parse(text, std::string_view{name});
  } catch (const toml::parse_error& e) {
    problems.push_back(ParseErrorProblem(e));
  }
  raw.table = table.get();
  raw.table_holder = table;
  return raw;
}

Result<RawConfig> LoadConfigFiles(const std::string& path, bool allow_missing, std::vector<ConfigProblem>& problems) {
  namespace fs = std::filesystem;
  auto merged = std::make_shared<toml::table>();
  RawConfig raw;
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::exists(path, ec)) {
    files.push_back(path);
  } else if (!allow_missing) {
    return NotFound("config file " + path + " does not exist (use --config FILE)");
  }
  fs::path confd = fs::path(path).parent_path() / "conf.d";
  if (fs::is_directory(confd, ec)) {
    std::vector<std::string> extra;
    for (const auto& e : fs::directory_iterator(confd, ec)) {
      if (e.path().extension() == ".toml" && e.is_regular_file(ec)) extra.push_back(e.path().string());
    }
    std::sort(extra.begin(), extra.end());
    files.insert(files.end(), extra.begin(), extra.end());
  }
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      problems.push_back({f, 0, 0, "", "cannot read file"});
      continue;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    try {
      toml::table t = toml::parse(ss.str(), std::string_view{f});
      DeepMerge(*merged, std::move(t), true);
    } catch (const toml::parse_error& e) {
      problems.push_back(ParseErrorProblem(e));
    }
  }
  raw.files = files;
  raw.table = merged.get();
  raw.table_holder = merged;
  return raw;
}

AgentSettings ParseAgentSettings(const RawConfig& raw, std::vector<ConfigProblem>& problems) {
  AgentSettings s;
  const toml::table& root = *raw.table;
  static const std::string_view kTop[] = {"agent", "kubernetes", "history", "audit", "metrics", "notify", "tasks"};
  std::vector<std::string> top_names(std::begin(kTop), std::end(kTop));
  for (auto&& [k, v] : root) {
    if (std::find(std::begin(kTop), std::end(kTop), k.str()) == std::end(kTop)) {
      std::string hint = Suggest(k.str(), top_names);
      problems.push_back(ProblemAt(k.source(), std::string(k.str()),
                                   "unknown section; " +
                                       (hint.empty() ? "accepted: [agent] [kubernetes] [history] [audit] [metrics] [[notify]] [tasks.NAME]" : hint)));
    }
  }
  toml::table empty;
  const toml::table* agent = SubTable(root, "agent", "agent", problems);
  Params a = ResolveParams(kAgentKeys, agent ? *agent : empty, nullptr, "agent", {}, problems);
  auto str = [&](const char* k, std::string& out) {
    if (a.Has(k)) out = a.GetString(k);
  };
  str("root", s.root);
  str("state_dir", s.state_dir);
  str("socket", s.socket);
  str("socket_group", s.socket_group);
  str("plugin_dir", s.plugin_dir);
  str("exec_plugin_dir", s.exec_plugin_dir);
  str("node_name", s.node_name);
  str("log_level", s.log_level);
  str("timezone", s.timezone);
  if (a.Has("demo")) s.demo = a.GetBool("demo");
  if (a.Has("shutdown_grace")) s.shutdown_grace = a.GetDuration("shutdown_grace");
  if (a.Has("kill_grace")) s.kill_grace = a.GetDuration("kill_grace");
  if (a.Has("allow_unsafe_plugin_owner")) s.allow_unsafe_plugin_owner = a.GetBool("allow_unsafe_plugin_owner");
  const std::pair<const char*, const std::string*> paths[] = {{"root", &s.root},
                                                               {"state_dir", &s.state_dir},
                                                               {"socket", &s.socket},
                                                               {"plugin_dir", &s.plugin_dir},
                                                               {"exec_plugin_dir", &s.exec_plugin_dir}};
  for (const auto& [key, value] : paths) {
    if (value->empty() || (*value)[0] == '/') continue;
    std::string message = "paths must be absolute, got \"" + *value + "\"";
    const toml::node* n = agent ? agent->get(key) : nullptr;
    problems.push_back(n ? ProblemAt(n->source(), "agent", message) : ConfigProblem{"", 0, 0, "agent", message});
  }

  const toml::table* kube = SubTable(root, "kubernetes", "kubernetes", problems);
  Params k = ResolveParams(kKubernetesKeys, kube ? *kube : empty, nullptr, "kubernetes", {}, problems);
  if (k.Has("kubeconfig")) s.kube.kubeconfig = k.GetString("kubeconfig");
  if (k.Has("context")) s.kube.context = k.GetString("context");
  if (k.Has("qps")) s.kube.qps = k.GetFloat("qps");
  if (k.Has("burst")) s.kube.burst = k.GetInt("burst");
  if (k.Has("request_timeout")) s.kube.request_timeout = k.GetDuration("request_timeout");

  const toml::table* hist = SubTable(root, "history", "history", problems);
  Params h = ResolveParams(kHistoryKeys, hist ? *hist : empty, nullptr, "history", {}, problems);
  if (h.Has("max_runs")) s.history_max_runs = h.GetInt("max_runs");
  if (h.Has("max_age")) s.history_max_age = h.GetDuration("max_age");

  const toml::table* aud = SubTable(root, "audit", "audit", problems);
  Params au = ResolveParams(kAuditKeys, aud ? *aud : empty, nullptr, "audit", {}, problems);
  if (au.Has("max_file_mib")) s.audit_max_file_mib = au.GetInt("max_file_mib");
  if (au.Has("max_files")) s.audit_max_files = au.GetInt("max_files");

  const toml::table* met = SubTable(root, "metrics", "metrics", problems);
  Params m = ResolveParams(kMetricsKeys, met ? *met : empty, nullptr, "metrics", {}, problems);
  if (m.Has("textfile")) s.metrics_textfile = m.GetString("textfile");
  s.metrics_textfile_configured = met && met->contains("textfile");
  if (!s.metrics_textfile.empty() && s.metrics_textfile[0] != '/') {
    const toml::node* n = met ? met->get("textfile") : nullptr;
    std::string message = "paths must be absolute, got \"" + s.metrics_textfile + "\"";
    problems.push_back(n ? ProblemAt(n->source(), "metrics", message) : ConfigProblem{"", 0, 0, "metrics", message});
  }
  if (m.Has("listen")) s.metrics_listen = m.GetString("listen");
  if (!s.metrics_listen.empty()) {
    if (auto a = ParseListenAddress(s.metrics_listen); !a) {
      const toml::node* n = met ? met->get("listen") : nullptr;
      std::string message = "listen: " + a.error().message();
      problems.push_back(n ? ProblemAt(n->source(), "metrics", message) : ConfigProblem{"", 0, 0, "metrics", message});
    }
  }
  s.notify = ParseNotifyTargets(root, problems);
  return s;
}

std::string ResolveNodeName(Host& host) {
  for (const char* f : {"/var/lib/kubelet/kubeadm-flags.env", "/etc/default/kubelet", "/etc/sysconfig/kubelet"}) {
    auto text = host.files().ReadFile(f);
    if (!text) continue;
    const std::string flag = "--hostname-override";
    size_t pos = text->find(flag);
    if (pos == std::string::npos) continue;
    pos += flag.size();
    if (pos < text->size() && ((*text)[pos] == '=' || (*text)[pos] == ' ')) ++pos;
    size_t end = text->find_first_of(" \"'\n\t", pos);
    std::string name = text->substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (!name.empty()) return Lower(name);
  }
  auto hn = host.Hostname();
  if (hn) return Lower(*hn);
  return "localhost";
}

const toml::table* TaskTable(const RawConfig& raw, const std::string& task) {
  const toml::table* tasks = raw.table->get_as<toml::table>("tasks");
  if (!tasks) return nullptr;
  return tasks->get_as<toml::table>(task);
}

Params ResolveRunParams(const ActionInfo& action, const toml::table* task_table, const toml::table* overrides,
                        const std::string& key_prefix, std::vector<ConfigProblem>& problems) {
  toml::table empty;
  size_t before = problems.size();
  Params p = ResolveParams(action.params, task_table ? *task_table : empty, overrides, key_prefix, kTaskCoreNames,
                           problems);
  if (problems.size() == before) {
    Status st = CallValidate(action, p);
    if (!st.ok()) {
      problems.push_back(task_table ? ProblemAt(task_table->source(), key_prefix, st.error().message())
                                    : ConfigProblem{"", 0, 0, key_prefix, st.error().message()});
    }
  }
  return p;
}

std::map<std::string, TaskConfig> ResolveTasks(const RawConfig& raw, const ActionCatalog& catalog,
                                               std::vector<ConfigProblem>& problems) {
  std::map<std::string, TaskConfig> out;
  const toml::table* tasks = SubTable(*raw.table, "tasks", "tasks", problems);
  if (!tasks) return out;
  for (auto&& [name_key, node] : *tasks) {
    std::string name(name_key.str());
    std::string prefix = "tasks." + name;
    const auto& src = node.source();
    if (!node.is_table()) {
      problems.push_back(ProblemAt(src, prefix, "expected a table [tasks." + name + "]"));
      continue;
    }
    const toml::table& t = *node.as_table();
    // Core keys first (ignoring everything that is not one).
    std::vector<std::string> action_keys;
    for (auto&& [k, v] : t)
      if (std::find(std::begin(kTaskCoreNames), std::end(kTaskCoreNames), k.str()) == std::end(kTaskCoreNames))
        action_keys.emplace_back(k.str());
    std::vector<std::string_view> skip(action_keys.begin(), action_keys.end());
    Params c = ResolveParams(kTaskKeys, t, nullptr, prefix, skip, problems);
    TaskConfig task;
    task.name = name;
    task.file = src.path ? *src.path : "";
    task.line = static_cast<int>(src.begin.line);
    if (!c.Has("action")) continue;
    task.action = c.GetString("action");
    if (c.Has("schedule")) task.schedule = c.GetString("schedule");
    if (c.Has("window")) task.window = c.GetString("window");
    task.jitter = c.GetDuration("jitter");
    task.timeout = c.GetDuration("timeout");
    task.enabled = c.GetBool("enabled");
    task.catch_up = c.GetBool("catch_up");
    task.dry_run = c.GetBool("dry_run");
    const ActionInfo* action = catalog.Find(task.action);
    if (!action) {
      std::vector<std::string> names = catalog.Names();
      std::string hint = Suggest(task.action, names);
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      problems.push_back(ProblemAt(t.get("action")->source(), prefix + ".action",
                                   "unknown action \"" + task.action + "\"; " +
                                       (hint.empty() ? "loaded actions: " + (known.empty() ? "(none)" : known) : hint)));
      continue;
    }
    task.params = ResolveRunParams(*action, &t, nullptr, prefix, problems);
    for (const ParamSpec& spec : action->params)
      if (spec.secret) task.secret_params.insert(std::string(spec.name));
    out[name] = std::move(task);
  }
  return out;
}

std::shared_ptr<toml::table> ParseOverrides(const std::vector<std::string>& items,
                                            std::vector<ConfigProblem>& problems) {
  auto out = std::make_shared<toml::table>();
  for (const auto& item : items) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      problems.push_back({"--set", 0, 0, item, "expected KEY=VALUE"});
      continue;
    }
    std::string key = item.substr(0, eq);
    std::string value = item.substr(eq + 1);
    bool parsed = false;
    try {
      toml::table t = toml::parse("v = " + value, std::string_view{"--set"});
      if (const toml::node* v = t.get("v")) {
        out->insert_or_assign(key, *v);
        parsed = true;
      }
    } catch (const toml::parse_error&) {
    }
    if (!parsed) out->insert_or_assign(key, value);
  }
  return out;
}

std::string RenderEffectiveConfig(const AgentSettings& a, const std::map<std::string, TaskConfig>& tasks) {
  std::ostringstream os;
  auto q = [](const std::string& s) { return FormatParamValue(ParamValue(s)); };
  os << "# Effective configuration (defaults filled in)\n[agent]\n";
  os << "root = " << q(a.root) << "\nstate_dir = " << q(a.state_dir) << "\nsocket = " << q(a.socket)
     << "\nsocket_group = " << q(a.socket_group) << "\nplugin_dir = " << q(a.plugin_dir)
     << "\nexec_plugin_dir = " << q(a.exec_plugin_dir) << "\nnode_name = " << q(a.node_name)
     << "\nlog_level = " << q(a.log_level) << "\ntimezone = " << q(a.timezone)
     << "\ndemo = " << (a.demo ? "true" : "false")
     << "\nallow_unsafe_plugin_owner = " << (a.allow_unsafe_plugin_owner ? "true" : "false")
     << "\nshutdown_grace = \"" << FormatDuration(a.shutdown_grace)
     << "\"\nkill_grace = \"" << FormatDuration(a.kill_grace) << "\"\n\n[kubernetes]\nkubeconfig = "
     << q(a.kube.kubeconfig) << "\ncontext = " << q(a.kube.context) << "\nqps = " << a.kube.qps
     << "\nburst = " << a.kube.burst << "\nrequest_timeout = \"" << FormatDuration(a.kube.request_timeout)
     << "\"\n\n[history]\nmax_runs = " << a.history_max_runs << "\nmax_age = \""
     << FormatDuration(a.history_max_age) << "\"\n\n[audit]\nmax_file_mib = " << a.audit_max_file_mib
     << "\nmax_files = " << a.audit_max_files << "\n\n[metrics]\ntextfile = " << q(a.metrics_textfile)
     << "\nlisten = " << q(a.metrics_listen) << "\n";
  for (const NotifyTarget& t : a.notify) {
    os << "\n[[notify]]\nname = " << q(t.name) << "\nurl = " << q(kRedacted) << "  # " << RedactUrl(t.url)
       << "\nformat = " << q(std::string(NotifyFormatName(t.format))) << "\nevents = [";
    for (size_t i = 0; i < t.events.size(); ++i) os << (i ? ", " : "") << q(t.events[i]);
    os << "]\ntimeout = \"" << FormatDuration(t.timeout) << "\"\nretries = " << t.retries << "\n";
  }
  for (const auto& [name, t] : tasks) {
    os << "\n[tasks." << name << "]\naction = " << q(t.action) << "\nschedule = " << q(t.schedule)
       << "\njitter = \"" << FormatDuration(t.jitter) << "\"\nwindow = " << q(t.window) << "\ntimeout = \""
       << FormatDuration(t.timeout) << "\"\nenabled = " << (t.enabled ? "true" : "false")
       << "\ncatch_up = " << (t.catch_up ? "true" : "false") << "\ndry_run = " << (t.dry_run ? "true" : "false")
       << "\n";
    for (const auto& [k, v] : t.params.values())
      os << k << " = " << (t.secret_params.count(k) && v != ParamValue(std::string()) ? q(kRedacted) : FormatParamValue(v))
         << "\n";
  }
  return os.str();
}

}  // namespace nodeagent
