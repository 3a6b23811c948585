#include "kube/kubeconfig.h"

#include <catch2/catch.hpp>

#include "host/fake_host.h"
#include "host/local_file_system.h"
#include "kube/curl_kube_client.h"

using namespace nodeagent;
using namespace nodeagent::kube;

namespace {

// base64 of "CA-PEM", "CERT-PEM", "KEY-PEM".
const char* kCaB64 = "Q0EtUEVN";
const char* kCertB64 = "Q0VSVC1QRU0=";
const char* kKeyB64 = "S0VZLVBFTQ==";

std::string Config(const std::string& cluster, const std::string& user, const std::string& extra = "") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: main\n"
         "contexts:\n- name: other\n  context: {cluster: c2, user: u2}\n"
         "- name: main\n  context: {cluster: c1, user: u1}\n"
         "clusters:\n- name: c2\n  cluster: {server: 'https://other:6443', insecure-skip-tls-verify: true}\n"
         "- name: c1\n  cluster:\n" + cluster +
         "users:\n- name: u2\n  user: {token: other-token}\n- name: u1\n  user:\n" + user + extra;
}

struct Fixture {
  TempRoot root;
  LocalFileSystem files{root.path()};
  Result<KubeConfig> Load(const std::string& text, const std::string& context = "") {
    root.Write("/etc/nodeagent/kubeconfig", text);
    return LoadKubeconfig("/etc/nodeagent/kubeconfig", context, files);
  }
};

}  // namespace

TEST_CASE("kubeconfig: embedded data, current context") {
  Fixture f;
  auto c = f.Load(Config(std::string("    server: https://api.example:6443/\n    certificate-authority-data: ") + kCaB64 +
                             "\n    tls-server-name: kubernetes\n",
                         std::string("    client-certificate-data: ") + kCertB64 + "\n    client-key-data: " + kKeyB64 + "\n"));
  REQUIRE(c.ok());
  CHECK(c->context == "main");
  CHECK(c->server == "https://api.example:6443");
  CHECK(c->ca_pem == "CA-PEM");
  CHECK(c->tls_server_name == "kubernetes");
  CHECK(c->client_cert_pem == "CERT-PEM");
  CHECK(c->client_key_pem == "KEY-PEM");
  CHECK_FALSE(c->insecure_skip_tls_verify);
  CHECK(c->token.empty());
}

TEST_CASE("kubeconfig: named context and insecure cluster") {
  Fixture f;
  auto c = f.Load(Config("    server: https://a:6443\n", "    token: abc\n"), "other");
  REQUIRE(c.ok());
  CHECK(c->server == "https://other:6443");
  CHECK(c->insecure_skip_tls_verify);
  CHECK(c->token == "other-token");
}

TEST_CASE("kubeconfig: files are relative to the kubeconfig's folder") {
  Fixture f;
  f.root.Write("/etc/nodeagent/pki/ca.crt", "CA-FILE");
  f.root.Write("/etc/nodeagent/pki/client.crt", "CERT-FILE");
  f.root.Write("/abs/client.key", "KEY-FILE");
  f.root.Write("/etc/nodeagent/token", "tok\n");
  auto c = f.Load(Config("    server: https://a:6443\n    certificate-authority: pki/ca.crt\n",
                         "    client-certificate: pki/client.crt\n    client-key: /abs/client.key\n"
                         "    tokenFile: token\n"));
  REQUIRE(c.ok());
  CHECK(c->ca_pem == "CA-FILE");
  CHECK(c->client_cert_pem == "CERT-FILE");
  CHECK(c->client_key_pem == "KEY-FILE");
  CHECK(c->token_file == "/etc/nodeagent/token");
}

TEST_CASE("kubeconfig: exec plugin") {
  Fixture f;
  auto c = f.Load(Config("    server: https://a:6443\n",
                         "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                         "      command: ./bin/cred\n      args: [get, --cluster, c1]\n"
                         "      env: [{name: REGION, value: eu}]\n      provideClusterInfo: true\n"
                         "      interactiveMode: Never\n"));
  REQUIRE(c.ok());
  REQUIRE(c->exec);
  CHECK(c->exec->command == "/etc/nodeagent/./bin/cred");
  CHECK(c->exec->args == std::vector<std::string>{"get", "--cluster", "c1"});
  CHECK(c->exec->env.at("REGION") == "eu");
  CHECK(c->exec->provide_cluster_info);
  // A bare command name is looked up on PATH, not made relative.
  auto bare = f.Load(Config("    server: https://a:6443\n",
                            "    exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}\n"));
  REQUIRE(bare.ok());
  CHECK(bare->exec->command == "aws");
}

