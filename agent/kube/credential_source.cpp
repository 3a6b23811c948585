#include "kube/credential_source.h"

#include <cctype>

namespace nodeagent::kube {

namespace {

std::string TrimWs(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

}  // namespace

CredentialSource::CredentialSource(const KubeConfig& config, CommandRunner& runner, FileSystem& files,
                                   Clock& clock)
    : config_(config), files_(files) {
  if (config_.exec) exec_.emplace(*config_.exec, config_.server, config_.ca_pem, runner, clock);
}

Result<Credentials> CredentialSource::Current() {
  Credentials c;
  c.cert_pem = config_.client_cert_pem;
  c.key_pem = config_.client_key_pem;
  if (!config_.token.empty()) {
    c.bearer = config_.token;
  } else if (!config_.token_file.empty()) {
    // Re-read every time: rotated (projected) tokens take effect at once.
    auto t = files_.ReadFile(config_.token_file);
    if (!t)
      return Error(t.error().code(), config_.source + ": tokenFile " + config_.token_file +
                                         " not readable: " + t.error().message());
    c.bearer = TrimWs(*t);
  }
  if (exec_) {
    auto e = exec_->Get();
    if (!e) return e.error().Wrap(config_.source);
    if (!e->token.empty()) c.bearer = e->token;
    if (!e->client_cert_pem.empty()) {
      c.cert_pem = e->client_cert_pem;
      c.key_pem = e->client_key_pem;
    }
  }
  return c;
}

void CredentialSource::Invalidate() {
  if (exec_) exec_->Invalidate();
}

}  // namespace nodeagent::kube
