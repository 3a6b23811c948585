#include "kube/exec_credential.h"

#include "api/base64.h"

#include <ctime>

#include <nlohmann/json.hpp>

namespace nodeagent::kube {
namespace {

int Digits(const std::string& s, size_t pos, size_t n, bool* ok) {
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') {
      *ok = false;
      return 0;
    }
    v = v * 10 + (s[i] - '0');
  }
  return v;
}


}  // namespace

std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  bool ok = true;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':')
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = Digits(s, 0, 4, &ok) - 1900;
  tm.tm_mon = Digits(s, 5, 2, &ok) - 1;
  tm.tm_mday = Digits(s, 8, 2, &ok);
  tm.tm_hour = Digits(s, 11, 2, &ok);
  tm.tm_min = Digits(s, 14, 2, &ok);
  tm.tm_sec = Digits(s, 17, 2, &ok);
  if (!ok || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60)
    return std::nullopt;
  size_t pos = 19;
  std::chrono::nanoseconds frac{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = 100'000'000;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac += std::chrono::nanoseconds((s[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  int offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    int h = Digits(s, pos + 1, 2, &ok), m = Digits(s, pos + 4, 2, &ok);
    if (!ok) return std::nullopt;
    offset_min = (h * 60 + m) * (s[pos] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  time_t t = timegm(&tm);
  auto tp = std::chrono::system_clock::from_time_t(t) - std::chrono::minutes(offset_min);
  return tp + std::chrono::duration_cast<std::chrono::system_clock::duration>(frac);
}

Result<ExecCredential> ParseExecCredential(const std::string& text, const std::string& what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return InvalidArgument(what + ": output is not an ExecCredential JSON object");
  if (j.value("kind", "") != "ExecCredential")
    return InvalidArgument(what + ": output kind is \"" + j.value("kind", "") + "\", expected ExecCredential");
  const nlohmann::json& status = j.contains("status") ? j["status"] : nlohmann::json();
  if (!status.is_object()) return InvalidArgument(what + ": ExecCredential has no status");
  ExecCredential c;
  auto str = [&](const char* k) { return status.contains(k) && status[k].is_string() ? status[k].get<std::string>() : ""; };
  c.token = str("token");
  c.client_cert_pem = str("clientCertificateData");
  c.client_key_pem = str("clientKeyData");
  if (c.client_cert_pem.empty() != c.client_key_pem.empty())
    return InvalidArgument(what + ": ExecCredential status needs both clientCertificateData and clientKeyData");
  if (c.token.empty() && c.client_cert_pem.empty())
    return InvalidArgument(what + ": ExecCredential status has neither token nor clientCertificateData");
  std::string exp = str("expirationTimestamp");
  if (!exp.empty()) {
    c.expires = ParseRfc3339(exp);
    if (!c.expires) return InvalidArgument(what + ": expirationTimestamp \"" + exp + "\" is not RFC 3339");
  }
  return c;
}

ExecCredentialProvider::ExecCredentialProvider(ExecConfig config, std::string server, std::string ca_pem,
                                               CommandRunner& runner, Clock& clock)
    : config_(std::move(config)), server_(std::move(server)), ca_pem_(std::move(ca_pem)),
      runner_(runner), clock_(clock) {}

Result<ExecCredential> ExecCredentialProvider::Get() {
  std::lock_guard<std::mutex> lock(mu_);
  if (cached_ && (!cached_->expires || clock_.Now() < *cached_->expires)) return *cached_;
  cached_.reset();
  CommandSpec spec;
  spec.argv.push_back(config_.command);
  spec.argv.insert(spec.argv.end(), config_.args.begin(), config_.args.end());
  spec.env = config_.env;
  spec.timeout = std::chrono::seconds(60);
  nlohmann::json info = {{"apiVersion", config_.api_version},
                         {"kind", "ExecCredential"},
                         {"spec", {{"interactive", false}}}};
  if (config_.provide_cluster_info) {
    info["spec"]["cluster"] = {{"server", server_}};
    if (!ca_pem_.empty()) info["spec"]["cluster"]["certificate-authority-data"] = EncodeBase64(ca_pem_);  // []byte in JSON
  }
  spec.env["KUBERNETES_EXEC_INFO"] = info.dump();
  std::string what = "exec credential plugin " + config_.command;
  ++runs_;
  auto r = runner_.Run(spec);
  if (!r) return Error(ErrorCode::kUnavailable, what + ": cannot run: " + r.error().message());
  if (!r->succeeded()) {
    std::string err = r->stderr_data.substr(0, 300);
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    std::string how = r->timed_out ? "timed out" : r->exit_code >= 0 ? "exited with status " + std::to_string(r->exit_code)
                                                                     : "killed by signal " + std::to_string(r->term_signal);
    return Error(ErrorCode::kUnavailable, what + ": " + how + (err.empty() ? "" : ": " + err));
  }
  auto cred = ParseExecCredential(r->stdout_data, what);
  if (!cred) return cred.error();
  cached_ = *cred;
  return *cred;
}

void ExecCredentialProvider::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  cached_.reset();
}

int ExecCredentialProvider::runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return runs_;
}

}  // namespace nodeagent::kube
