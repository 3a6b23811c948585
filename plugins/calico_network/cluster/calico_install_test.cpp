#include "cluster/calico_install.h"

#include <catch2/catch.hpp>

#include "cluster/cluster_fixtures.h"
#include "cluster/cluster_permissions.h"
#include "testing/fake_kube_client.h"

namespace nodeagent::calico {
namespace {

using nlohmann::json;
namespace fx = fixtures;

constexpr const char* kKubeSystemDs = "GET /apis/apps/v1/namespaces/kube-system/daemonsets/calico-node";
constexpr const char* kCalicoSystemDs = "GET /apis/apps/v1/namespaces/calico-system/daemonsets/calico-node";
constexpr const char* kInstallation = "GET /apis/operator.tigera.io/v1/installations/default";

TEST_CASE("manifest install: the method comes from the DaemonSet's env") {
  FakeKubeClient kube;
  json env = fx::ManifestEnv();
  env[3]["value"] = "interface=eth1";
  kube.Answer(kKubeSystemDs, fx::CalicoNodeDaemonSet("kube-system", env));
  auto in = ReadCalicoInstall(kube, {});
  REQUIRE(in.ok());
  CHECK(in->found);
  CHECK_FALSE(in->operator_managed);
  CHECK(in->ns == "kube-system");
  CHECK(in->container_index == 1);
  CHECK(in->image == "docker.io/calico/node:v3.27.3");
  CHECK(in->resource_version == "41");
  CHECK(in->method_v4.known);
  CHECK(in->method_v4.value == "interface=eth1");
  CHECK(in->method_v4.source == "DaemonSet kube-system/calico-node env IP_AUTODETECTION_METHOD");
  CHECK(in->Setting("IP_AUTODETECTION_METHOD")->index == 3);
  CHECK(in->Setting("IP")->value == "autodetect");
  CHECK_FALSE(in->Setting("IP6")->present);
  // IPv6 method unset: Calico's default.
  CHECK(in->method_v6.value == "first-found");
  CHECK(in->method_v6.source == "unset: Calico's default first-found");
  CHECK(in->notes.empty());
  CHECK(kube.SentTo(kCalicoSystemDs).empty());  // found in the first namespace
}

TEST_CASE("an unset method is Calico's default first-found") {
  FakeKubeClient kube;
  json env = fx::ManifestEnv();
  env.erase(3);
  kube.Answer(kKubeSystemDs, fx::CalicoNodeDaemonSet("kube-system", env));
  auto in = ReadCalicoInstall(kube, {});
  REQUIRE(in.ok());
  CHECK(in->method_v4.value == "first-found");
  CHECK(in->method_v4.source == "unset: Calico's default first-found");
  CHECK(in->Setting("IP_AUTODETECTION_METHOD")->index == -1);
}

TEST_CASE("404 in kube-system moves on to calico-system; not found anywhere is a finding, not an error") {
  FakeKubeClient kube;
  kube.Fail(kKubeSystemDs, 404, "NotFound");
  kube.Fail(kCalicoSystemDs, 404, "NotFound");
  auto in = ReadCalicoInstall(kube, {});
  REQUIRE(in.ok());
  CHECK_FALSE(in->found);
  CHECK(in->not_found == "DaemonSet calico-node not found in kube-system, calico-system");
  CHECK(ToJson(*in)["not_found"] == in->not_found);

  SECTION("configured namespaces are searched in order") {
    FakeKubeClient k2;
    k2.Fail("GET /apis/apps/v1/namespaces/calico/daemonsets/calico-node", 404, "NotFound");
    auto other = ReadCalicoInstall(k2, {"calico"});
    REQUIRE(other.ok());
    CHECK(other->not_found == "DaemonSet calico-node not found in calico");
  }
}

TEST_CASE("an API error other than 404 is an error naming the call") {
  FakeKubeClient kube;
  kube.Fail(kKubeSystemDs, 403, "Forbidden", "daemonsets.apps is forbidden");
  auto in = ReadCalicoInstall(kube, {});
  REQUIRE_FALSE(in.ok());
  CHECK(in.error().code() == ErrorCode::kPermissionDenied);
  CHECK_THAT(in.error().message(), Catch::Contains("reading DaemonSet kube-system/calico-node (GET "
                                                   "/apis/apps/v1/namespaces/kube-system/daemonsets/calico-node)"));
  CHECK(kube.SentTo(kCalicoSystemDs).empty());
}

TEST_CASE("valueFrom configMapKeyRef is read from the ConfigMap; other kinds cannot be known") {
  FakeKubeClient kube;
  json env = fx::ManifestEnv();
  env[3] = {{"name", "IP_AUTODETECTION_METHOD"},
            {"valueFrom", {{"configMapKeyRef", {{"name", "calico-config"}, {"key", "ip_method"}}}}}};
  env.push_back({{"name", "IP6"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.hostIP"}}}}}});
  kube.Answer(kKubeSystemDs, fx::CalicoNodeDaemonSet("kube-system", env));

  SECTION("key present") {
    kube.Answer("GET /api/v1/namespaces/kube-system/configmaps/calico-config",
                {{"data", {{"ip_method", "cidr=192.168.56.0/24"}}}});
    auto in = ReadCalicoInstall(kube, {});
    REQUIRE(in.ok());
    CHECK(in->method_v4.known);
    CHECK(in->method_v4.value == "cidr=192.168.56.0/24");
    CHECK(in->method_v4.source ==
          "DaemonSet kube-system/calico-node env IP_AUTODETECTION_METHOD from ConfigMap kube-system/calico-config key "
          "ip_method");
    const EnvSetting* ip6 = in->Setting("IP6");
    CHECK(ip6->present);
    CHECK_FALSE(ip6->known);
    CHECK_THAT(ip6->source, Catch::Contains("fieldRef status.hostIP (cannot be known"));
  }
  SECTION("ConfigMap missing: a note, the method unknown, the read goes on") {
    kube.Fail("GET /api/v1/namespaces/kube-system/configmaps/calico-config", 404, "NotFound");
    auto in = ReadCalicoInstall(kube, {});
    REQUIRE(in.ok());
    CHECK_FALSE(in->method_v4.known);
    REQUIRE(in->notes.size() == 1);
    CHECK_THAT(in->notes[0], Catch::Contains("reading ConfigMap kube-system/calico-config"));
  }
  SECTION("key missing") {
    kube.Answer("GET /api/v1/namespaces/kube-system/configmaps/calico-config", {{"data", {{"other", "x"}}}});
    auto in = ReadCalicoInstall(kube, {});
    REQUIRE(in.ok());
    CHECK_FALSE(in->method_v4.known);
    CHECK_THAT(in->notes.at(0), Catch::Contains("has no key ip_method"));
  }
}

TEST_CASE("a Secret reference is not read") {
  FakeKubeClient kube;
  json env = fx::ManifestEnv();
  env[3] = {{"name", "IP_AUTODETECTION_METHOD"}, {"valueFrom", {{"secretKeyRef", {{"name", "s"}, {"key", "k"}}}}}};
  kube.Answer(kKubeSystemDs, fx::CalicoNodeDaemonSet("kube-system", env));
  auto in = ReadCalicoInstall(kube, {});
  REQUIRE(in.ok());
  CHECK_FALSE(in->method_v4.known);
  CHECK_THAT(in->method_v4.source, Catch::Contains("not read"));
  CHECK(kube.sent.size() == 1);
}

TEST_CASE("IP given explicitly is a note") {
  FakeKubeClient kube;
  json env = fx::ManifestEnv();
  env[2]["value"] = "10.0.0.5";
  kube.Answer(kKubeSystemDs, fx::CalicoNodeDaemonSet("kube-system", env));
  auto in = ReadCalicoInstall(kube, {});
  REQUIRE(in.ok());
  REQUIRE(in->notes.size() == 1);
  CHECK_THAT(in->notes[0], Catch::StartsWith("IP=10.0.0.5 is given on the DaemonSet"));
}

TEST_CASE("operator install: the method comes from Installation default") {
  FakeKubeClient kube;
  kube.Fail(kKubeSystemDs, 404, "NotFound");
  kube.Answer(kCalicoSystemDs, fx::OperatorDaemonSet());
  kube.Answer(kInstallation, fx::Installation({{"interface", "eth1"}}));
  auto in = ReadCalicoInstall(kube, {});
  REQUIRE(in.ok());
  CHECK(in->operator_managed);
  CHECK(in->operator_reason == "owned by Installation default (operator.tigera.io/v1)");
  CHECK(in->installation_read);
  CHECK(in->method_v4.value == "interface=eth1");
  CHECK(in->method_v4.source == "Installation default spec.calicoNetwork.nodeAddressAutodetectionV4");
  CHECK(in->notes.empty());
  CHECK_THAT(in->method_v6.source, Catch::Contains("IP6=none"));
  CHECK(in->method_v6.value.empty());

  SECTION("a DaemonSet not yet reconciled is a note") {
    kube.Answer(kInstallation, fx::Installation({{"kubernetes", "NodeInternalIP"}}));
    auto again = ReadCalicoInstall(kube, {});
    REQUIRE(again.ok());
    CHECK(again->method_v4.value == "kubernetes-internal-ip");
    CHECK_THAT(again->notes.at(0), Catch::Contains("not reconciled"));
  }
  SECTION("Installation unreadable: note, and the DaemonSet's rendered env is used") {
    kube.Fail(kInstallation, 403, "Forbidden");
    auto again = ReadCalicoInstall(kube, {});
    REQUIRE(again.ok());
    CHECK_FALSE(again->installation_read);
    CHECK(again->method_v4.value == "interface=eth1");
    CHECK_THAT(again->method_v4.source, Catch::Contains("as the operator rendered it"));
    CHECK_THAT(again->notes.at(0), Catch::Contains("reading Installation default"));
  }
}

TEST_CASE("operator ownership signs") {
  CHECK(OperatorOwnership(fx::CalicoNodeDaemonSet("kube-system", json::array())).empty());
  CHECK_THAT(OperatorOwnership(fx::CalicoNodeDaemonSet("calico-system", json::array())),
             Catch::Contains("calico-system"));
  json ds = fx::CalicoNodeDaemonSet("kube-system", json::array());
  ds["spec"]["template"]["metadata"]["annotations"] = {{"hash.operator.tigera.io/cni-config", "abc"}};
  CHECK_THAT(OperatorOwnership(ds), Catch::Contains("hash.operator.tigera.io/cni-config"));
}

TEST_CASE("OperatorMethodText renders like tigera/operator's getAutodetectionMethod") {
  struct Case {
    json in;
    std::string out;
  };
  const Case cases[] = {
      {nullptr, ""},
      {json::object(), ""},
      {{{"firstFound", true}}, "first-found"},
      {{{"firstFound", false}}, ""},
      {{{"kubernetes", "NodeInternalIP"}}, "kubernetes-internal-ip"},
      {{{"interface", "eth1|ens.*"}}, "interface=eth1|ens.*"},
      {{{"skipInterface", "eth0"}}, "skip-interface=eth0"},
      {{{"canReach", "192.168.56.1"}}, "can-reach=192.168.56.1"},
      {{{"cidrs", {"192.168.56.0/24", "10.0.0.0/8"}}}, "cidr=192.168.56.0/24,10.0.0.0/8"},
      // Order of precedence when several are set: interface, skipInterface, canReach, firstFound, cidrs, kubernetes.
      {{{"firstFound", true}, {"interface", "eth1"}}, "interface=eth1"},
      {{{"firstFound", true}, {"canReach", "8.8.8.8"}}, "can-reach=8.8.8.8"},
      {{{"cidrs", {"10.0.0.0/8"}}, {"kubernetes", "NodeInternalIP"}}, "cidr=10.0.0.0/8"},
  };
  for (const Case& c : cases) {
    INFO(c.in.dump());
    CHECK(OperatorMethodText(c.in) == c.out);
  }
}

}  // namespace
}  // namespace nodeagent::calico

namespace nodeagent::calico {
namespace {

TEST_CASE("ill-typed DaemonSet fields read as empty, never throw") {
  json ds = {{"metadata", {{"name", "calico-node"}, {"namespace", "kube-system"}, {"ownerReferences", "x"}}},
             {"spec", {{"template", {{"spec", {{"containers", json::array({"x", {{"name", "calico-node"},
                                                                               {"env", json::array({"x", {{"name", 3}},
                                                                                  {{"name", "IP"}, {"value", 7}},
                                                                                  {{"name", "IP_AUTODETECTION_METHOD"},
                                                                                   {"valueFrom", {{"configMapKeyRef", "x"}}}}})}}})}}}}}}}};
  CalicoInstall in;
  REQUIRE_NOTHROW(in = DescribeDaemonSet(ds));
  CHECK(in.container_index == 1);
  CHECK(in.Setting("IP")->value.empty());
  CHECK(in.Setting("IP_AUTODETECTION_METHOD")->from_value_from);
  CHECK_FALSE(in.Setting("IP_AUTODETECTION_METHOD")->known);
  CHECK(OperatorMethodText({{"interface", 1}, {"firstFound", "yes"}, {"cidrs", "x"}}).empty());
}

}  // namespace
}  // namespace nodeagent::calico
