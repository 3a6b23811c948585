// The JoinConfiguration document: its schema version per kubeadm release,
// its fields, and that no setting can add YAML of its own or leak the token
// through an error message.
#include "join/join_config.h"

#include <catch2/catch.hpp>

namespace nodeagent::join_prep {
namespace {

const std::string kToken = "abcdef.0123456789abcdef";
const std::string kHash = "sha256:" + std::string(64, 'a');

JoinSettings Worker() {
  JoinSettings s;
  s.endpoint = "10.0.0.10:6443";
  s.token = kToken;
  s.ca_cert_hashes = {kHash};
  s.node_name = "n1";
  s.cri_socket = "unix:///run/containerd/containerd.sock";
  s.ignore_preflight_errors = {"Swap", "FileContent--proc-sys-net-ipv4-ip_forward"};
  return s;
}

TEST_CASE("kubeadm versions pick the JoinConfiguration schema", "[join]") {
  struct Row {
    const char* text;
    int major, minor, patch;
    const char* api;  // nullptr: too old
  };
  const Row rows[] = {
      {"v1.31.2\n", 1, 31, 2, "kubeadm.k8s.io/v1beta4"},
      {"v1.33.0", 1, 33, 0, "kubeadm.k8s.io/v1beta4"},
      {"  v1.30.0-rc.1 ", 1, 30, 0, "kubeadm.k8s.io/v1beta3"},
      {"1.29.3+k3s1", 1, 29, 3, "kubeadm.k8s.io/v1beta3"},
      {"v1.22.0", 1, 22, 0, "kubeadm.k8s.io/v1beta3"},
      {"v2.0.0", 2, 0, 0, "kubeadm.k8s.io/v1beta4"},
      {"v1.21.14", 1, 21, 14, nullptr},
  };
  for (const Row& row : rows) {
    INFO(row.text);
    auto v = ParseKubeadmVersion(row.text);
    REQUIRE(v.ok());
    CHECK(v->major == row.major);
    CHECK(v->minor == row.minor);
    CHECK(v->patch == row.patch);
    auto api = KubeadmApiFor(*v);
    if (row.api) {
      REQUIRE(api.ok());
      CHECK(std::string(KubeadmApiVersion(*api)) == row.api);
    } else {
      REQUIRE_FALSE(api.ok());
      CHECK(api.error().message().find("too old") != std::string::npos);
    }
  }
  for (const char* bad : {"", "v1.31", "kubeadm version: &version.Info{...}", "v1.x.2", "v1.31.2 extra"}) {
    INFO(bad);
    CHECK_FALSE(ParseKubeadmVersion(bad).ok());
  }
}

TEST_CASE("a worker's JoinConfiguration v1beta4", "[join]") {
  auto y = JoinConfigurationYaml(Worker(), KubeadmApi::kV1Beta4);
  REQUIRE(y.ok());
  CHECK(*y ==
        "# Written by nodeagent for one `kubeadm join`; removed when it ends.\n"
        "apiVersion: kubeadm.k8s.io/v1beta4\n"
        "kind: JoinConfiguration\n"
        "discovery:\n"
        "  bootstrapToken:\n"
        "    apiServerEndpoint: \"10.0.0.10:6443\"\n"
        "    token: \"abcdef.0123456789abcdef\"\n"
        "    caCertHashes:\n"
        "    - \"" + kHash + "\"\n"
        "nodeRegistration:\n"
        "  name: \"n1\"\n"
        "  criSocket: \"unix:///run/containerd/containerd.sock\"\n"
        "  ignorePreflightErrors:\n"
        "  - \"Swap\"\n"
        "  - \"FileContent--proc-sys-net-ipv4-ip_forward\"\n");
}

TEST_CASE("v1beta3, a control-plane join, optional fields left out", "[join]") {
  JoinSettings s = Worker();
  s.role = Role::kControlPlane;
  s.node_name.clear();
  s.cri_socket.clear();
  s.ignore_preflight_errors.clear();
  s.endpoint = "[fd00::10]:6443";
  auto y = JoinConfigurationYaml(s, KubeadmApi::kV1Beta3);
  REQUIRE(y.ok());
  CHECK(y->find("apiVersion: kubeadm.k8s.io/v1beta3\n") != std::string::npos);
  CHECK(y->find("apiServerEndpoint: \"[fd00::10]:6443\"\n") != std::string::npos);
  CHECK(y->find("controlPlane: {}\n") != std::string::npos);
  CHECK(y->find("  ignorePreflightErrors: []\n") != std::string::npos);
  CHECK(y->find("name:") == std::string::npos);
  CHECK(y->find("criSocket") == std::string::npos);

  s.certificate_key = std::string(64, 'f');
  y = JoinConfigurationYaml(s, KubeadmApi::kV1Beta4);
  REQUIRE(y.ok());
  CHECK(y->find("controlPlane:\n  certificateKey: \"" + std::string(64, 'f') + "\"\n") != std::string::npos);
}

TEST_CASE("without a CA pin only when explicitly unsafe", "[join]") {
  JoinSettings s = Worker();
  s.ca_cert_hashes.clear();
  auto y = JoinConfigurationYaml(s, KubeadmApi::kV1Beta4);
  REQUIRE_FALSE(y.ok());
  CHECK(y.error().message().find("ca_cert_hashes") != std::string::npos);
  s.unsafe_skip_ca_verification = true;
  y = JoinConfigurationYaml(s, KubeadmApi::kV1Beta4);
  REQUIRE(y.ok());
  CHECK(y->find("    unsafeSkipCAVerification: true\n") != std::string::npos);
  CHECK(y->find("caCertHashes") == std::string::npos);
}

TEST_CASE("a malformed token is refused without being echoed", "[join]") {
  // Unlike the example the message gives (abcdef.0123456789abcdef).
  for (std::string token : {std::string("qwerty.9876543210qwert"), std::string("QWERTY.9876543210qwerty"),
                            std::string("qwerty9876543210qwertyx"), std::string("qwerty.9876543210qwerty\n"),
                            std::string("qwerty.987654\"\nx: y0qwe"), std::string("")}) {
    JoinSettings s = Worker();
    s.token = token;
    auto y = JoinConfigurationYaml(s, KubeadmApi::kV1Beta4);
    REQUIRE_FALSE(y.ok());
    CHECK(y.error().code() == ErrorCode::kInvalidArgument);
    CHECK(y.error().message().rfind("token:", 0) == 0);
    if (!token.empty()) CHECK(y.error().message().find(token.substr(7, 6)) == std::string::npos);
  }
}

TEST_CASE("settings that would inject YAML are refused", "[join]") {
  struct Row {
    const char* what;
    void (*set)(JoinSettings&);
    const char* names;
  };
  const Row rows[] = {
      {"node name with a newline", [](JoinSettings& s) { s.node_name = "n1\"\nunsafeSkipCAVerification: true"; }, "node_name"},
      {"node name upper case", [](JoinSettings& s) { s.node_name = "N1"; }, "node_name"},
      {"endpoint without port", [](JoinSettings& s) { s.endpoint = "10.0.0.10"; }, "endpoint"},
      {"endpoint port 0", [](JoinSettings& s) { s.endpoint = "10.0.0.10:0"; }, "endpoint"},
      {"endpoint with a quote", [](JoinSettings& s) { s.endpoint = "a\"b:6443"; }, "endpoint"},
      {"endpoint ipv6 without brackets", [](JoinSettings& s) { s.endpoint = "fd00::10:6443"; }, "endpoint"},
      {"hash too short", [](JoinSettings& s) { s.ca_cert_hashes = {"sha256:abc"}; }, "ca_cert_hashes"},
      {"hash other algorithm", [](JoinSettings& s) { s.ca_cert_hashes = {"md5:" + std::string(64, 'a')}; }, "ca_cert_hashes"},
      {"cri socket relative", [](JoinSettings& s) { s.cri_socket = "run/containerd.sock"; }, "cri_socket"},
      {"cri socket with space", [](JoinSettings& s) { s.cri_socket = "/run/a b.sock"; }, "cri_socket"},
      {"ignore entry with colon", [](JoinSettings& s) { s.ignore_preflight_errors = {"Swap: x"}; }, "ignore"},
      {"certificate key on a worker", [](JoinSettings& s) { s.certificate_key = std::string(64, 'a'); }, "certificate_key"},
      {"certificate key not hex", [](JoinSettings& s) {
         s.role = Role::kControlPlane;
         s.certificate_key = std::string(64, 'z');
       }, "certificate_key"},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    JoinSettings s = Worker();
    row.set(s);
    auto y = JoinConfigurationYaml(s, KubeadmApi::kV1Beta4);
    REQUIRE_FALSE(y.ok());
    CHECK(y.error().message().rfind(row.names, 0) == 0);
  }
  JoinSettings ok = Worker();
  ok.endpoint = "api.cluster.example:443";
  ok.ignore_preflight_errors = {"all"};
  CHECK(JoinConfigurationYaml(ok, KubeadmApi::kV1Beta4).ok());
}

TEST_CASE("YamlQuote keeps any text one scalar", "[join]") {
  CHECK(YamlQuote("plain") == "\"plain\"");
  CHECK(YamlQuote("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(YamlQuote(std::string("x\ny\x01", 4)) == "\"x\\x0ay\\x01\"");
}

}  // namespace
}  // namespace nodeagent::join_prep

namespace nodeagent::join_prep {
namespace {

TEST_CASE("the ignore list and the CRI socket in kubeadm's accepted form", "[join]") {
  using V = std::vector<std::string>;
  CHECK(KubeadmIgnoreList({}).empty());
  CHECK(KubeadmIgnoreList({"Swap", "Port-10250", "swap"}) == V{"Swap", "Port-10250"});
  CHECK(KubeadmIgnoreList({"Swap", "ALL"}) == V{"all"});
  CHECK(CriSocketUrl("/run/containerd/containerd.sock") == "unix:///run/containerd/containerd.sock");
  CHECK(CriSocketUrl("unix:///var/run/crio/crio.sock") == "unix:///var/run/crio/crio.sock");

  JoinSettings s;
  s.endpoint = "10.0.0.10:6443";
  s.token = "abcdef.0123456789abcdef";
  s.ca_cert_hashes = {"sha256:" + std::string(64, 'c')};
  s.cri_socket = "/run/containerd/containerd.sock";
  s.ignore_preflight_errors = {"Swap", "all"};
  auto y = JoinConfigurationYaml(s, KubeadmApi::kV1Beta4);
  REQUIRE(y.ok());
  CHECK(y->find("  criSocket: \"unix:///run/containerd/containerd.sock\"\n") != std::string::npos);
  CHECK(y->find("  ignorePreflightErrors:\n  - \"all\"\n") != std::string::npos);
  CHECK(y->find("Swap") == std::string::npos);
}

}  // namespace
}  // namespace nodeagent::join_prep
