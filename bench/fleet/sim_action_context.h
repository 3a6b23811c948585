// The ActionContext of one simulated node in bench/fleet: what the daemon's
// worker gives reboot-if-required (agent/runner/run_executor.cpp's
// RunContext), cut down to what a fleet of processes on one machine can be
// given honestly. The host is the real LocalHost over a per-node root (boot
// id, sentinel), the Kubernetes client the real libcurl one over HTTPS with a
// User-Agent naming the node, Events go through the core's
// NodeEventRecorder, checkpoints to a file in the node's state dir. What is
// simulated is only the reboot: the reboot command prints `REBOOT <node>`
// on stdout and blocks until the harness kills the process, as a real reboot
// ends the run. The runner's plan/apply guards, audit trail, notifier and
// history are not here (the bench measures the drain and the lock, not them).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/local_file_system.h"
#include "host/local_host.h"
#include "host/process_command_runner.h"
#include "host/system_clock.h"
#include "nodeagent/action.h"
#include "nodeagent/kube.h"

namespace nodeagent::fleet {

/// Runs commands for real, except the node's reboot command: that one writes
/// `REBOOT <node>` to stdout, flushes and never returns (the harness SIGKILLs
/// the process, as the machine going down ends the real run).
class SimRebootCommandRunner : public CommandRunner {
 public:
  SimRebootCommandRunner(std::string node, std::vector<std::string> reboot_command, const bool* cancelled);
  Result<CommandResult> Run(const CommandSpec& spec) override;

 private:
  std::string node_;
  std::vector<std::string> reboot_command_;
  ProcessCommandRunner real_;
};

/// Where one node's unfinished run is kept between processes (the daemon's
/// runs/<id>.json + .checkpoint, in one file): written atomically through a
/// LocalFileSystem over the state dir; removed when the run ends.
class NodeRunFile {
 public:
  explicit NodeRunFile(const std::string& state_dir);
  /// The unfinished run ({"run_id", "checkpoint", "resumes", ...}), or null json when none.
  nlohmann::json Load() const;
  Status Save(const nlohmann::json& run);
  Status Clear();

 private:
  LocalFileSystem files_;
};

struct SimNodeSettings {
  std::string node;
  std::string kubeconfig;  // absolute path on this machine
  std::string root;        // the simulated host's root
  std::string state_dir;
  std::string user_agent;  // "nodeagent/<version> (fleet; node=<node>)"
  double qps = 50;         // the shipped [kubernetes] defaults
  int burst = 100;
};

class SimActionContext : public ActionContext {
 public:
  /// `params` are the resolved parameters of the run; `run_file` keeps its checkpoint.
  SimActionContext(const SimNodeSettings& settings, Params params, std::string run_id, NodeRunFile& run_file,
                   const bool* cancelled);
  ~SimActionContext() override;

  Host& host() override { return host_; }
  const Params& params() const override { return params_; }
  const std::string& node_name() const override { return settings_.node; }
  const std::string& run_id() const override { return run_id_; }
  bool dry_run() const override { return false; }
  void Log(LogLevel level, std::string_view message) override;
  void Progress(std::string_view message, double fraction) override;
  bool cancelled() const override;
  const bool* cancel_flag() const override { return cancelled_; }
  /// Replaces the "checkpoint" of the run file (atomically, fsynced).
  Status SaveCheckpoint(const nlohmann::json& state) override;
  Result<KubeClient*> Kube() override;
  Result<HttpClient*> Http() override;
  void Event(EventType type, std::string_view reason, std::string_view message) override;
  void Notify(std::string_view event, std::string_view message) override;

  /// What SaveCheckpoint writes beside the checkpoint (run id, params, resumes).
  nlohmann::json& run_record() { return record_; }

 private:
  const SimNodeSettings& settings_;
  Params params_;
  std::string run_id_;
  NodeRunFile& run_file_;
  const bool* cancelled_;
  nlohmann::json record_ = nlohmann::json::object();
  LocalFileSystem root_files_;     // the node's simulated root
  LocalFileSystem machine_files_;  // "/": where the kubeconfig and its certificates are
  SystemClock clock_;
  SimRebootCommandRunner commands_;
  LocalHost host_;
  std::mutex mu_;
  std::unique_ptr<KubeClient> kube_;
};

/// One line on stderr: "<node> <level> <message>".
void LogLine(const std::string& node, LogLevel level, std::string_view message);

}  // namespace nodeagent::fleet
