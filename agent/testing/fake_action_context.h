// An ActionContext for plugin unit tests: a host over a TempRoot with a
// recording command runner, a fake clock and a network filled from tables, parameters set directly, and
// every log line, progress message and checkpoint kept for assertions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "host/fake_host.h"
#include "host/fake_network_info.h"
#include "host/local_file_system.h"
#include "host/local_host.h"
#include "nodeagent/action.h"
#include "nodeagent/http.h"

namespace nodeagent {

class FakeActionContext : public ActionContext {
 public:
  FakeActionContext() : files_(root_.path()), host_(files_, commands_, clock_, network_) {}

  // The parts, for arranging a test.
  TempRoot& root() { return root_; }
  FakeCommandRunner& commands() { return commands_; }
  FakeClock& clock() { return clock_; }
  FakeNetworkInfo& network() { return network_; }
  Params& mutable_params() { return params_; }
  void set_dry_run(bool v) { dry_run_ = v; }
  void set_node_name(std::string n) { node_name_ = std::move(n); }
  void set_kube(KubeClient* kube) { kube_ = kube; }
  void set_http(HttpClient* http) { http_ = http; }
  void Cancel() { cancelled_ = true; }

  // What the action did.
  const std::vector<std::string>& logs() const { return logs_; }
  const std::vector<std::string>& progress() const { return progress_; }
  /// What the action appended with AppendListLines (all of it, uncapped).
  const std::string& list() const { return list_; }
  const std::optional<nlohmann::json>& checkpoint() const { return checkpoint_; }
  /// Events as "Normal Reason: message" / "Warning Reason: message".
  const std::vector<std::string>& events() const { return events_; }
  /// Notifications as "event: message".
  const std::vector<std::string>& notifications() const { return notifications_; }

  // ActionContext.
  Host& host() override { return host_; }
  const Params& params() const override { return params_; }
  const std::string& node_name() const override { return node_name_; }
  const std::string& run_id() const override { return run_id_; }
  bool dry_run() const override { return dry_run_; }
  void Log(LogLevel level, std::string_view message) override { logs_.emplace_back(message); }
  void Progress(std::string_view message, double) override { progress_.emplace_back(message); }
  bool cancelled() const override { return cancelled_; }
  const bool* cancel_flag() const override { return &cancelled_; }
  Status SaveCheckpoint(const nlohmann::json& state) override {
    checkpoint_ = state;
    return Status::Ok();
  }
  void Event(EventType type, std::string_view reason, std::string_view message) override {
    events_.push_back(std::string(type == EventType::kWarning ? "Warning " : "Normal ") + std::string(reason) + ": " +
                      std::string(message));
  }
  bool AppendListLines(std::string_view lines) override {
    list_.append(lines);
    return true;
  }
  void Notify(std::string_view event, std::string_view message) override {
    notifications_.push_back(std::string(event) + ": " + std::string(message));
  }
  Result<KubeClient*> Kube() override {
    if (!kube_) return Error(ErrorCode::kUnavailable, "no Kubernetes client in this test");
    return kube_;
  }
  Result<HttpClient*> Http() override {
    if (!http_) return Error(ErrorCode::kUnavailable, "no HTTP client in this test");
    return http_;
  }

 private:
  TempRoot root_;
  LocalFileSystem files_;
  FakeCommandRunner commands_;
  FakeClock clock_;
  FakeNetworkInfo network_;
  LocalHost host_;
  Params params_;
  std::string node_name_ = "node-1";
  std::string run_id_ = "test-run";
  bool dry_run_ = false;
  bool cancelled_ = false;
  KubeClient* kube_ = nullptr;
  HttpClient* http_ = nullptr;
  std::vector<std::string> logs_;
  std::vector<std::string> progress_;
  std::string list_;
  std::optional<nlohmann::json> checkpoint_;
  std::vector<std::string> events_;
  std::vector<std::string> notifications_;
};

}  // namespace nodeagent
