#include "daemon/worker.h"
#include "state/worker_identity.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <sstream>

#include "daemon/worker_protocol.h"
#include "host/local_file_system.h"
#include "host/local_host.h"
#include "loader/plugin_loader.h"
#include "runner/client_factories.h"
#include "runner/run_executor.h"

namespace nodeagent {

namespace {

bool g_cancel = false;

void OnTerm(int) { std::atomic_ref<bool>(g_cancel).store(true); }

/// Streams events as JSON lines on the protocol fd (the original stdout).
class LineWriter : public RunObserver {
 public:
  explicit LineWriter(int fd) : fd_(fd) {}
  void OnLog(const LogLine& line) override { Write({{"type", "log"}, {"line", ToJson(line)}}); }
  void OnProgress(std::string_view message, double fraction) override {
    Write({{"type", "progress"}, {"message", message}, {"fraction", fraction}});
  }
  void Write(const nlohmann::json& j) {
    std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::lock_guard<std::mutex> lock(mu_);
    // A failed write means the daemon is gone; the history still tells.
    (void)WriteAll(fd_, s, "the run's event stream");
  }

 private:
  int fd_;
  std::mutex mu_;
};

}  // namespace

int RunWorkerMain() {
  // Plugin output on stdout must not corrupt the protocol: keep the pipe on
  // its own fd and send stdout to stderr (which the daemon logs).
  int proto_fd = ::dup(STDOUT_FILENO);
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  struct sigaction sa {};
  sa.sa_handler = OnTerm;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::stringstream in;
  in << std::cin.rdbuf();
  auto j = nlohmann::json::parse(in.str(), nullptr, false);
  if (j.is_discarded()) {
    std::cerr << "worker: the request on stdin is not JSON\n";
    return 2;
  }
  WorkerRequest req = WorkerRequestFromJson(j);
  LineWriter out(proto_fd);
  RealHost host(req.settings.root, &g_cancel);  // commands stop when the run is cancelled
  HistoryStore history(req.settings.state_dir);
  RunRecord record = req.record;
  record.worker_pid = ::getpid();  // the request was written before the fork
  if (auto me = ReadWorkerIdentity()) {
    record.worker_start_ticks = me->start_ticks;
    record.worker_kernel_boot_id = me->kernel_boot_id;
  }
  // A run this worker cannot carry out: record why and tell the daemon.
  auto refuse = [&](const std::string& why) {
    record.status = RunStatus::kFailed;
    record.summary = "worker: " + why;
    record.finished_ms = ToMillis(host.clock().Now());
    (void)history.Put(record);  // best effort: the daemon records the answer below too
    out.Write({{"type", "result"}, {"record", ToJson(record, false)}});
    return 1;
  };
  if (req.protocol != kWorkerProtocolVersion)
    return refuse("the daemon speaks worker protocol " + std::to_string(req.protocol) + ", this nodeagent-runner " +
                  std::to_string(kWorkerProtocolVersion) +
                  ": nodeagent was upgraded while running; restart it (systemctl restart nodeagent)");
  // Only the module that provides the action: faster, and no other plugin's
  // code runs in this run's process.
  ActionCatalog catalog;
  bool root_owner = !req.settings.allow_unsafe_plugin_owner;
  Status loaded = req.plugin_file.ends_with(".so")     ? LoadNativePlugin(req.plugin_file, root_owner, catalog)
                  : req.plugin_file.ends_with(".toml") ? LoadExecPlugin(req.plugin_file, root_owner, catalog)
                                                       : InvalidArgument("no plugin file in the request");
  const ActionInfo* action = catalog.Find(req.action);
  if (!action)
    return refuse("action '" + req.action + "' is no longer provided by " + req.plugin_file +
                  (loaded.ok() ? "" : ": " + loaded.error().message()));
  RawConfig raw;
  auto empty = std::make_shared<toml::table>();
  raw.table = empty.get();
  raw.table_holder = empty;
  std::map<std::string, TaskConfig> tasks;
  ClientFactories clients = MakeClientFactories(req.settings, host, [&out](LogLevel l, std::string_view m) {
    out.OnLog({ToMillis(std::chrono::system_clock::now()), l, "kubernetes: " + std::string(m)});
  });
  auto audit = OpenRunAuditLog(req.settings);
  RunExecutor executor(req.settings, raw, tasks, catalog, host, history, clients, audit.get());
  PreparedRun run;
  run.action = action;
  run.task = record.task;
  run.params = ParamsFromWire(req.params_wire);
  run.dry_run = req.dry_run;
  run.record = record;
  RecordParams(*action, run.params, run.record);  // the daemon's copy came without secrets
  RunRecord result = executor.Execute(run, &out, &g_cancel, req.checkpoint);
  out.Write({{"type", "result"}, {"record", ToJson(result, false)}});
  return 0;
}

}  // namespace nodeagent
