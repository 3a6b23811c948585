#include "daemon/worker_protocol.h"

namespace nodeagent {

namespace {

// The targets travel whole, URL included: the request goes to the worker on
// a pipe and is never logged or stored.
nlohmann::json NotifyToJson(const std::vector<NotifyTarget>& targets) {
  nlohmann::json out = nlohmann::json::array();
  for (const NotifyTarget& t : targets) {
    out.push_back({{"name", t.name},
                   {"url", t.url},
                   {"format", NotifyFormatName(t.format)},
                   {"events", t.events},
                   {"timeout_ms", t.timeout.count()},
                   {"retries", t.retries}});
  }
  return out;
}

std::vector<NotifyTarget> NotifyFromJson(const nlohmann::json& j) {
  std::vector<NotifyTarget> out;
  if (!j.is_array()) return out;
  for (const auto& item : j) {
    NotifyTarget t;
    t.name = item.value("name", "");
    t.url = item.value("url", "");
    std::string format = item.value("format", "json");
    for (size_t f = 0; f < std::size(kNotifyFormatNames); ++f)
      if (kNotifyFormatNames[f] == format) t.format = static_cast<NotifyFormat>(f);
    t.events = item.value("events", std::vector<std::string>{});
    t.timeout = std::chrono::milliseconds(item.value("timeout_ms", t.timeout.count()));
    t.retries = item.value("retries", t.retries);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

nlohmann::json SettingsToJson(const AgentSettings& s) {
  return {{"root", s.root},
          {"notify", NotifyToJson(s.notify)},
          {"state_dir", s.state_dir},
          {"plugin_dir", s.plugin_dir},
          {"exec_plugin_dir", s.exec_plugin_dir},
          {"allow_unsafe_plugin_owner", s.allow_unsafe_plugin_owner},
          {"node_name", s.node_name},
          {"log_level", s.log_level},
          {"demo", s.demo},
          {"history_max_runs", s.history_max_runs},
          {"history_max_age_ms", s.history_max_age.count()},
          {"audit_max_file_mib", s.audit_max_file_mib},
          {"audit_max_files", s.audit_max_files},
          {"kube",
           {{"kubeconfig", s.kube.kubeconfig},
            {"context", s.kube.context},
            {"qps", s.kube.qps},
            {"burst", s.kube.burst},
            {"request_timeout_ms", s.kube.request_timeout.count()}}}};
}

AgentSettings SettingsFromJson(const nlohmann::json& j) {
  AgentSettings s;
  s.root = j.value("root", s.root);
  s.state_dir = j.value("state_dir", s.state_dir);
  s.plugin_dir = j.value("plugin_dir", s.plugin_dir);
  s.exec_plugin_dir = j.value("exec_plugin_dir", s.exec_plugin_dir);
  s.allow_unsafe_plugin_owner = j.value("allow_unsafe_plugin_owner", false);
  s.node_name = j.value("node_name", "");
  s.log_level = j.value("log_level", s.log_level);
  s.demo = j.value("demo", false);
  s.history_max_runs = j.value("history_max_runs", s.history_max_runs);
  s.history_max_age = Duration(j.value("history_max_age_ms", s.history_max_age.count()));
  s.audit_max_file_mib = j.value("audit_max_file_mib", s.audit_max_file_mib);
  s.audit_max_files = j.value("audit_max_files", s.audit_max_files);
  const auto& k = j.value("kube", nlohmann::json::object());
  s.kube.kubeconfig = k.value("kubeconfig", "");
  s.kube.context = k.value("context", "");
  s.kube.qps = k.value("qps", s.kube.qps);
  s.kube.burst = k.value("burst", s.kube.burst);
  s.kube.request_timeout = Duration(k.value("request_timeout_ms", s.kube.request_timeout.count()));
  s.notify = NotifyFromJson(j.value("notify", nlohmann::json::array()));
  return s;
}

nlohmann::json ToJson(const WorkerRequest& r) {
  nlohmann::json j = {{"settings", SettingsToJson(r.settings)},
                      {"protocol", r.protocol},
                      {"action", r.action},
                      {"plugin_file", r.plugin_file},
                      {"params_wire", r.params_wire},
                      {"dry_run", r.dry_run},
                      {"record", ToJson(r.record, false)}};
  if (r.checkpoint) j["checkpoint"] = *r.checkpoint;
  return j;
}

WorkerRequest WorkerRequestFromJson(const nlohmann::json& j) {
  WorkerRequest r;
  r.settings = SettingsFromJson(j.value("settings", nlohmann::json::object()));
  r.protocol = j.value("protocol", 1);  // version 1 did not say
  r.action = j.value("action", "");
  r.plugin_file = j.value("plugin_file", "");
  r.params_wire = j.value("params_wire", nlohmann::json::object());
  r.dry_run = j.value("dry_run", false);
  r.record = RunRecordFromJson(j.value("record", nlohmann::json::object()));
  if (j.contains("checkpoint")) r.checkpoint = j["checkpoint"];
  return r;
}

}  // namespace nodeagent
