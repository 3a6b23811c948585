#include "discovery/discovery_check.h"

#include <cstdlib>

#include "discovery/ca_pin.h"
#include "discovery/http_answer.h"
#include "join_options.h"

namespace nodeagent::join_prep {
namespace {

constexpr const char* kIdEndpoint = "DiscoveryEndpoint";
constexpr const char* kIdTcp = "DiscoveryTCP";
constexpr const char* kIdTls = "DiscoveryTLS";
constexpr const char* kIdClusterInfo = "DiscoveryClusterInfo";
constexpr const char* kIdCaChain = "DiscoveryCAChain";
constexpr const char* kIdCaHash = "DiscoveryCAHash";
constexpr const char* kIdClockSkew = "DiscoveryClockSkew";

std::string Millis(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

/// "10.0.0.10:6443: connect: ..." once, whether or not the probe named it.
std::string About(const std::string& endpoint, const std::string& message) {
  if (message.rfind(endpoint + ":", 0) == 0) return message;
  return endpoint + ": " + message;
}

/// The pins, normalized, and one line per malformed one.
struct Pins {
  std::vector<std::string> valid;
  std::vector<std::string> problems;
};

Pins ReadPins(const std::vector<std::string>& configured) {
  Pins pins;
  for (size_t i = 0; i < configured.size() && i < 64; ++i) {
    auto p = NormalizePin(configured[i]);
    if (p) pins.valid.push_back(*p);
    else pins.problems.push_back("ca_cert_hashes[" + std::to_string(i) + "] " + p.error().message());
  }
  return pins;
}

CheckResult ConnectResult(const Endpoint& ep, const std::string& endpoint, const Result<std::string>& connected,
                          std::chrono::milliseconds took, std::chrono::milliseconds timeout) {
  if (connected) {
    CheckResult r = CheckResult::Pass(kIdTcp, "connected to " + *connected + " in " + Millis(took));
    r.detail = {{"address", *connected}, {"millis", took.count()}};
    return r;
  }
  const Error& e = connected.error();
  std::string hint;
  switch (e.code()) {
    case ErrorCode::kNotFound: hint = "check the name " + ep.host + " and this node's resolver (/etc/resolv.conf)"; break;
    case ErrorCode::kTimeout:
      hint = "nothing answered within " + Millis(timeout) +
             ": a firewall on the way (or on the control plane) may drop the packets";
      break;
    default: hint = "is the API server running and listening on port " + std::to_string(ep.port) + "?";
  }
  return CheckResult::Fail(kIdTcp, CheckSeverity::kError, "cannot connect to " + About(endpoint, e.message()), hint);
}

std::vector<CertificateSummary> Summaries(const std::vector<std::string>& ders) {
  std::vector<CertificateSummary> out;
  for (const auto& der : ders)
    if (auto s = SummarizeCertificate(der)) out.push_back(*s);
  return out;
}

nlohmann::json ChainJson(const std::vector<CertificateSummary>& chain) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : chain)
    out.push_back({{"subject", c.subject}, {"issuer", c.issuer}, {"ca", c.is_ca}, {"pin", c.pin}});
  return out;
}

/// The last certificate of the served chain that is a CA, if any.
const CertificateSummary* ServedCa(const std::vector<CertificateSummary>& chain) {
  const CertificateSummary* ca = nullptr;
  for (const auto& c : chain)
    if (c.is_ca) ca = &c;
  return ca;
}

struct ClusterInfoOutcome {
  std::optional<ClusterInfo> info;
  std::string problem;  ///< why it could not be read, when it could not
};

ClusterInfoOutcome ReadClusterInfo(const TlsExchange& ex) {
  ClusterInfoOutcome out;
  if (!ex.answer) {
    out.problem = "GET " + std::string(kClusterInfoPath) + " failed: " + ex.http_error;
    return out;
  }
  const HttpAnswer& a = *ex.answer;
  if (a.status != 200) {
    out.problem = "GET " + std::string(kClusterInfoPath) + " answered HTTP " + std::to_string(a.status) +
                  (a.reason.empty() ? "" : " " + a.reason);
    return out;
  }
  auto info = ParseClusterInfo(a.body);
  if (!info) out.problem = info.error().message();
  else out.info = std::move(*info);
  return out;
}

CheckResult ClusterInfoResult(const ClusterInfoOutcome& ci, bool pinned) {
  if (ci.info) {
    CheckResult r = CheckResult::Pass(kIdClusterInfo, "cluster-info read anonymously: server " + ci.info->server + ", " +
                                                          std::to_string(ci.info->ca_der.size()) + " CA certificate(s)");
    r.detail = {{"server", ci.info->server}};
    return r;
  }
  // Without pins the operator may be joining with file discovery, which does
  // not read cluster-info.
  CheckResult r = CheckResult::Fail(
      kIdClusterInfo, pinned ? CheckSeverity::kError : CheckSeverity::kWarning, ci.problem,
      "kubeadm's token discovery reads kube-public/cluster-info without credentials; kubeadm init's "
      "bootstrap-token phase creates it and the Role that lets anonymous users get it");
  return r;
}

CheckResult CaChainResult(const ClusterInfo& info, const std::vector<std::string>& chain_der) {
  std::string problem = ChainVerifyProblem(info.ca_der, chain_der);
  if (problem.empty())
    return CheckResult::Pass(kIdCaChain, "the served certificate chains to the CA in cluster-info");
  return CheckResult::Fail(kIdCaChain, CheckSeverity::kError,
                           "the API server's certificate does not verify against the CA in cluster-info: " + problem,
                           "kubeadm connects again trusting only that CA, and that will fail: is a proxy or load "
                           "balancer terminating TLS in front of the API server?");
}

CheckResult CaHashResult(const Pins& pins, const ClusterInfoOutcome& ci, const std::vector<CertificateSummary>& chain) {
  // The CA kubeadm compares is cluster-info's; the one the server sends is
  // second best, used only when cluster-info could not be read.
  std::vector<std::string> actual;
  std::string source;
  if (ci.info) {
    for (const auto& c : Summaries(ci.info->ca_der)) actual.push_back(c.pin);
    source = "the CA in cluster-info";
  } else if (const CertificateSummary* ca = ServedCa(chain)) {
    actual.push_back(ca->pin);
    source = "the CA the server sent (" + ca->subject + "; cluster-info could not be read, which kubeadm compares)";
  }
  std::string actual_text;
  for (const auto& a : actual) actual_text += (actual_text.empty() ? "" : ", ") + a;
  nlohmann::json detail = {{"actual", actual}, {"source", source}, {"configured", pins.valid}};

  if (!pins.problems.empty()) {
    std::string msg;
    for (const auto& p : pins.problems) msg += (msg.empty() ? "" : "; ") + p;
    CheckResult r = CheckResult::Fail(kIdCaHash, CheckSeverity::kError, msg,
                                      actual.empty() ? "" : "the cluster CA's pin is " + actual_text);
    r.detail = detail;
    return r;
  }
  if (actual.empty()) {
    std::string leaf_issuer = chain.empty() ? "?" : chain.front().issuer;
    CheckResult r = CheckResult::Fail(
        kIdCaHash, CheckSeverity::kError,
        "cannot hash the cluster CA: the server sent no CA certificate (its certificate is issued by " + leaf_issuer +
            ") and cluster-info could not be read (" + ci.problem + ")",
        "compute the pin on a control-plane node: openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt | openssl pkey "
        "-pubin -outform der | sha256sum");
    r.detail = detail;
    return r;
  }
  if (pins.valid.empty()) {
    CheckResult r = CheckResult::Fail(kIdCaHash, CheckSeverity::kWarning,
                                      "no ca_cert_hashes configured: the cluster CA is not pinned; the pin of " + source +
                                          " is " + actual_text,
                                      "add it to ca_cert_hashes after checking it on a control-plane node");
    r.detail = detail;
    return r;
  }
  for (const auto& want : pins.valid)
    for (const auto& have : actual)
      if (want == have) {
        CheckResult r = CheckResult::Pass(kIdCaHash, have + " matches " + source);
        r.detail = detail;
        return r;
      }
  CheckResult r = CheckResult::Fail(kIdCaHash, CheckSeverity::kError,
                                    "none of the configured ca_cert_hashes matches " + source + ": its pin is " +
                                        actual_text,
                                    "kubeadm join will refuse this cluster; check the endpoint and the hash");
  r.detail = detail;
  return r;
}

CheckResult ClockSkewResult(const TlsExchange& ex, std::chrono::system_clock::time_point local) {
  if (!ex.answer) return CheckResult::Fail(kIdClockSkew, CheckSeverity::kWarning, "not checked: " + ex.http_error);
  auto it = ex.answer->headers.find("date");
  if (it == ex.answer->headers.end())
    return CheckResult::Fail(kIdClockSkew, CheckSeverity::kWarning, "not checked: the API server sent no Date header");
  auto server = ParseHttpDate(it->second);
  if (!server)
    return CheckResult::Fail(kIdClockSkew, CheckSeverity::kWarning,
                             "not checked: the API server's Date header \"" + it->second + "\" does not parse");
  auto offset = std::chrono::duration_cast<std::chrono::seconds>(*server - local);
  nlohmann::json detail = {{"offset_seconds", offset.count()}, {"server_date", it->second}};
  std::string text = "the API server's clock is " + std::to_string(std::llabs(offset.count())) + " s " +
                     (offset.count() >= 0 ? "ahead of" : "behind") + " this node's";
  if (std::chrono::abs(offset) <= kMaxClockSkew) {
    CheckResult r = CheckResult::Pass(kIdClockSkew, text);
    r.detail = detail;
    return r;
  }
  CheckResult r = CheckResult::Fail(kIdClockSkew, CheckSeverity::kWarning, text,
                                    "certificates issued by the cluster may look not yet valid or expired here; "
                                    "synchronise the clocks (chrony, systemd-timesyncd)");
  r.detail = detail;
  return r;
}

}  // namespace

