#include "discovery/discovery_check.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include "discovery/ca_pin.h"
#include "discovery/fake_endpoint_probe.h"
#include "discovery/http_answer.h"
#include "discovery/test_tls_server.h"
#include "join_options.h"
#include "testing/fake_action_context.h"

using namespace nodeagent;
using namespace nodeagent::join_prep;
using namespace nodeagent::join_prep::testing;
using json = nlohmann::json;

namespace {

const TestPki& Pki() {
  static TestPki pki;
  return pki;
}

std::string Base64(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

/// A cluster-info ConfigMap as kubeadm writes it, with `ca_pem` as its CA.
std::string ClusterInfoJson(const std::string& ca_pem, const std::string& server) {
  std::string kubeconfig = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: " + Base64(ca_pem) +
                           "\n    server: " + server + "\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\n"
                           "kind: Config\npreferences: {}\nusers: null\n";
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "cluster-info"}, {"namespace", "kube-public"}}},
             {"data", {{"kubeconfig", kubeconfig}}}};
  return cm.dump();
}

/// A port nothing listens on (bound, then closed).
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

const CheckResult* Find(const std::vector<CheckResult>& results, const std::string& id) {
  for (const auto& r : results)
    if (r.id == id) return &r;
  return nullptr;
}

std::string Ids(const std::vector<CheckResult>& results) {
  std::string s;
  for (const auto& r : results) s += r.id + "=" + CheckStatusName(r.status) + " ";
  return s;
}

struct Fixture {
  FakeActionContext ctx;
  JoinOptions options;
  Fixture() {
    ctx.clock().Set(std::chrono::system_clock::now());
    options.connect_timeout = std::chrono::milliseconds(2000);
  }
  std::vector<CheckResult> Run() {
    CheckInputs in{ctx.host(), options};
    return CheckDiscovery(in);
  }
  std::vector<CheckResult> Run(EndpointProbe& probe) {
    CheckInputs in{ctx.host(), options};
    return CheckDiscovery(in, probe);
  }
};

std::map<std::string, std::string> ClusterInfoAnswers(const std::string& ca_pem, int status = 200,
                                                      bool chunked = false) {
  std::string date = ImfDate(std::chrono::system_clock::now());
  std::string body = status == 200 ? ClusterInfoJson(ca_pem, "https://127.0.0.1:6443")
                                   : R"({"kind":"Status","reason":"Forbidden"})";
  return {{kClusterInfoPath, HttpText(status, status == 200 ? "OK" : "Forbidden", body, date, chunked)}};
}

}  // namespace

TEST_CASE("ParseEndpoint: host:port, [v6]:port, names; refuses the rest", "[discovery]") {
  auto a = ParseEndpoint("10.0.0.10:6443");
  REQUIRE(a);
  CHECK(a->host == "10.0.0.10");
  CHECK(a->port == 6443);
  auto b = ParseEndpoint("[fd00::10]:443");
  REQUIRE(b);
  CHECK(b->host == "fd00::10");
  CHECK(b->port == 443);
  auto c = ParseEndpoint("api.example.com:6443");
  REQUIRE(c);
  CHECK(c->host == "api.example.com");
  for (const char* bad : {"10.0.0.10", "fd00::10", "fd00::10:6443", "[fd00::10]", "[fd00::10:6443", ":6443",
                          "host:0", "host:65536", "host:64a", "host:"}) {
    INFO(bad);
    CHECK_FALSE(ParseEndpoint(bad));
  }
}

TEST_CASE("NormalizePin: kubeadm's sha256:<64 hex>, any case", "[discovery]") {
  std::string hex(64, 'a');
  CHECK(*NormalizePin("sha256:" + hex) == "sha256:" + hex);
  CHECK(*NormalizePin("SHA256:" + std::string(64, 'A')) == "sha256:" + hex);
  CHECK_FALSE(NormalizePin(hex));
  CHECK_FALSE(NormalizePin("sha1:" + hex));
  CHECK_FALSE(NormalizePin("sha256:" + hex.substr(1)));
  CHECK_FALSE(NormalizePin("sha256:" + hex.substr(1) + "g"));
  auto e = NormalizePin("md5:abc");
  REQUIRE_FALSE(e);
  CHECK_THAT(e.error().message(), Catch::Contains("md5:abc"));
}