TEST_CASE("kubeconfig: malformed or incomplete files name the file and the field") {
  struct Case {
    const char* name;
    std::string text;
    std::string context;
    std::string want;  // substring of the message
  };
  const std::string p = "kubeconfig /etc/nodeagent/kubeconfig: ";
  const std::string okc = "    server: https://a:6443\n";
  const std::string oku = "    token: t\n";
  std::vector<Case> cases = {
      {"yaml syntax", "clusters: [\n  - {", "", "kubeconfig /etc/nodeagent/kubeconfig:"},
      {"not a map", "- a\n- b\n", "", p + "(top level)"},
      {"no current-context", "apiVersion: v1\n", "", p + "current-context: not set"},
      {"current-context not a string", "current-context: [a]\n", "", p + "current-context: expected a string"},
      {"unknown context", Config(okc, oku), "nope", p + "context \"nope\": no entry named \"nope\" in contexts"},
      {"missing server", Config("    insecure-skip-tls-verify: true\n", oku), "", p + "clusters[1].cluster.server: missing"},
      {"bad server", Config("    server: a:6443\n", oku), "", p + "clusters[1].cluster.server: \"a:6443\" is not an http(s) URL"},
      {"bad base64", Config(okc + "    certificate-authority-data: '!!'\n", oku), "",
       p + "clusters[1].cluster.certificate-authority-data: not valid base64"},
      {"missing CA file", Config(okc + "    certificate-authority: /nope/ca.crt\n", oku), "",
       p + "clusters[1].cluster.certificate-authority: file /nope/ca.crt not readable: No such file or directory"},
      {"missing key file", Config(okc, std::string("    client-certificate-data: ") + kCertB64 + "\n    client-key: /k.pem\n"), "",
       p + "users[1].user.client-key: file /k.pem not readable: No such file"},
      {"cert without key", Config(okc, std::string("    client-certificate-data: ") + kCertB64 + "\n"), "",
       p + "users[1].user: client-certificate given without client-key"},
      {"key without cert", Config(okc, std::string("    client-key-data: ") + kKeyB64 + "\n"), "",
       p + "users[1].user: client-key given without client-certificate"},
      {"no credentials", Config(okc, "    {}\n"), "", p + "users[1].user: no credentials"},
      {"token file missing", Config(okc, "    tokenFile: /run/tok\n"), "",
       p + "users[1].user.tokenFile: file /run/tok not readable: No such file"},
      {"exec without apiVersion", Config(okc, "    exec: {command: x}\n"), "", p + "users[1].user.exec.apiVersion: missing"},
      {"exec old apiVersion", Config(okc, "    exec: {command: x, apiVersion: client.authentication.k8s.io/v1alpha1}\n"), "",
       p + "users[1].user.exec.apiVersion: \"client.authentication.k8s.io/v1alpha1\" not supported"},
      {"exec without command", Config(okc, "    exec: {apiVersion: client.authentication.k8s.io/v1}\n"), "",
       p + "users[1].user.exec.command: missing"},
      {"exec env not a list", Config(okc, "    exec: {apiVersion: client.authentication.k8s.io/v1, command: x, env: {a: b}}\n"), "",
       p + "users[1].user.exec.env: expected a list"},
      {"auth-provider", Config(okc, "    auth-provider: {name: gcp}\n"), "", p + "users[1].user.auth-provider: not supported"},
      {"insecure with CA", Config(okc + std::string("    insecure-skip-tls-verify: true\n    certificate-authority-data: ") + kCaB64 + "\n", oku), "",
       p + "clusters[1].cluster: certificate-authority and insecure-skip-tls-verify are mutually exclusive"},
      {"insecure not bool", Config(okc + "    insecure-skip-tls-verify: maybe\n", oku), "",
       p + "clusters[1].cluster.insecure-skip-tls-verify: expected true or false"},
      {"context names missing user",
       "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {server: 'https://a'}}]\n", "",
       p + "contexts[0].context.user: missing"},
      {"context names unknown cluster",
       "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: []\n", "",
       p + "contexts[0].context.cluster: no entry named \"c\" in clusters"},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      Fixture f;
      auto r = f.Load(c.text, c.context);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code() == ErrorCode::kInvalidArgument);
      INFO(r.error().message());
      CHECK(r.error().message().find(c.want) != std::string::npos);
    }
  }
}

