#include <catch2/catch.hpp>

#include "host/fake_host.h"
#include "host/local_file_system.h"
#include "join_params.h"
#include "kubelet_config.h"

#include <sys/stat.h>

using namespace nodeagent;
using namespace nodeagent::join_prep;

namespace {

Params JoinValues() {
  Params p;
  p.Set("endpoint", std::string("10.0.0.10:6443"));
  p.Set("token", std::string("abcdef.0123456789abcdef"));
  p.Set("ca_cert_hashes", std::vector<std::string>{"sha256:" + std::string(64, 'a')});
  return p;
}

}  // namespace

TEST_CASE("join params: defaults fill the options, the node defaults to the agent's", "[join-params]") {
  auto o = ParamsFromValues(Params(), "n1");
  REQUIRE(o);
  CHECK(o->checks.role == Role::kWorker);
  CHECK(o->checks.cni == Cni::kCalico);
  CHECK(o->checks.node_name == "n1");
  CHECK(o->checks.firewall_fix == FirewallFix::kOpenPorts);
}

TEST_CASE("join params: the fix parameter's default allows every fix", "[join-params]") {
  for (const auto& spec : JoinPrepParams()) {
    if (spec.name != "fix") continue;
    for (auto id : kFixIds) CHECK(spec.default_value.find("\"" + std::string(id) + "\"") != std::string_view::npos);
    return;
  }
  FAIL("no fix parameter");
}

TEST_CASE("join params: fix ids, hashes and endpoints are checked", "[join-params]") {
  Params p;
  p.Set("fix", std::vector<std::string>{"swapoff", "reboot"});
  auto st = ValidateJoinPrep(p);
  REQUIRE(!st.ok());
  CHECK_THAT(st.error().message(), Catch::Contains("unknown fix id \"reboot\""));

  Params h;
  h.Set("ca_cert_hashes", std::vector<std::string>{"sha256:abc"});
  REQUIRE(!ValidateJoinPrep(h).ok());
  CHECK_THAT(ValidateJoinPrep(h).error().message(), Catch::Contains("sha256:<64 hex digits>"));

  Params e;
  e.Set("endpoint", std::string("https://10.0.0.1/"));
  CHECK(!ValidateJoinPrep(e).ok());
}

TEST_CASE("join params: join needs an endpoint, one token source and a CA hash; a bad token is not echoed",
          "[join-params]") {
  CHECK(ValidateJoin(JoinValues()).ok());
  Params no_hash = JoinValues();
  no_hash.Set("ca_cert_hashes", std::vector<std::string>{});
  CHECK(!ValidateJoin(no_hash).ok());
  Params both = JoinValues();
  both.Set("token_file", std::string("/etc/kubernetes/token"));
  CHECK(!ValidateJoin(both).ok());
  Params bad = JoinValues();
  bad.Set("token", std::string("Secret.Value-That-Leaks"));
  auto st = ValidateJoin(bad);
  REQUIRE(!st.ok());
  CHECK(st.error().message().find("Secret") == std::string::npos);
}

TEST_CASE("join params: the token file must be root's alone and hold a bootstrap token", "[join-params]") {
  TempRoot root;
  LocalFileSystem local(root.path());
  FileSystem& files = local;
  JoinParams p;
  p.token_file = "/etc/kubernetes/join-token";
  REQUIRE(files.WriteFileAtomic(p.token_file, "abcdef.0123456789abcdef\n", 0600).ok());
  if (geteuid() == 0) {
    auto t = ReadToken(files, p);
    REQUIRE(t);
    CHECK(*t == "abcdef.0123456789abcdef");
  }
  REQUIRE(files.Chmod(p.token_file, 0644).ok());
  auto loose = ReadToken(files, p);
  REQUIRE(!loose);
  CHECK_THAT(loose.error().message(), Catch::Contains("chmod 600"));
  REQUIRE(files.Chmod(p.token_file, 0600).ok());
  REQUIRE(files.WriteFileAtomic(p.token_file, "not-a-token-secretvalue\n").ok());
  auto bad = ReadToken(files, p);
  REQUIRE(!bad);
  CHECK(bad.error().message().find("secretvalue") == std::string::npos);
}

TEST_CASE("kubelet config: failSwapOn and cgroupDriver from YAML and JSON, defaults otherwise", "[kubelet-config]") {
  auto yaml = ParseKubeletConfig(
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\n"
      "failSwapOn: false # swap allowed\nmemorySwap:\n  swapBehavior: LimitedSwap\n",
      "/var/lib/kubelet/config.yaml");
  CHECK(yaml.known);
  CHECK(!yaml.fail_swap_on);
  CHECK(yaml.cgroup_driver == "cgroupfs");
  CHECK(yaml.problem.empty());

  auto json = ParseKubeletConfig("{\"kind\":\"KubeletConfiguration\",\"failSwapOn\":false}", "x");
  CHECK(!json.fail_swap_on);
  CHECK(json.cgroup_driver == "systemd");

  auto nested = ParseKubeletConfig("kind: KubeletConfiguration\nsomething:\n  failSwapOn: false\n", "x");
  CHECK(nested.fail_swap_on);  // only top-level keys count

  auto bad = ParseKubeletConfig("failSwapOn: maybe\n", "/var/lib/kubelet/config.yaml");
  CHECK(bad.fail_swap_on);
  CHECK_THAT(bad.problem, Catch::Contains("config.yaml:1"));
}

TEST_CASE("kubelet config: the local file first, else the defaults, said so", "[kubelet-config]") {
  TempRoot root;
  LocalFileSystem local(root.path());
  FileSystem& files = local;
  auto none = ReadKubeletConfig(files, nullptr);
  CHECK(!none.known);
  CHECK(none.fail_swap_on);
  CHECK_THAT(none.source, Catch::Contains("defaults"));
  REQUIRE(files.WriteFileAtomic("/var/lib/kubelet/config.yaml", "failSwapOn: false\n").ok());
  auto from_file = ReadKubeletConfig(files, nullptr);
  CHECK(from_file.known);
  CHECK(!from_file.fail_swap_on);
  CHECK(from_file.source == "/var/lib/kubelet/config.yaml");
}
