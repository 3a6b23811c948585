// One simulated node of bench/fleet: this process is the node's agent, so
// the harness can kill -9 it for real. It runs reboot-if-required the way
// the daemon's worker does (agent/runner/run_executor.cpp): an unfinished run
// left by a previous process (a reboot, a kill) is resumed from its
// checkpoint first, as the daemon does at start; then, at the start time the
// driver gave (the maintenance window's start plus the scheduler's jitter for
// this node), MakePlan and Apply of the real action code
// (plugins/drain_and_reboot), unless this process finished a resumed run and
// the reboot sentinel is gone (the task already ran in this boot).
//
//   fleet_node CONFIG.json
//     CONFIG: {"node", "kubeconfig", "root", "state_dir", "params": {...},
//              "start_at_ms", "version"}; params as in a [tasks.X] table
//              (durations as strings "25s", lists as arrays).
//   fleet_node --jitter TASK NODE DUE_MS MAX_MS
//     prints the scheduler's jitter (agent/scheduler/jitter.h) in ms; NODE "-"
//     reads node names from stdin and prints "NODE MS" per line.
//
// stdout (one line each, for the driver): "RUN <node> <epoch ms>" when a run
// starts, "RESUMED <node> <status> <summary>", "REBOOT <node>" (then blocks),
// "DONE <node> <status> <summary>". Logs go to stderr, one line each, node first.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "config/param_validation.h"
#include "drain_actions.h"
#include "scheduler/jitter.h"
#include "sim_action_context.h"

#ifndef NODEAGENT_VERSION
#define NODEAGENT_VERSION "0.0.0"
#endif

namespace nodeagent::fleet {
namespace {

bool g_cancelled = false;

void OnTerm(int) { std::atomic_ref<bool>(g_cancelled).store(true); }

constexpr std::string_view kAction = "reboot-if-required";

/// One TOML value from JSON, as a [tasks.X] table would hold it.
std::unique_ptr<toml::node> TomlFromJson(const nlohmann::json& v) {
  if (v.is_boolean()) return std::make_unique<toml::value<bool>>(v.get<bool>());
  if (v.is_number_integer()) return std::make_unique<toml::value<int64_t>>(v.get<int64_t>());
  if (v.is_number()) return std::make_unique<toml::value<double>>(v.get<double>());
  if (v.is_string()) return std::make_unique<toml::value<std::string>>(v.get<std::string>());
  if (v.is_array()) {
    auto a = std::make_unique<toml::array>();
    for (const auto& item : v) {
      auto n = TomlFromJson(item);
      if (n) a->push_back(std::move(*n));
    }
    return a;
  }
  if (v.is_object()) {
    auto t = std::make_unique<toml::table>();
    for (const auto& [k, item] : v.items()) {
      auto n = TomlFromJson(item);
      if (n) t->insert_or_assign(k, std::move(*n));
    }
    return t;
  }
  return nullptr;
}

/// The task's parameters as the daemon resolves them: the table's values
/// over the action's defaults, each checked against its row, then validate().
Result<Params> ResolveTaskParams(const ActionSpec& spec, const nlohmann::json& given) {
  toml::table table;
  for (const auto& [k, v] : given.items()) {
    auto n = TomlFromJson(v);
    if (n) table.insert_or_assign(k, std::move(*n));
  }
  std::vector<ConfigProblem> problems;
  Params p = ResolveParams(spec.params, table, nullptr, "tasks.reboot", {}, problems);
  if (!problems.empty()) return InvalidArgument(ProblemsText(problems));
  if (spec.validate) {
    if (Status st = spec.validate(p); !st.ok()) return st.error();
  }
  return p;
}

const ActionSpec* FindAction() {
  for (const ActionSpec& s : drain::DrainActionSpecs())
    if (s.name == kAction) return &s;
  return nullptr;
}

std::string OneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

void Say(const std::string& line) {
  std::string l = line + "\n";
  (void)!::write(1, l.data(), l.size());
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int JitterMode(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: fleet_node --jitter TASK NODE|- DUE_MS MAX_MS\n";
    return 2;
  }
  std::string task = argv[2], node = argv[3];
  TimePoint due{std::chrono::milliseconds(std::stoll(argv[4]))};
  std::chrono::milliseconds max{std::stoll(argv[5])};
  if (node != "-") {
    std::cout << Jitter(task, node, due, max).count() << "\n";
    return 0;
  }
  std::string name;
  while (std::getline(std::cin, name))
    if (!name.empty()) std::cout << name << " " << Jitter(task, name, due, max).count() << "\n";
  return 0;
}

/// The daemon resumes an interrupted run at most 3 times, then records it interrupted.
constexpr int kMaxResumes = 3;

struct NodeAgent {
  SimNodeSettings settings;
  const ActionSpec* spec;
  NodeRunFile run_file;

  /// The DONE line's status and summary of the run ResumeUnfinished() resumed.
  std::string resumed_status, resumed_summary;

