#include "ctl/output.h"

#include <ctime>
#include <sstream>

namespace nodeagent {

using json = nlohmann::json;

std::string FormatTime(int64_t ms) {
  if (ms <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm;
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string FormatDurationMs(int64_t ms) {
  if (ms < 1000) return std::to_string(ms) + "ms";
  if (ms < 60'000) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000);
    return buf;
  }
  int64_t s = ms / 1000;
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h" + std::to_string((s % 3600) / 60) + "m";
  return std::to_string(s / 86400) + "d" + std::to_string((s % 86400) / 3600) + "h";
}

std::string FormatAge(int64_t ms, int64_t now_ms) {
  if (ms <= 0) return "-";
  int64_t d = now_ms - ms;
  return d >= 0 ? FormatDurationMs(d) + " ago" : "in " + FormatDurationMs(-d);
}

std::string FormatBytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

namespace {

// Findings the way kubeadm prints its preflight results, which operators
// know: "[ERROR Swap]: swap is on", "[WARNING pod/default/web]: ...". They
// come before the changes: what is wrong, then what is (or would be) done.
void RenderFindings(std::ostream& os, const json& findings) {
  for (const auto& f : findings) {
    std::string severity = f.value("severity", "");
    std::string tag = severity == "error" ? "ERROR" : severity == "warning" ? "WARNING" : "INFO";
    std::string subject = f.value("subject", "");
    os << "  [" << tag << (subject.empty() ? "" : " " + subject) << "]: " << f.value("message", "") << "\n";
  }
}

}  // namespace

std::string RenderRun(const json& r, bool with_logs) {
  std::ostringstream os;
  bool planned = r.value("dry_run", false);
  os << r.value("action", "?");
  if (!r.value("task", "").empty()) os << " (task " << r.value("task", "") << ")";
  os << ": " << r.value("status", "?") << (planned ? " [dry run]" : "") << " in "
     << FormatDurationMs(r.value("duration_ms", int64_t{0})) << "  run " << r.value("id", "") << "\n";
  if (!r.value("summary", "").empty()) os << "  " << r.value("summary", "") << "\n";
  RenderFindings(os, r.value("findings", json::array()));
  const json& changes = r.value("changes", json::array());
  if (!changes.empty()) {
    os << (planned ? "  would change:\n" : "  changed:\n");
    size_t shown = 0;
    for (const auto& c : changes) {
      if (++shown > 200 && !with_logs) {
        os << "    ... and " << changes.size() - 200 << " more (-o json for all)\n";
        break;
      }
      os << "    " << c.value("kind", "") << " " << c.value("target", "");
      if (c.value("bytes", int64_t{0}) > 0) os << " (" << FormatBytes(c.value("bytes", int64_t{0})) << ")";
      if (!c.value("description", "").empty()) os << ": " << c.value("description", "");
      os << "\n";
      if (!c.value("diff", "").empty()) {
        std::istringstream d(c.value("diff", ""));
        std::string line;
        while (std::getline(d, line)) os << "      " << line << "\n";
      }
    }
  }
  if (int64_t lines = r.value("list_lines", int64_t{0}); lines > 0) {
    os << "  full list: " << lines << " entries";
    if (int64_t dropped = r.value("list_lines_dropped", int64_t{0}); dropped > 0) os << " (and " << dropped << " not kept)";
    os << " (agentctl logs " << r.value("id", "") << " --all)\n";
  }
  if (with_logs && r.contains("logs")) {
    os << "  log:\n";
    for (const auto& l : r["logs"])
      os << "    " << FormatTime(l.value("t", int64_t{0})) << " " << l.value("level", "") << " " << l.value("msg", "")
         << "\n";
  }
  return os.str();
}

std::string RenderPlan(const json& r) {
  std::ostringstream os;
  const json plan = r.value("plan", json::object());
  os << "Plan for " << r.value("action", "?");
  if (!r.value("task", "").empty()) os << " (task " << r.value("task", "") << ")";
  os << " on " << r.value("node", "?") << ":\n";
  if (!plan.value("summary", "").empty()) os << "  " << plan.value("summary", "") << "\n";
  RenderFindings(os, plan.value("findings", json::array()));
  const json changes = plan.value("changes", json::array());
  if (changes.empty()) os << "  no changes\n";
  else os << "  will change:\n";
  for (const auto& c : changes) {
    os << "    " << c.value("kind", "") << " " << c.value("target", "");
    if (c.value("bytes", int64_t{0}) > 0) os << " (" << FormatBytes(c.value("bytes", int64_t{0})) << ")";
    if (!c.value("description", "").empty()) os << ": " << c.value("description", "");
    os << "\n";
    std::istringstream d(c.value("diff", ""));
    std::string line;
    while (std::getline(d, line)) os << "      " << line << "\n";
  }
  os << "  plan " << plan.value("fingerprint", "") << "\n";
  return os.str();
}

std::string RenderHistory(const json& runs, int64_t now_ms) {
  std::ostringstream os;
  char line[512];
  std::snprintf(line, sizeof line, "%-24s %-20s %-18s %-11s %-10s %-9s %s\n", "RUN", "ACTION", "TASK", "STATUS",
                "STARTED", "DURATION", "SUMMARY");
  os << line;
  for (const auto& r : runs) {
    std::string summary = r.value("summary", "");
    if (summary.size() > 70) summary = summary.substr(0, 67) + "...";
    std::string status = r.value("status", "") + (r.value("dry_run", false) ? "*" : "");
    std::snprintf(line, sizeof line, "%-24s %-20s %-18s %-11s %-10s %-9s %s\n", r.value("id", "").c_str(),
                  r.value("action", "").c_str(), r.value("task", "").empty() ? "-" : r.value("task", "").c_str(),
                  status.c_str(), FormatAge(r.value("started_ms", int64_t{0}), now_ms).c_str(),
                  FormatDurationMs(r.value("duration_ms", int64_t{0})).c_str(), summary.c_str());
    os << line;
  }
  bool any_dry = false;
  for (const auto& r : runs) any_dry = any_dry || r.value("dry_run", false);
  if (runs.empty()) os << "(no runs yet)\n";
  else if (any_dry) os << "(* dry run)\n";
  return os.str();
}

static std::string RenderTasks(const json& tasks, int64_t now_ms) {
  std::ostringstream os;
  char line[512];
  std::snprintf(line, sizeof line, "  %-20s %-20s %-22s %-9s %-14s %s\n", "TASK", "ACTION", "SCHEDULE", "ENABLED",
                "LAST RUN", "NEXT RUN");
  os << line;
  for (const auto& t : tasks) {
    std::string next = t.value("running", false) ? "running now"
                       : t.contains("next_run_ms") ? FormatTime(t["next_run_ms"].get<int64_t>()) + " (" +
                                                         FormatAge(t["next_run_ms"].get<int64_t>(), now_ms) + ")"
                                                   : "-";
    std::string sched = t.value("schedule", "").empty() ? "on demand" : t.value("schedule", "");
    if (!t.value("window", "").empty()) sched += " in " + t.value("window", "");
    std::snprintf(line, sizeof line, "  %-20s %-20s %-22s %-9s %-14s %s\n", t.value("name", "").c_str(),
                  t.value("action", "").c_str(), sched.c_str(),
                  t.value("enabled", true) ? (t.value("dry_run", false) ? "dry-run" : "yes") : "no",
                  FormatAge(t.value("last_run_ms", int64_t{0}), now_ms).c_str(), next.c_str());
    os << line;
  }
  if (tasks.empty()) os << "  (no tasks configured)\n";
  return os.str();
}

namespace {

// Where the config and the plugins were looked for (introspection's
// SourcesJson), one line each: an empty list must say why.
std::string RenderSources(const json& sources, const std::string& indent) {
  std::ostringstream os;
  const json files = sources.value("config_files", json::array());
  if (files.empty()) {
    const json& missing = sources.contains("config_missing") ? sources["config_missing"] : json();
    os << indent << "config: none"
       << (missing.is_string() ? " (" + missing.get<std::string>() + " does not exist): defaults apply"
                               : ": defaults apply")
       << "\n";
  } else {
    os << indent << "config:";
    for (const auto& f : files) os << " " << f.get<std::string>();
    os << "\n";
  }
  for (const auto& d : sources.value("plugin_dirs", json::array())) {
    bool exec = d.value("kind", "") == "exec";
    os << indent << (exec ? "exec plugins: " : "plugins: ") << d.value("dir", "") << ": ";
    if (!d.value("exists", false)) {
      os << "does not exist\n";
      continue;
    }
    const json loaded = d.value("loaded", json::array());
    os << d.value("candidates", 0) << (exec ? " manifest(s)" : " module(s)") << ", " << loaded.size() << " loaded";
    for (size_t i = 0; i < loaded.size(); ++i) os << (i ? ", " : " (") << loaded[i].get<std::string>();
    os << (loaded.empty() ? "" : ")") << "\n";
  }
  return os.str();
}

}  // namespace

std::string RenderStatus(const json& s, int64_t now_ms) {
  std::ostringstream os;
  os << "nodeagent " << s.value("version", "?") << " on node " << s.value("node", "?") << ", pid " << s.value("pid", 0)
     << ", up " << FormatDurationMs(s.value("uptime_s", int64_t{0}) * 1000)
     << (s.value("demo", false) ? "  [DEMO MODE: every run is a dry run]" : "") << "\n";
  if (s.contains("sources")) {
    os << RenderSources(s["sources"], "");
  } else {  // an older daemon
    os << "config: ";
    for (const auto& f : s.value("config_files", json::array())) os << f.get<std::string>() << " ";
    os << "\nplugins: ";
    const json plugins = s.value("plugins", json::object());
    for (const auto& [name, src] : plugins.items()) os << name << " ";
    os << "\n";
  }
  for (const auto& p : s.value("plugin_problems", json::array()))
    os << "  NOT LOADED " << p.value("file", "") << ": " << p.value("reason", "") << "\n";
  const json& running = s.value("running", json::array());
  os << "running: " << (running.empty() ? "nothing" : "") << "\n";
  for (const auto& r : running)
    os << "  " << r.value("run_id", "") << " " << r.value("action", "") << " since "
       << FormatAge(r.value("started_ms", int64_t{0}), now_ms)
       << (r.value("progress", "").empty() ? "" : ": " + r.value("progress", "")) << "\n";
  os << "tasks:\n" << RenderTasks(s.value("tasks", json::array()), now_ms);
  return os.str();
}

std::string RenderList(const json& l, int64_t now_ms) {
  std::ostringstream os;
  os << "ACTIONS\n";
  char line[512];
  for (const auto& a : l.value("actions", json::array())) {
    std::string flags = a.value("disruptive", false) ? "disruptive" : "";
    std::snprintf(line, sizeof line, "  %-20s %-16s %-8s %-11s %s\n", a.value("name", "").c_str(),
                  a.value("plugin", "").c_str(), a.value("maturity", "").c_str(), flags.c_str(),
                  a.value("description", "").c_str());
    os << line;
  }
  if (l.value("actions", json::array()).empty()) os << "  (no actions: no plugin was loaded; see SOURCES)\n";
  os << "TASKS\n" << RenderTasks(l.value("tasks", json::array()), now_ms);
  if (l.contains("sources")) os << "SOURCES\n" << RenderSources(l["sources"], "  ");
  return os.str();
}

std::string RenderAction(const json& a) {
  std::ostringstream os;
  os << a.value("name", "") << " (plugin " << a.value("plugin", "") << ", " << a.value("kind", "") << ", "
     << a.value("maturity", "") << (a.value("disruptive", false) ? ", disruptive" : "") << ")\n  "
     << a.value("description", "") << "\n\nPARAMETERS\n";
  for (const auto& p : a.value("params", json::array())) {
    os << "  " << p.value("name", "") << " (" << p.value("type", "");
    if (p.value("required", false)) os << ", required";
    else if (!p.value("default", "").empty()) os << ", default " << p.value("default", "");
    if (p.contains("min")) os << ", between " << p.value("min", "") << " and " << p.value("max", "");
    if (p.value("secret", false)) os << ", secret: never shown in history or config show";
    os << ")\n";
    if (!p.value("allowed", json::array()).empty()) {
      os << "      one of:";
      for (const auto& v : p["allowed"]) os << " " << v.get<std::string>();
      os << "\n";
    }
    os << "      " << p.value("doc", "") << "\n";
  }
  if (a.value("params", json::array()).empty()) os << "  (none)\n";
  os << "\nKUBERNETES PERMISSIONS\n";
  for (const auto& k : a.value("permissions", json::array())) {
    os << "  ";
    const json verbs = k.value("verbs", json::array());
    for (size_t i = 0; i < verbs.size(); ++i) os << (i ? " " : "") << verbs[i].get<std::string>();
    os << " " << k.value("resource", "");
    if (!k.value("group", "").empty()) os << "." << k.value("group", "");
    std::string scope = k.value("scope", "");
    if (scope == "cluster") os << " (cluster-wide)";
    else if (scope == "namespace") os << " in " << k.value("namespace", "");
    else os << " in the namespace of " << k.value("namespace_param", "") << " (default " << k.value("namespace", "-")
            << ")";
    os << "\n";
    if (!k.value("why", "").empty()) os << "      " << k.value("why", "") << "\n";
  }
  if (a.value("permissions", json::array()).empty()) os << "  (none: it does not use the Kubernetes API)\n";
  if (!a.value("conditions", json::array()).empty()) {
    os << "\nNODE CONDITIONS (set on this Node after each real run)\n";
    for (const auto& c : a["conditions"]) {
      os << "  " << c.value("type", "") << ": True " << c.value("true_reason", "") << ", False "
         << c.value("false_reason", "") << "\n";
      if (!c.value("description", "").empty()) os << "      " << c.value("description", "") << "\n";
    }
  }
  return os.str();
}

std::string RenderClusterView(const nlohmann::json& c) {
  auto str = [](const nlohmann::json& j, const char* k) {
    return j.is_object() && j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
  };
  std::ostringstream os;
  if (!c.is_object() || !c.value("available", false)) {
    os << "cluster: " << str(c, "message") << "\n";
    return os.str();
  }
  os << "cluster (" << str(c, "server") << "):\n";
  if (c["schedulable"].is_boolean()) {
    os << "  node " << str(c, "node") << ": ";
    if (c["schedulable"].get<bool>()) {
      os << "schedulable";
    } else if (str(c, "cordoned_by") == "nodeagent") {
      const auto& r = c["nodeagent_run"];
      os << "cordoned by nodeagent (" << str(r, "action") << " run " << str(r, "run_id") << ", phase "
         << str(r, "phase") << (str(r, "since").empty() ? "" : " since " + str(r, "since")) << ")";
    } else {
      os << "cordoned, not by nodeagent (no nodeagent.io/ annotations)";
    }
    os << "\n";
  }
  if (c.value("conditions", nlohmann::json::array()).empty()) os << "  conditions: none of nodeagent's\n";
  for (const auto& cond : c.value("conditions", nlohmann::json::array()))
    os << "  condition " << str(cond, "type") << "=" << str(cond, "status")
       << (str(cond, "reason").empty() ? "" : " (" + str(cond, "reason") + ")")
       << (str(cond, "message").empty() ? "" : ": " + str(cond, "message")) << "\n";
  for (const auto& l : c.value("reboot_lock", nlohmann::json::array())) {
    os << "  reboot lock " << str(l, "namespace") << "/" << str(l, "name") << ": ";
    if (l["holder"].is_null()) os << "free";
    else os << "held by " << str(l, "holder") << (l.value("ours", false) ? " (this node)" : "")
            << (str(l, "renewed").empty() ? "" : ", renewed " + str(l, "renewed"));
    os << "\n";
  }
  const auto events = c.value("events", nlohmann::json::array());
  os << "  events from nodeagent: " << (events.empty() ? "none" : "") << "\n";
  for (const auto& e : events)
    os << "    " << str(e, "time") << "  " << str(e, "type") << "  " << str(e, "reason") << "  " << str(e, "message")
       << (e.value("count", 1) > 1 ? " (x" + std::to_string(e.value("count", 1)) + ")" : "") << "\n";
  for (const auto& err : c.value("errors", nlohmann::json::array()))
    os << "  cannot read " << (err.is_string() ? err.get<std::string>() : err.dump()) << "\n";
  return os.str();
}

std::string AuditWhat(const json& e) {
  std::string kind = e.value("kind", ""), op = e.value("op", "");
  if (e.value("reported_by", "") == "action") {
    std::string objects;
    for (const auto& o : e.value("objects", json::array())) objects += (objects.empty() ? "" : " ") + o.get<std::string>();
    return op + " " + e.value("target", "") + " [" + objects + "] (reported by the action)";
  }
  if (kind == "command") {
    std::string argv;
    for (const auto& a : e.value("argv", json::array()))
      if (a.is_string()) argv += (argv.empty() ? "" : " ") + a.get<std::string>();
    return argv + (e.contains("exit_code") ? " -> exit " + std::to_string(e.value("exit_code", -1)) : "");
  }
  if (kind == "kube") {
    std::string object = e.value("resource", "");
    if (!e.value("namespace", "").empty()) object += "/" + e.value("namespace", "");
    if (!e.value("name", "").empty()) object += "/" + e.value("name", "");
    if (!e.value("subresource", "").empty()) object += " (" + e.value("subresource", "") + ")";
    if (e.contains("path")) object = e.value("path", "");
    return op + " " + object;
  }
  std::string what = op + " " + e.value("path", "");
  auto short_hash = [](const json& h) { return h.is_string() ? h.get<std::string>().substr(0, 12) : std::string("-"); };
  if (e.contains("sha256_before") || e.contains("sha256_after"))
    what += " sha256 " + short_hash(e.value("sha256_before", json())) + " -> " + short_hash(e.value("sha256_after", json()));
  if (e.contains("mode_after")) what += " mode " + e.value("mode_before", json("-")).dump() + " -> " + e.value("mode_after", "");
  return what;
}

std::string RenderAudit(const json& answer) {
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof line, "%-24s %-24s %-8s %-7s %s\n", "TIME", "RUN", "KIND", "RESULT", "WHAT");
  os << line;
  const json entries = answer.value("entries", json::array());
  for (const auto& e : entries) {
    std::string result = e.value("result", "");
    std::string what = AuditWhat(e);
    if (result == "error") what += ": " + e.value("error", "");
    std::snprintf(line, sizeof line, "%-24s %-24s %-8s %-7s ", e.value("time", "").c_str(), e.value("run", "").c_str(),
                  e.value("kind", "").c_str(), result.c_str());
    os << line << what << "\n";
  }
  if (entries.empty()) os << "(no changes recorded)\n";
  if (answer.value("left_off", 0) > 0)
    os << "(" << answer.value("left_off", 0) << " older entries left out: narrow with --since or --run)\n";
  return os.str();
}

}  // namespace nodeagent
