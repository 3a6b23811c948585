#include "discovery/ca_pin.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>

#include <cctype>
#include <memory>

#include <nlohmann/json.hpp>

namespace nodeagent::join_prep {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr ParseDer(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  return X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

std::string NameLine(const X509_NAME* name) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
  return out;
}

std::string SpkiPin(X509* cert) {
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), nullptr);
  if (len <= 0) return "";
  std::string spki(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(spki.data());
  i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &p);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_Digest(spki.data(), spki.size(), digest, &digest_len, EVP_sha256(), nullptr);
  return "sha256:" + Hex(digest, digest_len);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

/// The value of the first "key: value" line whose key (after indentation and
/// an optional "- ") is `key`, unquoted; "" when absent.
std::string YamlScalar(std::string_view yaml, std::string_view key) {
  size_t pos = 0;
  for (int lines = 0; pos < yaml.size() && lines < 10000; ++lines) {
    size_t eol = yaml.find('\n', pos);
    std::string_view line = yaml.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? yaml.size() : eol + 1;
    line = Trim(line);
    if (line.substr(0, 2) == "- ") line = Trim(line.substr(2));
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      std::string_view v = Trim(line.substr(key.size() + 1));
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
        v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
  }
  return "";
}

Result<std::string> Base64Decode(std::string_view text) {
  std::string clean;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
  if (clean.empty() || clean.size() % 4 != 0) return InvalidArgument("is not base64 (length " + std::to_string(clean.size()) + ")");
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
  if (n < 0) return InvalidArgument("is not base64");
  size_t pad = clean.size() >= 2 && clean[clean.size() - 1] == '=' ? (clean[clean.size() - 2] == '=' ? 2 : 1) : 0;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

}  // namespace

Result<CertificateSummary> SummarizeCertificate(std::string_view der) {
  X509Ptr cert = ParseDer(der);
  if (!cert) return InvalidArgument("a certificate that does not parse as DER X.509");
  CertificateSummary s;
  s.subject = NameLine(X509_get_subject_name(cert.get()));
  s.issuer = NameLine(X509_get_issuer_name(cert.get()));
  s.is_ca = X509_check_ca(cert.get()) == 1;
  s.pin = SpkiPin(cert.get());
  return s;
}

Result<std::string> NormalizePin(std::string_view pin) {
  size_t colon = pin.find(':');
  if (colon == std::string_view::npos)
    return InvalidArgument("\"" + std::string(pin) + "\" is not of the form sha256:<64 hex digits>");
  std::string format(pin.substr(0, colon));
  for (char& c : format) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (format != "sha256")
    return InvalidArgument("\"" + std::string(pin) + "\" has the unknown format \"" + std::string(pin.substr(0, colon)) +
                           "\" (only sha256 is known)");
  std::string hex(pin.substr(colon + 1));
  for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos)
    return InvalidArgument("\"" + std::string(pin) + "\" is not of the form sha256:<64 hex digits> (" +
                           std::to_string(hex.size()) + " characters after the colon)");
  return "sha256:" + hex;
}

Result<std::vector<std::string>> CertificatesFromPem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  std::vector<std::string> out;
  while (out.size() < 32) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    int len = i2d_X509(cert.get(), nullptr);
    std::string der(static_cast<size_t>(len), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_X509(cert.get(), &p);
    out.push_back(std::move(der));
  }
  if (out.empty()) return InvalidArgument("holds no PEM certificate");
  return out;
}

Result<ClusterInfo> ParseClusterInfo(std::string_view configmap_json) {
  nlohmann::json cm = nlohmann::json::parse(configmap_json, nullptr, false);
  if (cm.is_discarded() || !cm.is_object()) return InvalidArgument("cluster-info: the answer is not a JSON object");
  const nlohmann::json* data = cm.contains("data") ? &cm["data"] : nullptr;
  if (!data || !data->is_object() || !data->contains("kubeconfig") || !(*data)["kubeconfig"].is_string())
    return InvalidArgument("cluster-info: no data.kubeconfig");
  std::string kubeconfig = (*data)["kubeconfig"].get<std::string>();
  ClusterInfo info;
  info.server = YamlScalar(kubeconfig, "server");
  std::string ca_b64 = YamlScalar(kubeconfig, "certificate-authority-data");
  if (ca_b64.empty()) return InvalidArgument("cluster-info: data.kubeconfig has no certificate-authority-data");
  auto pem = Base64Decode(ca_b64);
  if (!pem) return pem.error().Wrap("cluster-info: certificate-authority-data");
  auto certs = CertificatesFromPem(*pem);
  if (!certs) return certs.error().Wrap("cluster-info: certificate-authority-data");
  info.ca_der = std::move(*certs);
  return info;
}

std::string ChainVerifyProblem(const std::vector<std::string>& ca_der, const std::vector<std::string>& chain_der) {
  if (chain_der.empty()) return "the server sent no certificate";
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), &X509_STORE_free);
  for (const auto& der : ca_der)
    if (X509Ptr ca = ParseDer(der)) X509_STORE_add_cert(store.get(), ca.get());
  X509Ptr leaf = ParseDer(chain_der.front());
  if (!leaf) return "the server's certificate does not parse";
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> untrusted(
      sk_X509_new_null(), [](STACK_OF(X509)* s) { sk_X509_pop_free(s, X509_free); });
  for (size_t i = 1; i < chain_der.size(); ++i)
    if (X509* c = ParseDer(chain_der[i]).release()) sk_X509_push(untrusted.get(), c);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), &X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get());
  X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx.get()), X509_V_FLAG_NO_CHECK_TIME);
  if (X509_verify_cert(ctx.get()) == 1) return "";
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

}  // namespace nodeagent::join_prep
