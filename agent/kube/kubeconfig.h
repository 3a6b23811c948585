// Where the agent's cluster credentials come from. Reads a kubeconfig file
// (or the in-cluster service account) into one flat KubeConfig: server, TLS
// material as PEM bytes, and exactly one way to authenticate. Everything is
// validated here, so a broken kubeconfig fails at start with an error naming
// the file and the field, not later on the first request. Files are read
// through the FileSystem seam; relative paths are relative to the
// kubeconfig's folder.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/host.h"
#include "nodeagent/result.h"

namespace nodeagent::kube {

/// users[].user.exec: a credential plugin (client.authentication.k8s.io/v1).
struct ExecConfig {
  std::string api_version;
  std::string command;  // absolute when the kubeconfig gave a relative path with a '/'
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  bool provide_cluster_info = false;
};

struct KubeConfig {
  std::string source;  // the kubeconfig path, or "in-cluster config"
  std::string context;
  std::string server;  // "https://host:port", no trailing slash
  std::string ca_pem;  // empty: system trust store
  std::string tls_server_name;
  bool insecure_skip_tls_verify = false;
  std::string client_cert_pem;
  std::string client_key_pem;  // secret
  std::string token;           // secret
  std::string token_file;      // host path, re-read before use
  std::optional<ExecConfig> exec;
};

/// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

/// The agent process's own environment.
EnvLookup ProcessEnv();

inline constexpr const char* kDefaultKubeconfig = "/etc/nodeagent/kubeconfig";
inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Which kubeconfig to use: `configured` (`[kubernetes] kubeconfig`) when set,
/// else the first entry of $KUBECONFIG, else /etc/nodeagent/kubeconfig.
std::string ResolveKubeconfigPath(const std::string& configured, const EnvLookup& env);

/// True when running in a pod: KUBERNETES_SERVICE_HOST set and the service
/// account token present.
bool InClusterAvailable(const EnvLookup& env, const FileSystem& files);

/// Parses kubeconfig text read from `path`, selecting `context` (empty: the
/// current-context). Errors: kInvalidArgument "kubeconfig PATH: FIELD: what".
Result<KubeConfig> ParseKubeconfig(std::string_view text, const std::string& path,
                                   const std::string& context, const FileSystem& files);

/// Reads and parses the file. kNotFound when the file does not exist.
Result<KubeConfig> LoadKubeconfig(const std::string& path, const std::string& context,
                                  const FileSystem& files);

/// The pod's service account: token file (re-read on change), CA, and
/// https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT.
Result<KubeConfig> LoadInClusterConfig(const EnvLookup& env, const FileSystem& files);

/// Standard base64 (padding optional, whitespace ignored). nullopt if invalid.
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace nodeagent::kube
