// join_prep_join_probe: runs the join step (RunKubeadmJoin, then
// WaitNodeReady) on the real host, without the agent around it, so the
// booted-container system test (tests/system/join_prep_join.sh) can drive it
// against a stand-in kubeadm and the test API server until the join action
// exists; then that test switches to `agentctl run join`. The token is read
// from a file (never argv). Log and progress lines go to stderr, the result
// as one JSON document to stdout. Exit 0: joined and Ready; 1: the join or
// the wait failed; 2: bad usage.
//
//   join_prep_join_probe --endpoint 10.0.0.10:6443 --token-file F --ca-cert-hash sha256:... \
//       --node-name n1 [--role worker|control-plane] [--cri-socket S] [--ignore ID]... \
//       [--kubeadm PATH] [--kubeconfig PATH] [--ready-timeout SECONDS] [--join-timeout SECONDS] [--root DIR]
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "host/local_host.h"
#include "join/kubeadm_join.h"
#include "join/node_ready.h"
#include "kube/curl_kube_client.h"
#include "nodeagent/http.h"

namespace nodeagent::join_prep {
namespace {

bool g_cancelled = false;
void OnSignal(int) { g_cancelled = true; }

/// An ActionContext over the real host, printing what a run would log.
class ProbeContext : public ActionContext {
 public:
  ProbeContext(const std::string& root, std::string kubeconfig, std::string node)
      : host_(root, &g_cancelled), kubeconfig_(std::move(kubeconfig)), node_(std::move(node)) {}

  Host& host() override { return host_; }
  const Params& params() const override { return params_; }
  const std::string& node_name() const override { return node_; }
  const std::string& run_id() const override { return run_id_; }
  bool dry_run() const override { return false; }
  void Log(LogLevel level, std::string_view message) override {
    static const char* kNames[] = {"debug", "info", "warning", "error"};
    std::cerr << "[" << kNames[static_cast<int>(level)] << "] " << message << "\n";
  }
  void Progress(std::string_view message, double) override { std::cerr << "[progress] " << message << "\n"; }
  bool cancelled() const override { return g_cancelled; }
  const bool* cancel_flag() const override { return &g_cancelled; }
  Status SaveCheckpoint(const nlohmann::json&) override { return Status::Ok(); }
  /// Made at the first call that finds the kubeconfig; a failure is not kept.
  Result<KubeClient*> Kube() override {
    if (kube_) return kube_.get();
    if (kubeconfig_.empty()) return Error(ErrorCode::kUnavailable, "no --kubeconfig given");
    kube::KubeOptions o;
    o.kubeconfig = kubeconfig_;
    o.user_agent = "nodeagent-join-probe";
    o.cancelled = &g_cancelled;
    auto made = kube::MakeKubeClient(o, host_.commands(), host_.files(), host_.clock(),
                                     [this](LogLevel l, std::string_view m) { Log(l, m); });
    if (!made) return made.error();
    kube_ = std::move(*made);
    return kube_.get();
  }
  Result<HttpClient*> Http() override { return Error(ErrorCode::kUnavailable, "no HTTP client in the probe"); }
  void Event(EventType, std::string_view reason, std::string_view m) override {
    std::fprintf(stderr, "event %.*s: %.*s\n", (int)reason.size(), reason.data(), (int)m.size(), m.data());
  }
  void Notify(std::string_view, std::string_view) override {}  // no targets in the probe

 private:
  RealHost host_;
  Params params_;
  std::string kubeconfig_;
  std::string node_;
  std::string run_id_ = "join-probe";
  std::unique_ptr<KubeClient> kube_;
};

int Usage(const std::string& why) {
  std::cerr << "join_prep_join_probe: " << why
            << "\nusage: join_prep_join_probe --endpoint HOST:PORT --token-file FILE --ca-cert-hash sha256:HEX "
               "--node-name NAME [--role worker|control-plane] [--cri-socket S] [--ignore ID]... [--kubeadm PATH] "
               "[--kubeconfig PATH] [--ready-timeout SECONDS] [--join-timeout SECONDS] [--root DIR]\n";
  return 2;
}

/// Whole seconds from 1 to a day, or -1.
long Seconds(const std::string& text) {
  if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos) return -1;
  long v = std::stol(text);
  return v >= 1 && v <= 86400 ? v : -1;
}

int Main(int argc, char** argv) {
  JoinSettings s;
  std::string token_file, kubeconfig, root = "/";
  long ready_timeout_s = 300;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) return Usage("missing value after " + a);
    const std::string& v = args[++i];
    if (a == "--endpoint") s.endpoint = v;
    else if (a == "--token-file") token_file = v;
    else if (a == "--ca-cert-hash") s.ca_cert_hashes.push_back(v);
    else if (a == "--node-name") s.node_name = v;
    else if (a == "--role") {
      if (v != "worker" && v != "control-plane") return Usage("--role: worker or control-plane");
      s.role = v == "worker" ? Role::kWorker : Role::kControlPlane;
    } else if (a == "--cri-socket") s.cri_socket = v;
    else if (a == "--ignore") s.ignore_preflight_errors.push_back(v);
    else if (a == "--kubeadm") s.kubeadm = v;
    else if (a == "--kubeconfig") kubeconfig = v;
    else if (a == "--ready-timeout" || a == "--join-timeout") {
      long seconds = Seconds(v);
      if (seconds < 0) return Usage(a + ": whole seconds, 1 to 86400");
      if (a == "--ready-timeout") ready_timeout_s = seconds;
      else s.join_timeout = std::chrono::seconds(seconds);
    }
    else if (a == "--root") root = v;
    else return Usage("unknown option " + a);
  }
  if (s.endpoint.empty() || token_file.empty() || s.node_name.empty())
    return Usage("--endpoint, --token-file and --node-name are needed");

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  ProbeContext ctx(root, kubeconfig, s.node_name);
  // The token file is read through the seam (bounded), its last newline dropped.
  auto token = ctx.host().files().ReadFile(token_file);
  if (!token) {
    std::cerr << "join_prep_join_probe: " << token.error().ToString() << "\n";
    return 2;
  }
  s.token = *token;
  while (!s.token.empty() && (s.token.back() == '\n' || s.token.back() == '\r')) s.token.pop_back();

  nlohmann::json out = {{"change", {{"target", KubeadmJoinChange(s).target}, {"objects", KubeadmJoinChange(s).objects}}}};
  auto joined = RunKubeadmJoin(ctx, s);
  if (!joined) {
    out["error"] = joined.error().ToString();
    std::cout << out.dump(2) << "\n";
    return 1;
  }
  out["join"] = joined->ToJson();
  if (!joined->joined) {
    std::cout << out.dump(2) << "\n";
    return 1;
  }
  auto ready = WaitNodeReady(ctx, s.node_name, std::chrono::seconds(ready_timeout_s), std::chrono::seconds(1));
  if (!ready) {
    out["ready_error"] = ready.error().ToString();
    std::cout << out.dump(2) << "\n";
    return 1;
  }
  out["ready"] = ready->ToJson();
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace
}  // namespace nodeagent::join_prep

int main(int argc, char** argv) { return nodeagent::join_prep::Main(argc, argv); }