Result<Endpoint> ParseEndpoint(const std::string& text) {
  Endpoint ep;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return InvalidArgument("endpoint \"" + text + "\": '[' without ']'");
    ep.host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':')
      return InvalidArgument("endpoint \"" + text + "\" has no port (host:port, [ipv6]:port)");
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return InvalidArgument("endpoint \"" + text + "\" has no port (host:port)");
    if (text.find(':') != colon)
      return InvalidArgument("endpoint \"" + text + "\": an IPv6 address needs brackets, like [fd00::10]:6443");
    ep.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (ep.host.empty()) return InvalidArgument("endpoint \"" + text + "\" has no host");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::atoi(port.c_str()) < 1 || std::atoi(port.c_str()) > 65535)
    return InvalidArgument("endpoint \"" + text + "\": port \"" + port + "\" is not a number from 1 to 65535");
  ep.port = std::atoi(port.c_str());
  return ep;
}

std::vector<CheckResult> CheckDiscovery(const CheckInputs& in, EndpointProbe& probe) {
  const JoinOptions& o = in.options;
  std::vector<CheckResult> out;
  if (o.endpoint.empty()) {
    CheckResult r = CheckResult::Pass(kIdEndpoint, "not checked: no endpoint configured");
    r.detail = {{"checked", false}};
    return {r};
  }
  auto ep = ParseEndpoint(o.endpoint);
  if (!ep) return {CheckResult::Fail(kIdEndpoint, CheckSeverity::kError, ep.error().message())};
  Pins pins = ReadPins(o.ca_cert_hashes);

  Clock& clock = in.host.clock();
  auto t0 = clock.Monotonic();
  auto connected = probe.Connect(ep->host, ep->port, o.connect_timeout);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock.Monotonic() - t0);
  out.push_back(ConnectResult(*ep, o.endpoint, connected, took, o.connect_timeout));
  if (!connected) return out;

  auto ex = probe.HttpsGet(ep->host, ep->port, kClusterInfoPath, o.connect_timeout);
  const auto local_now = clock.Now();
  if (!ex) {
    std::string hint = ex.error().code() == ErrorCode::kTimeout
                           ? "the port accepts connections but does not speak TLS: is it the API server's port?"
                           : "is " + o.endpoint + " the API server (HTTPS)?";
    out.push_back(CheckResult::Fail(kIdTls, CheckSeverity::kError,
                                    "TLS failed with " + About(o.endpoint, ex.error().message()), hint));
    return out;
  }
  std::vector<CertificateSummary> chain = Summaries(ex->chain_der);
  CheckResult tls = CheckResult::Pass(kIdTls, ex->tls_version + " with " + ex->address + ", " +
                                                  std::to_string(chain.size()) + " certificate(s) served" +
                                                  (chain.empty() ? "" : ", leaf " + chain.front().subject));
  tls.detail = {{"chain", ChainJson(chain)}, {"tls_version", ex->tls_version}};
  out.push_back(std::move(tls));

  ClusterInfoOutcome ci = ReadClusterInfo(*ex);
  out.push_back(ClusterInfoResult(ci, !o.ca_cert_hashes.empty()));
  if (ci.info) out.push_back(CaChainResult(*ci.info, ex->chain_der));
  out.push_back(CaHashResult(pins, ci, chain));
  out.push_back(ClockSkewResult(*ex, local_now));
  return out;
}

std::vector<CheckResult> CheckDiscovery(const CheckInputs& in) {
  auto probe = MakeSocketEndpointProbe();
  return CheckDiscovery(in, *probe);
}

}  // namespace nodeagent::join_prep