  /// Resumes the unfinished run, if any. True when one was resumed to its end.
  bool ResumeUnfinished() {
    nlohmann::json rec = run_file.Load();
    if (!rec.is_object() || !rec.contains("checkpoint")) return false;
    int resumes = rec.value("resumes", 0) + 1;
    std::string id = rec.value("run_id", "");
    if (resumes > kMaxResumes) {
      LogLine(settings.node, LogLevel::kError, "run " + id + " interrupted: resumed " +
                                                   std::to_string(kMaxResumes) + " times already");
      (void)run_file.Clear();
      resumed_status = "interrupted";
      resumed_summary = "resumed " + std::to_string(kMaxResumes) + " times already";
      Say("RESUMED " + settings.node + " " + resumed_status + " " + resumed_summary);
      return true;
    }
    rec["resumes"] = resumes;
    if (Status st = run_file.Save(rec); !st.ok())
      LogLine(settings.node, LogLevel::kWarning, "cannot count the resume: " + st.error().message());
    auto params = ResolveTaskParams(*spec, rec.value("params", nlohmann::json::object()));
    if (!params) {
      LogLine(settings.node, LogLevel::kError, "cannot resume " + id + ": " + params.error().message());
      (void)run_file.Clear();
      return false;
    }
    SimActionContext ctx(settings, *params, id, run_file, &g_cancelled);
    ctx.run_record() = rec;
    ctx.Log(LogLevel::kInfo, "resuming run " + id + " from its checkpoint");
    auto action = spec->create();
    auto outcome = action->Resume(ctx, rec["checkpoint"]);
    std::string status = outcome ? RunStatusName(outcome->status) : "failed";
    std::string summary = outcome ? outcome->summary : "resume failed: " + outcome.error().message();
    if (!outcome || outcome->status != RunStatus::kRunning) (void)run_file.Clear();
    resumed_status = status;
    resumed_summary = OneLine(summary);
    Say("RESUMED " + settings.node + " " + status + " " + resumed_summary);
    return true;
  }

  /// MakePlan then Apply, as the worker does for a due task. Returns the DONE line's status.
  void RunTask(const nlohmann::json& given_params) {
    auto params = ResolveTaskParams(*spec, given_params);
    if (!params) {
      Say("DONE " + settings.node + " failed " + OneLine(params.error().message()));
      return;
    }
    std::string id = settings.node + "-" + std::to_string(NowMs());
    Say("RUN " + settings.node + " " + std::to_string(NowMs()));
    SimActionContext ctx(settings, *params, id, run_file, &g_cancelled);
    ctx.run_record() = {{"run_id", id}, {"params", given_params}, {"resumes", 0}};
    auto action = spec->create();
    auto plan = action->MakePlan(ctx);
    if (!plan) {
      Say("DONE " + settings.node + " failed " + OneLine("planning failed: " + plan.error().message()));
      return;
    }
    auto outcome = action->Apply(ctx, *plan);
    if (!outcome) {
      (void)run_file.Clear();
      Say("DONE " + settings.node + " failed " + OneLine(outcome.error().message()));
      return;
    }
    if (outcome->status != RunStatus::kRunning) (void)run_file.Clear();
    Say("DONE " + settings.node + " " + RunStatusName(outcome->status) + " " + OneLine(outcome->summary));
  }
};

int NodeMode(const std::string& config_path) {
  std::ifstream in(config_path);
  auto cfg = nlohmann::json::parse(in, nullptr, false);
  if (cfg.is_discarded()) {
    std::cerr << config_path << ": not JSON\n";
    return 2;
  }
  const ActionSpec* spec = FindAction();
  if (!spec) {
    std::cerr << "no action " << kAction << " in drain_and_reboot\n";
    return 2;
  }
  NodeAgent agent{{}, spec, NodeRunFile(cfg.at("state_dir").get<std::string>())};
  SimNodeSettings& s = agent.settings;
  s.node = cfg.at("node").get<std::string>();
  s.kubeconfig = cfg.at("kubeconfig").get<std::string>();
  s.root = cfg.at("root").get<std::string>();
  s.state_dir = cfg.at("state_dir").get<std::string>();
  s.user_agent = std::string("nodeagent/") + cfg.value("version", std::string(NODEAGENT_VERSION)) +
                 " (fleet; node=" + s.node + ")";
  std::signal(SIGTERM, OnTerm);
  std::signal(SIGINT, OnTerm);

  bool resumed = agent.ResumeUnfinished();
  std::string sentinel = "/var/run/reboot-required";
  nlohmann::json params = cfg.value("params", nlohmann::json::object());
  if (params.contains("sentinel_file")) sentinel = params["sentinel_file"].get<std::string>();
  LocalFileSystem root(s.root);
  if (resumed && !root.Exists(sentinel)) {
    // The task ran in this boot already (the run we resumed); nothing is due.
    Say("DONE " + s.node + " " + agent.resumed_status + " " + agent.resumed_summary);
    return 0;
  }
  int64_t start_at = cfg.value("start_at_ms", int64_t{0});
  SystemClock clock;
  if (int64_t wait = start_at - NowMs(); wait > 0)
    if (!clock.SleepFor(std::chrono::milliseconds(wait), &g_cancelled)) return 1;
  agent.RunTask(params);
  return 0;
}

}  // namespace
}  // namespace nodeagent::fleet

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--jitter") return nodeagent::fleet::JitterMode(argc, argv);
  if (argc != 2) {
    std::cerr << "usage: fleet_node CONFIG.json | fleet_node --jitter TASK NODE|- DUE_MS MAX_MS\n";
    return 2;
  }
  return nodeagent::fleet::NodeMode(argv[1]);
}
