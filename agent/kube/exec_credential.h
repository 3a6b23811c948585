// Credentials from a kubeconfig exec plugin (client.authentication.k8s.io/v1,
// the mechanism of EKS/GKE/AKS and vault-style helpers). The command runs
// through the CommandRunner seam, its ExecCredential is parsed and cached
// until its expirationTimestamp (read on the Clock seam), and a 401 from the
// API server invalidates the cache so the next request runs the plugin again.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "kube/kubeconfig.h"
#include "nodeagent/host.h"
#include "nodeagent/result.h"

namespace nodeagent::kube {

/// What an exec plugin returned. Token or client cert/key (secrets).
struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<std::chrono::system_clock::time_point> expires;  // none: valid until a 401
};

/// Parses an ExecCredential JSON document. `what` names the plugin in errors.
Result<ExecCredential> ParseExecCredential(const std::string& json_text, const std::string& what);

/// RFC 3339 ("2026-01-02T03:04:05Z", "...05.123+02:00"). nullopt if invalid.
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text);

class ExecCredentialProvider {
 public:
  /// `server`/`ca_pem` are passed to the plugin when provideClusterInfo is set.
  ExecCredentialProvider(ExecConfig config, std::string server, std::string ca_pem,
                         CommandRunner& runner, Clock& clock);

  /// The cached credential while unexpired, else runs the plugin. Errors name
  /// the command and its exit status, never the credential.
  Result<ExecCredential> Get();
  /// Forgets the cached credential (after a 401).
  void Invalidate();
  /// How many times the plugin has been run (for tests and metrics).
  int runs() const;

 private:
  ExecConfig config_;
  std::string server_;
  std::string ca_pem_;
  CommandRunner& runner_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::optional<ExecCredential> cached_;
  int runs_ = 0;
};

}  // namespace nodeagent::kube