TEST_CASE("ParseHttpAnswer: Content-Length, chunked, cut short; ParseHttpDate", "[discovery]") {
  auto a = ParseHttpAnswer(HttpText(200, "OK", "{\"a\":1}", "Sun, 06 Nov 1994 08:49:37 GMT"));
  REQUIRE(a);
  CHECK(a->status == 200);
  CHECK(a->body == "{\"a\":1}");
  CHECK(a->headers.at("date") == "Sun, 06 Nov 1994 08:49:37 GMT");
  std::string long_body(100, 'x');
  auto c = ParseHttpAnswer(HttpText(403, "Forbidden", long_body, "", true));
  REQUIRE(c);
  CHECK(c->status == 403);
  CHECK(c->reason == "Forbidden");
  CHECK(c->body == long_body);
  std::string full = HttpText(200, "OK", long_body, "");
  CHECK(HttpAnswerComplete(full));
  CHECK_FALSE(HttpAnswerComplete(full.substr(0, full.size() - 1)));
  CHECK_FALSE(ParseHttpAnswer(full.substr(0, full.size() - 1)));
  CHECK_FALSE(ParseHttpAnswer("SSH-2.0-OpenSSH_9.6\r\n\r\n"));

  auto d = ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT");
  REQUIRE(d);
  CHECK(std::chrono::system_clock::to_time_t(*d) == 784111777);
  CHECK_FALSE(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"));
  CHECK_FALSE(ParseHttpDate("Sun, 06 Foo 1994 08:49:37 GMT"));
}

TEST_CASE("ParseClusterInfo reads the CA and server of kubeadm's cluster-info", "[discovery]") {
  auto info = ParseClusterInfo(ClusterInfoJson(ReadText(Pki().ca_crt), "https://10.0.0.10:6443"));
  REQUIRE(info);
  CHECK(info->server == "https://10.0.0.10:6443");
  REQUIRE(info->ca_der.size() == 1);
  auto ca = SummarizeCertificate(info->ca_der[0]);
  REQUIRE(ca);
  CHECK(ca->is_ca);
  CHECK(ca->pin == Pki().ca_pin);
  CHECK_FALSE(ParseClusterInfo("{}"));
  CHECK_FALSE(ParseClusterInfo(R"({"data":{"kubeconfig":"clusters:\n- cluster:\n    server: x\n"}})"));
  CHECK_FALSE(ParseClusterInfo(R"({"data":{"kubeconfig":"    certificate-authority-data: !!!!\n"}})"));
}

TEST_CASE("discovery without an endpoint says it was not checked", "[discovery]") {
  Fixture f;
  FakeEndpointProbe probe;
  auto results = f.Run(probe);
  REQUIRE(results.size() == 1);
  CHECK(results[0].id == "DiscoveryEndpoint");
  CHECK(results[0].status == CheckStatus::kPass);
  CHECK_THAT(results[0].message, Catch::Contains("not checked"));
  CHECK(probe.calls.empty());
}

TEST_CASE("discovery: a malformed endpoint is an error, nothing is dialled", "[discovery]") {
  Fixture f;
  f.options.endpoint = "fd00::10";
  FakeEndpointProbe probe;
  auto results = f.Run(probe);
  REQUIRE(results.size() == 1);
  CHECK(results[0].id == "DiscoveryEndpoint");
  CHECK(results[0].status == CheckStatus::kFail);
  CHECK(probe.calls.empty());
}

TEST_CASE("discovery against a real TLS server: the pin matches the openssl command line's", "[discovery]") {
  const TestPki& pki = Pki();
  TestTlsServer server(pki.chain_file(), pki.server_key, ClusterInfoAnswers(ReadText(pki.ca_crt)));
  Fixture f;
  f.options.endpoint = "127.0.0.1:" + std::to_string(server.port());
  f.options.ca_cert_hashes = {pki.ca_pin};
  auto results = f.Run();
  INFO(Ids(results));
  for (const char* id : {"DiscoveryTCP", "DiscoveryTLS", "DiscoveryClusterInfo", "DiscoveryCAChain", "DiscoveryCAHash",
                         "DiscoveryClockSkew"}) {
    INFO(id);
    const CheckResult* r = Find(results, id);
    REQUIRE(r);
    CHECK(r->status == CheckStatus::kPass);
  }
  CHECK_THAT(Find(results, "DiscoveryCAHash")->message, Catch::Contains(pki.ca_pin));
  CHECK(Find(results, "DiscoveryTLS")->detail["chain"].size() == 2);
  CHECK(server.paths() == std::vector<std::string>{kClusterInfoPath});
}

TEST_CASE("discovery: a wrong pin is an error that shows the actual one", "[discovery]") {
  const TestPki& pki = Pki();
  TestTlsServer server(pki.chain_file(), pki.server_key, ClusterInfoAnswers(ReadText(pki.ca_crt), 200, true));
  Fixture f;
  f.options.endpoint = "localhost:" + std::to_string(server.port());
  f.options.ca_cert_hashes = {"sha256:" + std::string(64, '0')};
  auto results = f.Run();
  INFO(Ids(results));
  const CheckResult* r = Find(results, "DiscoveryCAHash");
  REQUIRE(r);
  CHECK(r->status == CheckStatus::kFail);
  CHECK(r->severity == CheckSeverity::kError);
  CHECK_THAT(r->message, Catch::Contains(pki.ca_pin));
  CHECK_THAT(r->message, Catch::Contains("cluster-info"));
}

TEST_CASE("discovery: a malformed pin is an error naming it", "[discovery]") {
  const TestPki& pki = Pki();
  TestTlsServer server(pki.chain_file(), pki.server_key, ClusterInfoAnswers(ReadText(pki.ca_crt)));
  Fixture f;
  f.options.endpoint = "127.0.0.1:" + std::to_string(server.port());
  f.options.ca_cert_hashes = {pki.ca_pin, "sha256:abc"};
  auto results = f.Run();
  const CheckResult* r = Find(results, "DiscoveryCAHash");
  REQUIRE(r);
  CHECK(r->status == CheckStatus::kFail);
  CHECK_THAT(r->message, Catch::Contains("ca_cert_hashes[1]") && Catch::Contains("sha256:abc"));
  CHECK_THAT(r->hint, Catch::Contains(pki.ca_pin));
}

TEST_CASE("discovery: without pins the CA's pin is shown as a warning", "[discovery]") {
  const TestPki& pki = Pki();
  TestTlsServer server(pki.chain_file(), pki.server_key, ClusterInfoAnswers(ReadText(pki.ca_crt)));
  Fixture f;
  f.options.endpoint = "127.0.0.1:" + std::to_string(server.port());
  auto results = f.Run();
  const CheckResult* r = Find(results, "DiscoveryCAHash");
  REQUIRE(r);
  CHECK(r->status == CheckStatus::kFail);
  CHECK(r->severity == CheckSeverity::kWarning);
  CHECK_THAT(r->message, Catch::Contains(pki.ca_pin));
}

TEST_CASE("discovery: only the leaf served and cluster-info forbidden: the CA cannot be hashed", "[discovery]") {
  const TestPki& pki = Pki();
  TestTlsServer server(pki.server_crt, pki.server_key, ClusterInfoAnswers("", 403));
  Fixture f;
  f.options.endpoint = "127.0.0.1:" + std::to_string(server.port());
  f.options.ca_cert_hashes = {pki.ca_pin};
  auto results = f.Run();
  INFO(Ids(results));
  const CheckResult* ci = Find(results, "DiscoveryClusterInfo");
  REQUIRE(ci);
  CHECK(ci->status == CheckStatus::kFail);
  CHECK(ci->severity == CheckSeverity::kError);
  CHECK_THAT(ci->message, Catch::Contains("403"));
  const CheckResult* r = Find(results, "DiscoveryCAHash");
  REQUIRE(r);
  CHECK(r->status == CheckStatus::kFail);
  CHECK_THAT(r->message, Catch::Contains("cannot hash") && Catch::Contains("test-kubernetes-ca"));
  CHECK(Find(results, "DiscoveryTLS")->detail["chain"].size() == 1);
  // The Date of the 403 still serves the clock check.
  CHECK(Find(results, "DiscoveryClockSkew")->status == CheckStatus::kPass);
}

TEST_CASE("discovery: only the leaf served, the CA comes from cluster-info", "[discovery]") {
  const TestPki& pki = Pki();
  TestTlsServer server(pki.server_crt, pki.server_key, ClusterInfoAnswers(ReadText(pki.ca_crt)));
  Fixture f;
  f.options.endpoint = "127.0.0.1:" + std::to_string(server.port());
  f.options.ca_cert_hashes = {pki.ca_pin};
  auto results = f.Run();
  INFO(Ids(results));
  CHECK(Find(results, "DiscoveryCAHash")->status == CheckStatus::kPass);
  CHECK(Find(results, "DiscoveryCAChain")->status == CheckStatus::kPass);
}

TEST_CASE("discovery: cluster-info forbidden, the pin is compared with the served CA", "[discovery]") {
  const TestPki& pki = Pki();
  TestTlsServer server(pki.chain_file(), pki.server_key, ClusterInfoAnswers("", 403));
  Fixture f;
  f.options.endpoint = "127.0.0.1:" + std::to_string(server.port());
  f.options.ca_cert_hashes = {pki.ca_pin};
  auto results = f.Run();
  const CheckResult* r = Find(results, "DiscoveryCAHash");
  REQUIRE(r);
  CHECK(r->status == CheckStatus::kPass);
  CHECK_THAT(r->message, Catch::Contains("the CA the server sent"));
}

TEST_CASE("discovery: a cluster-info CA that did not sign the serving certificate", "[discovery]") {
  const TestPki& pki = Pki();
  TestTlsServer server(pki.chain_file(), pki.server_key, ClusterInfoAnswers(ReadText(pki.other_ca_crt)));
  Fixture f;
  f.options.endpoint = "127.0.0.1:" + std::to_string(server.port());
  auto results = f.Run();
  INFO(Ids(results));
  const CheckResult* r = Find(results, "DiscoveryCAChain");
  REQUIRE(r);
  CHECK(r->status == CheckStatus::kFail);
  CHECK(r->severity == CheckSeverity::kError);
}

TEST_CASE("discovery: the server's clock 5 minutes ahead is a warning with the offset", "[discovery]") {
  const TestPki& pki = Pki();
  TestTlsServer server(pki.chain_file(), pki.server_key, ClusterInfoAnswers(ReadText(pki.ca_crt)));
  Fixture f;
  f.ctx.clock().Set(std::chrono::system_clock::now() - std::chrono::minutes(5));
  f.options.endpoint = "127.0.0.1:" + std::to_string(server.port());
  auto results = f.Run();
  const CheckResult* r = Find(results, "DiscoveryClockSkew");
  REQUIRE(r);
  CHECK(r->status == CheckStatus::kFail);
  CHECK(r->severity == CheckSeverity::kWarning);
  CHECK_THAT(r->message, Catch::Contains("ahead"));
  int offset = r->detail["offset_seconds"].get<int>();
  CHECK(offset >= 298);
  CHECK(offset <= 302);
}

TEST_CASE("discovery: a port that accepts but never speaks TLS times out", "[discovery]") {
  const TestPki& pki = Pki();
  TestTlsServer server(pki.chain_file(), pki.server_key, {}, TestTlsServer::Mode::kSilent);
  Fixture f;
  f.options.endpoint = "127.0.0.1:" + std::to_string(server.port());
  f.options.connect_timeout = std::chrono::milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  auto results = f.Run();
  auto took = std::chrono::steady_clock::now() - start;
  INFO(Ids(results));
  CHECK(Find(results, "DiscoveryTCP")->status == CheckStatus::kPass);
  const CheckResult* r = Find(results, "DiscoveryTLS");
  REQUIRE(r);
  CHECK(r->status == CheckStatus::kFail);
  CHECK_THAT(r->message, Catch::Contains("in time"));
  CHECK_THAT(r->hint, Catch::Contains("does not speak TLS"));
  CHECK(took < std::chrono::seconds(3));
  CHECK(Find(results, "DiscoveryCAHash") == nullptr);
}

TEST_CASE("discovery: a closed port is refused", "[discovery]") {
  Fixture f;
  f.options.endpoint = "127.0.0.1:" + std::to_string(ClosedPort());
  auto results = f.Run();
  REQUIRE(results.size() == 1);
  CHECK(results[0].id == "DiscoveryTCP");
  CHECK(results[0].status == CheckStatus::kFail);
  CHECK_THAT(results[0].message, Catch::Contains("refused"));
}

TEST_CASE("discovery over IPv6 loopback, [::1]:port", "[discovery]") {
  const TestPki& pki = Pki();
  TestTlsServer server(pki.chain_file(), pki.server_key, ClusterInfoAnswers(ReadText(pki.ca_crt)),
                       TestTlsServer::Mode::kServe, "::1");
  Fixture f;
  f.options.endpoint = "[::1]:" + std::to_string(server.port());
  f.options.ca_cert_hashes = {pki.ca_pin};
  auto results = f.Run();
  INFO(Ids(results));
  CHECK(Find(results, "DiscoveryTCP")->message.find("[::1]:") != std::string::npos);
  CHECK(Find(results, "DiscoveryCAHash")->status == CheckStatus::kPass);
}

TEST_CASE("discovery: a name that does not resolve, through the fake probe", "[discovery]") {
  Fixture f;
  f.options.endpoint = "api.invalid:6443";
  FakeEndpointProbe probe;
  probe.connects.emplace("api.invalid:6443", Result<std::string>(NotFound("resolving api.invalid: Name or service not known")));
  auto results = f.Run(probe);
  REQUIRE(results.size() == 1);
  CHECK(results[0].status == CheckStatus::kFail);
  CHECK_THAT(results[0].hint, Catch::Contains("resolv.conf"));
}

TEST_CASE("discovery: a plain-HTTP port fails the TLS handshake with OpenSSL's reason", "[discovery]") {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), len) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  // Answers every connection (the TCP check's, then the TLS attempt's) in plain HTTP.
  std::thread plain([fd] {
    for (int i = 0; i < 2; ++i) {
      int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      const char kAnswer[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::write(c, kAnswer, sizeof kAnswer - 1);
      ::close(c);
    }
  });
  Fixture f;
  f.options.endpoint = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  auto results = f.Run();
  plain.join();
  ::close(fd);
  INFO(Ids(results));
  const CheckResult* r = Find(results, "DiscoveryTLS");
  REQUIRE(r);
  CHECK(r->status == CheckStatus::kFail);
  CHECK_THAT(r->message, Catch::Contains("TLS handshake"));
  CHECK_THAT(r->hint, Catch::Contains("HTTPS"));
}

