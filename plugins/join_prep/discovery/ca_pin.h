// The cluster CA a joining node is told to trust, and kubeadm's pin of it.
// `kubeadm join --discovery-token-ca-cert-hash sha256:<hex>` pins the SHA-256
// of the CA certificate's DER SubjectPublicKeyInfo (kubeadm's pubkeypin
// package); the CA it compares is the one in the cluster-info ConfigMap
// (kube-public), whose kubeconfig carries it as certificate-authority-data.
// These helpers compute that pin, check an operator's pins for form, read
// the CA out of cluster-info and tell which certificate of a served chain
// is a CA, so the discovery check can say before the join whether the pin
// will match and, when it will not, what the actual pin is.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/result.h"

namespace nodeagent::join_prep {

struct CertificateSummary {
  std::string subject;  ///< one line, "CN=kubernetes"
  std::string issuer;
  bool is_ca = false;   ///< basicConstraints CA:TRUE (X509_check_ca)
  std::string pin;      ///< "sha256:<64 lowercase hex>" of the DER SubjectPublicKeyInfo
};

/// Reads one DER certificate. InvalidArgument when it does not parse.
Result<CertificateSummary> SummarizeCertificate(std::string_view der);

/// kubeadm's pin form: "sha256:" (any case) then 64 hex digits (any case).
/// Returns it lowercased; InvalidArgument saying what is wrong otherwise.
Result<std::string> NormalizePin(std::string_view pin);

/// Every CERTIFICATE block of a PEM bundle, as DER (at most 32).
/// InvalidArgument when there is none or one does not parse.
Result<std::vector<std::string>> CertificatesFromPem(std::string_view pem);

/// What a cluster-info ConfigMap (the JSON object the API server returns)
/// says: the server and the CA bundle of its kubeconfig.
struct ClusterInfo {
  std::string server;
  std::vector<std::string> ca_der;
};

/// Reads data.kubeconfig of a cluster-info ConfigMap: the first cluster's
/// `server:` and `certificate-authority-data:` (base64 PEM). The kubeconfig is
/// YAML as kubeadm writes it (one key per line); InvalidArgument naming what
/// is missing or malformed.
Result<ClusterInfo> ParseClusterInfo(std::string_view configmap_json);

/// True when the served chain (leaf first) verifies against `ca_der` as the
/// only trust anchors, ignoring names and validity dates. "" when it does,
/// else OpenSSL's reason.
std::string ChainVerifyProblem(const std::vector<std::string>& ca_der, const std::vector<std::string>& chain_der);

}  // namespace nodeagent::join_prep
