// What the Kubernetes client authenticates with on each attempt. A kubeconfig
// gives one of: a client certificate, a static token, a token file (re-read
// every time, so a rotated projected service-account token takes effect at
// once), or an exec credential plugin (cached until it expires, run again
// after a 401). Everything here is a secret: it goes into request headers and
// TLS settings only, never into a log or a message.
#pragma once

#include <optional>
#include <string>

#include "kube/exec_credential.h"
#include "kube/kubeconfig.h"
#include "nodeagent/host.h"

namespace nodeagent::kube {

struct Credentials {
  std::string bearer;    // "" for none
  std::string cert_pem;  // "" for none
  std::string key_pem;
};

class CredentialSource {
 public:
  /// `config`, `runner`, `files` and `clock` must outlive the source.
  CredentialSource(const KubeConfig& config, CommandRunner& runner, FileSystem& files, Clock& clock);

  /// The credentials for the next attempt. An Error naming the kubeconfig
  /// when the token file cannot be read or the exec plugin fails.
  Result<Credentials> Current();

  /// True when a 401 may be cured by asking again (an exec plugin).
  bool CanRefresh() const { return exec_.has_value(); }
  /// Forgets the exec plugin's cached credential.
  void Invalidate();

 private:
  const KubeConfig& config_;
  FileSystem& files_;
  std::optional<ExecCredentialProvider> exec_;
};

}  // namespace nodeagent::kube
