#include "kube/curl_kube_client.h"

#include "kube/resource_requests.h"
#include "kube/retrying_requester.h"
#include "kube/watch_loop.h"

namespace nodeagent::kube {
namespace {

using json = nlohmann::json;

// The KubeClient: the generic Request, and each typed call as the request
// resource_requests builds for it. Owns the config the requester refers to.
class CurlKubeClient final : public KubeClient {
 public:
  CurlKubeClient(KubeConfig config, ServerUrl url, KubeOptions options, CommandRunner& runner, FileSystem& files,
                 Clock& clock, KubeLogger logger)
      : config_(std::move(config)),
        options_(std::move(options)),
        clock_(clock),
        requester_(config_, std::move(url), options_, runner, files, clock, std::move(logger)) {}

  KubeResult<json> Request(const KubeRequest& request) override { return requester_.Call(request); }

  KubeResult<json> GetVersion() override { return Send(requests::GetVersion()); }

  KubeResult<json> GetNode(const std::string& name) override { return Send(requests::GetNode(name)); }
  KubeResult<json> ListNodes(const ListOptions& o) override { return Send(requests::ListNodes(o)); }
  KubeResult<json> PatchNode(const std::string& name, const json& patch, PatchType type) override {
    return Send(requests::PatchNode(name, patch, type));
  }

  KubeResult<json> ListPods(const std::string& ns, const ListOptions& o) override {
    return Send(requests::ListPods(ns, o));
  }
  KubeResult<json> GetPod(const std::string& ns, const std::string& name) override {
    return Send(requests::GetPod(ns, name));
  }
  KubeResult<json> DeletePod(const std::string& ns, const std::string& name, const DeleteOptions& o) override {
    return Send(requests::DeletePod(ns, name, o));
  }
  KubeResult<json> EvictPod(const std::string& ns, const std::string& name, const DeleteOptions& o) override {
    return Send(requests::EvictPod(ns, name, o));
  }

  KubeStatus Watch(const WatchRequest& request, const WatchCallback& callback,
                   const std::atomic<bool>* stop) override {
    return RunWatch(requester_, request, callback, stop);
  }

  KubeResult<json> GetLease(const std::string& ns, const std::string& name) override {
    return Send(requests::GetLease(ns, name));
  }
  KubeResult<json> CreateLease(const std::string& ns, const json& lease) override {
    return Send(requests::CreateLease(ns, lease));
  }
  KubeResult<json> UpdateLease(const std::string& ns, const json& lease) override {
    return Send(requests::UpdateLease(ns, lease));
  }
  KubeResult<json> DeleteLease(const std::string& ns, const std::string& name,
                               const std::string& resource_version) override {
    return Send(requests::DeleteLease(ns, name, resource_version));
  }

  KubeResult<json> CreateEvent(const EventSpec& e) override { return Send(requests::CreateEvent(e, clock_.Now())); }

  KubeResult<json> GetDaemonSet(const std::string& ns, const std::string& name) override {
    return Send(requests::GetDaemonSet(ns, name));
  }
  KubeResult<json> PatchDaemonSet(const std::string& ns, const std::string& name, const json& patch,
                                  PatchType type) override {
    return Send(requests::PatchDaemonSet(ns, name, patch, type));
  }

  KubeResult<json> ListPodDisruptionBudgets(const std::string& ns) override {
    return Send(requests::ListPodDisruptionBudgets(ns));
  }

  KubeResult<AccessDecision> CheckAccess(const ResourceAttributes& a) override {
    auto r = Send(requests::CheckAccess(a));
    if (!r) return KubeResult<AccessDecision>(r.error(), r.detail());
    return requests::AccessDecisionFrom(*r);
  }

 private:
  KubeResult<json> Send(Result<KubeRequest> request) {
    if (!request) return KubeResult<json>(request.error());
    return requester_.Call(*request);
  }

  KubeConfig config_;
  KubeOptions options_;
  Clock& clock_;
  RetryingRequester requester_;
};

}  // namespace

Result<KubeConfig> LoadAgentKubeconfig(const std::string& configured, const std::string& context,
                                       const EnvLookup& env, const FileSystem& files) {
  std::string path = ResolveKubeconfigPath(configured, env);
  bool defaulted = configured.empty() && path == kDefaultKubeconfig;
  if (defaulted && !files.Exists(path) && InClusterAvailable(env, files)) return LoadInClusterConfig(env, files);
  auto c = LoadKubeconfig(path, context, files);
  if (!c && defaulted && c.error().code() == ErrorCode::kNotFound)
    return Error(ErrorCode::kNotFound, c.error().message() +
                                           " (set [kubernetes] kubeconfig or KUBECONFIG, or run in a pod)");
  return c;
}

Result<std::unique_ptr<KubeClient>> MakeKubeClientFromConfig(KubeConfig config, const KubeOptions& options,
                                                             CommandRunner& runner, FileSystem& files,
                                                             Clock& clock, KubeLogger logger) {
  auto url = SplitServer(config.server, config.source);
  if (!url) return url.error();
  if (url->scheme != "https" && url->scheme != "http")
    return InvalidArgument(config.source + ": server \"" + config.server + "\": only http and https are supported");
  if (config.insecure_skip_tls_verify && logger)
    logger(LogLevel::kWarning, config.source + ": cluster " + config.server +
                                   " has insecure-skip-tls-verify: the API server's certificate is NOT verified");
  if (url->scheme == "http" && logger)
    logger(LogLevel::kWarning, config.source + ": server " + config.server + " uses plain http: no TLS at all");
  return std::unique_ptr<KubeClient>(
      new CurlKubeClient(std::move(config), std::move(*url), options, runner, files, clock, std::move(logger)));
}

Result<std::unique_ptr<KubeClient>> MakeKubeClient(const KubeOptions& options, CommandRunner& runner,
                                                   FileSystem& files, Clock& clock, KubeLogger logger) {
  auto config = LoadKubeconfig(options.kubeconfig, options.context, files);
  if (!config) return config.error();
  return MakeKubeClientFromConfig(std::move(*config), options, runner, files, clock, std::move(logger));
}

}  // namespace nodeagent::kube