TEST_CASE("kubeconfig: secrets are not echoed in errors") {
  Fixture f;
  auto r = f.Load(Config("    server: https://a:6443\n", "    token: s3cr3t-token\n    auth-provider: {name: x}\n"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("s3cr3t") == std::string::npos);
}

TEST_CASE("kubeconfig: missing file is NotFound naming it") {
  Fixture f;
  auto r = LoadKubeconfig("/etc/x", "", f.files);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::kNotFound);
  CHECK(r.error().message().find("kubeconfig /etc/x") == 0);
}

TEST_CASE("kubeconfig path resolution: configured, KUBECONFIG, default") {
  std::map<std::string, std::string> env;
  EnvLookup lookup = [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  CHECK(ResolveKubeconfigPath("", lookup) == "/etc/nodeagent/kubeconfig");
  env["KUBECONFIG"] = "/home/a/.kube/config:/other";
  CHECK(ResolveKubeconfigPath("", lookup) == "/home/a/.kube/config");
  CHECK(ResolveKubeconfigPath("/etc/k", lookup) == "/etc/k");
  env["KUBECONFIG"] = "";
  CHECK(ResolveKubeconfigPath("", lookup) == "/etc/nodeagent/kubeconfig");
}

TEST_CASE("in-cluster config from the service account") {
  TempRoot root;
  LocalFileSystem files(root.path());
  std::map<std::string, std::string> env;
  EnvLookup lookup = [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  CHECK_FALSE(InClusterAvailable(lookup, files));
  auto none = LoadAgentKubeconfig("", "", lookup, files);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message().find("/etc/nodeagent/kubeconfig") != std::string::npos);

  env["KUBERNETES_SERVICE_HOST"] = "10.96.0.1";
  env["KUBERNETES_SERVICE_PORT"] = "443";
  root.Write("/var/run/secrets/kubernetes.io/serviceaccount/token", "sa-token\n");
  root.Write("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", "SA-CA");
  CHECK(InClusterAvailable(lookup, files));
  auto c = LoadAgentKubeconfig("", "", lookup, files);
  REQUIRE(c.ok());
  CHECK(c->source == "in-cluster config");
  CHECK(c->server == "https://10.96.0.1:443");
  CHECK(c->ca_pem == "SA-CA");
  CHECK(c->token_file == "/var/run/secrets/kubernetes.io/serviceaccount/token");

  env["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  auto v6 = LoadInClusterConfig(lookup, files);
  REQUIRE(v6.ok());
  CHECK(v6->server == "https://[fd00::1]:443");

  // An existing default kubeconfig wins over in-cluster.
  root.Write("/etc/nodeagent/kubeconfig", Config("    server: https://file:6443\n", "    token: t\n"));
  auto file = LoadAgentKubeconfig("", "", lookup, files);
  REQUIRE(file.ok());
  CHECK(file->server == "https://file:6443");
}

TEST_CASE("base64 decoding") {
  CHECK(DecodeBase64("aGVsbG8=") == std::optional<std::string>("hello"));
  CHECK(DecodeBase64("aGVsbG8") == std::optional<std::string>("hello"));
  CHECK(DecodeBase64("aGVs\nbG8=\n") == std::optional<std::string>("hello"));
  CHECK(DecodeBase64("") == std::optional<std::string>(""));
  CHECK_FALSE(DecodeBase64("a$b").has_value());
  CHECK_FALSE(DecodeBase64("aGVsbG8=x").has_value());
  CHECK_FALSE(DecodeBase64("a").has_value());
}
