#include "sim_action_context.h"

#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

#include <unistd.h>

#include "kube/curl_kube_client.h"
#include "node_status/node_event_recorder.h"
#include "state/run_record.h"  // LogLevelName

namespace nodeagent::fleet {

void LogLine(const std::string& node, LogLevel level, std::string_view message) {
  // One write per line, so the lines of many nodes on one pipe do not mix.
  std::string line = node + " " + LogLevelName(level) + " " + std::string(message) + "\n";
  (void)!::write(2, line.data(), line.size());
}

SimRebootCommandRunner::SimRebootCommandRunner(std::string node, std::vector<std::string> reboot_command,
                                               const bool* cancelled)
    : node_(std::move(node)), reboot_command_(std::move(reboot_command)), real_(std::chrono::seconds(2), cancelled) {}

Result<CommandResult> SimRebootCommandRunner::Run(const CommandSpec& spec) {
  if (!reboot_command_.empty() && spec.argv == reboot_command_) {
    std::string line = "REBOOT " + node_ + "\n";
    (void)!::write(1, line.data(), line.size());
    // The machine goes down: nothing after this point runs. The harness kills us.
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  return real_.Run(spec);
}

NodeRunFile::NodeRunFile(const std::string& state_dir) : files_(state_dir) {}

nlohmann::json NodeRunFile::Load() const {
  auto text = files_.ReadFile("/run.json");
  if (!text) return nullptr;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return nullptr;
  return j;
}

Status NodeRunFile::Save(const nlohmann::json& run) {
  return files_.WriteFileAtomic("/run.json", run.dump() + "\n", 0600, std::nullopt);
}

Status NodeRunFile::Clear() {
  if (!files_.Exists("/run.json")) return Status::Ok();
  return files_.Remove("/run.json");
}

SimActionContext::SimActionContext(const SimNodeSettings& settings, Params params, std::string run_id,
                                   NodeRunFile& run_file, const bool* cancelled)
    : settings_(settings), params_(std::move(params)), run_id_(std::move(run_id)), run_file_(run_file),
      cancelled_(cancelled), root_files_(settings.root), machine_files_("/"),
      commands_(settings.node, params_.Has("reboot_command") ? params_.GetList("reboot_command") : std::vector<std::string>{},
                cancelled),
      host_(root_files_, commands_, clock_) {}

SimActionContext::~SimActionContext() = default;

void SimActionContext::Log(LogLevel level, std::string_view message) { LogLine(settings_.node, level, message); }

void SimActionContext::Progress(std::string_view message, double fraction) {
  LogLine(settings_.node, LogLevel::kDebug, "progress: " + std::string(message));
}

bool SimActionContext::cancelled() const { return std::atomic_ref<const bool>(*cancelled_).load(); }

Status SimActionContext::SaveCheckpoint(const nlohmann::json& state) {
  record_["run_id"] = run_id_;
  record_["checkpoint"] = state;
  return run_file_.Save(record_);
}

Result<KubeClient*> SimActionContext::Kube() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!kube_) {
    kube::KubeOptions o;
    o.kubeconfig = settings_.kubeconfig;
    o.qps = settings_.qps;
    o.burst = settings_.burst;
    o.user_agent = settings_.user_agent;
    o.cancelled = cancelled_;
    auto client = kube::MakeKubeClient(o, commands_, machine_files_, clock_, [this](LogLevel l, std::string_view m) {
      LogLine(settings_.node, l, "kube: " + std::string(m));
    });
    if (!client) return client.error();
    kube_ = std::move(*client);
  }
  return kube_.get();
}

Result<HttpClient*> SimActionContext::Http() {
  return Error(ErrorCode::kUnavailable, "no HTTP client in the fleet simulation (no webhooks, no Prometheus)");
}

void SimActionContext::Event(EventType type, std::string_view reason, std::string_view message) {
  Log(type == EventType::kWarning ? LogLevel::kWarning : LogLevel::kInfo,
      "event " + std::string(reason) + ": " + std::string(message));
  auto kube = Kube();
  if (!kube) return;
  // The core's recorder, as the worker's NodeReporter uses it; best effort.
  NodeEventRecorder recorder(**kube, clock_, settings_.node);
  auto r = recorder.Record(type, reason, message);
  if (!r) Log(LogLevel::kWarning, "event not posted: " + r.error().message());
}

void SimActionContext::Notify(std::string_view event, std::string_view message) {
  Log(LogLevel::kInfo, "notify " + std::string(event) + ": " + std::string(message) + " (no [[notify]] targets here)");
}

}  // namespace nodeagent::fleet
