#include "runner/client_factories.h"

#include "http/curl_http_client.h"
#include "kube/curl_kube_client.h"

#ifndef NODEAGENT_VERSION
#define NODEAGENT_VERSION "0.0.0"
#endif

namespace nodeagent {

namespace {

KubeFactory MakeKubeFactory(const AgentSettings& settings, Host& host,
                            std::function<void(LogLevel, std::string_view)> log) {
  return [settings, &host, log](const bool* cancelled) -> Result<std::unique_ptr<KubeClient>> {
    kube::KubeOptions o;
    o.kubeconfig = settings.kube.kubeconfig;
    o.context = settings.kube.context;
    o.qps = settings.kube.qps;
    o.burst = static_cast<int>(settings.kube.burst);
    o.user_agent = std::string("nodeagent/") + NODEAGENT_VERSION;
    o.request_timeout = settings.kube.request_timeout;
    o.cancelled = cancelled;
    auto config =
        kube::LoadAgentKubeconfig(settings.kube.kubeconfig, settings.kube.context, kube::ProcessEnv(), host.files());
    if (!config) return config.error();
    return kube::MakeKubeClientFromConfig(std::move(*config), o, host.commands(), host.files(), host.clock(),
                                          [log](LogLevel l, std::string_view m) {
                                            if (log) log(l, m);
                                          });
  };
}

}  // namespace

ClientFactories MakeClientFactories(const AgentSettings& settings, Host& host,
                                    std::function<void(LogLevel, std::string_view)> log) {
  ClientFactories clients;
  clients.kube = MakeKubeFactory(settings, host, std::move(log));
  clients.http = []() -> Result<std::unique_ptr<HttpClient>> {
    return MakeCurlHttpClient({std::string("nodeagent/") + NODEAGENT_VERSION});
  };
  return clients;
}

}  // namespace nodeagent