TEST_CASE("discovery: the GET failing after the handshake leaves the served chain to pin against", "[discovery]") {
  const TestPki& pki = Pki();
  auto chain = CertificatesFromPem(pki.chain_pem);
  REQUIRE(chain);
  Fixture f;
  f.options.endpoint = "api.example:6443";
  f.options.ca_cert_hashes = {pki.ca_pin};
  FakeEndpointProbe probe;
  probe.connects.emplace("api.example:6443", Result<std::string>(std::string("10.0.0.10:6443")));
  TlsExchange ex;
  ex.address = "10.0.0.10:6443";
  ex.chain_der = *chain;
  ex.tls_version = "TLSv1.3";
  ex.http_error = "reading the answer: no answer in time";
  probe.exchanges.emplace("api.example:6443", Result<TlsExchange>(ex));
  auto results = f.Run(probe);
  INFO(Ids(results));
  CHECK(probe.calls == std::vector<std::string>{"connect api.example:6443",
                                               std::string("get api.example:6443") + kClusterInfoPath});
  CHECK(Find(results, "DiscoveryTLS")->status == CheckStatus::kPass);
  CHECK(Find(results, "DiscoveryClusterInfo")->status == CheckStatus::kFail);
  CHECK_THAT(Find(results, "DiscoveryClusterInfo")->message, Catch::Contains("no answer in time"));
  CHECK(Find(results, "DiscoveryCAChain") == nullptr);
  CHECK(Find(results, "DiscoveryCAHash")->status == CheckStatus::kPass);
  CHECK(Find(results, "DiscoveryClockSkew")->severity == CheckSeverity::kWarning);
  CHECK_THAT(Find(results, "DiscoveryClockSkew")->message, Catch::Contains("not checked"));
}
