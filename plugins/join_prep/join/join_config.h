// The JoinConfiguration document `kubeadm join --config` reads. The join
// passes its secrets (the bootstrap token, a control-plane certificate key)
// to kubeadm in this file and never on the command line, where every user of
// the node could read them in /proc/PID/cmdline. Every value is checked
// against the form kubeadm accepts before it is written and then written as
// a quoted YAML scalar, so no setting (a node name, a CRI socket) can add a
// key of its own; an error about a secret names the setting, never its value.
// The document uses kubeadm.k8s.io/v1beta4 for kubeadm 1.31 and newer and
// v1beta3 for 1.22 to 1.30: the fields written here are the same in both.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "join_options.h"
#include "nodeagent/result.h"

namespace nodeagent::join_prep {

/// What one join needs: JoinOptions' values plus the secrets.
struct JoinSettings {
  /// host:port of the API server ("10.0.0.10:6443", "[fd00::10]:6443", "api.example:6443").
  std::string endpoint;
  /// The bootstrap token ("abcdef.0123456789abcdef"). Secret.
  std::string token;
  /// "sha256:<64 hex>" pins of the cluster CA's public key.
  std::vector<std::string> ca_cert_hashes;
  /// Lets kubeadm trust the CA it discovers without a pin. Only honoured
  /// when ca_cert_hashes is empty; without a pin and without this, invalid.
  bool unsafe_skip_ca_verification = false;
  Role role = Role::kWorker;
  /// kubeadm's certificate key (64 hex) for a control-plane join that
  /// downloads the shared certificates; empty: none. Secret.
  std::string certificate_key;
  /// nodeRegistration.name; empty: kubeadm takes the hostname.
  std::string node_name;
  /// nodeRegistration.criSocket ("unix:///run/containerd/containerd.sock"); empty: kubeadm detects it.
  std::string cri_socket;
  /// nodeRegistration.ignorePreflightErrors: kubeadm's own preflight still
  /// runs; the operator's `ignore` list is passed on so it means the same there.
  std::vector<std::string> ignore_preflight_errors;

  /// The kubeadm program (argv[0], also the plan's "command:" object).
  std::string kubeadm = "kubeadm";
  /// How long `kubeadm join` may run (discovery and the kubelet's TLS
  /// bootstrap each wait up to 5 minutes in kubeadm).
  std::chrono::milliseconds join_timeout{std::chrono::minutes(20)};
  /// A root-owned directory, not writable by others, under which each join
  /// makes its private 0700 directory for the configuration file.
  std::string work_dir_base = "/run/nodeagent/join";
};

/// The configuration schemas kubeadm reads.
enum class KubeadmApi { kV1Beta3, kV1Beta4 };
/// "kubeadm.k8s.io/v1beta4".
const char* KubeadmApiVersion(KubeadmApi api);

/// A kubeadm release as `kubeadm version -o short` prints it ("v1.31.2").
struct KubeadmVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
};
/// Parses "v1.31.2", "v1.30.0-rc.1", "v1.29.3+k3s1" (leading v optional,
/// surrounding space ignored). InvalidArgument quoting the text otherwise.
Result<KubeadmVersion> ParseKubeadmVersion(std::string_view text);
/// v1beta4 from 1.31, v1beta3 from 1.22; InvalidArgument for older kubeadm.
Result<KubeadmApi> KubeadmApiFor(const KubeadmVersion& version);

/// Checks every setting (token format, hashes, endpoint, names); the
/// message names the setting and, for a secret, never its value.
Status ValidateJoinSettings(const JoinSettings& settings);

/// The JoinConfiguration document, or the error ValidateJoinSettings gives.
Result<std::string> JoinConfigurationYaml(const JoinSettings& settings, KubeadmApi api);

/// The CRI socket as kubeadm validates it: a bare path gets "unix://".
std::string CriSocketUrl(std::string_view socket);
/// The ignore list as kubeadm accepts it: "all" alone when it is there in
/// any case (kubeadm refuses "all" beside other names), else the names
/// without case-insensitive repeats, in order.
std::vector<std::string> KubeadmIgnoreList(const std::vector<std::string>& ids);

/// `text` as a double-quoted YAML scalar: '"' and '\' escaped, control
/// bytes as \xNN, so it stays one scalar whatever it holds.
std::string YamlQuote(std::string_view text);

}  // namespace nodeagent::join_prep
