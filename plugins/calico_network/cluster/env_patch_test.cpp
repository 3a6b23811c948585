#include "cluster/env_patch.h"

#include <catch2/catch.hpp>

#include "cluster/cluster_fixtures.h"
#include "testing/fake_kube_client.h"

namespace nodeagent::calico {
namespace {

using nlohmann::json;
namespace fx = fixtures;

constexpr const char* kPatch = "PATCH /apis/apps/v1/namespaces/kube-system/daemonsets/calico-node";

// The env list of the calico-node container after applying `patch` to `ds`
// (nlohmann's RFC 6902 implementation; throws when a test op fails).
json EnvAfter(const json& ds, const json& patch) { return ds.patch(patch)["spec"]["template"]["spec"]["containers"][1]["env"]; }

TEST_CASE("replacing a literal value: test the entry, then replace it") {
  json ds = fx::CalicoNodeDaemonSet("kube-system", fx::ManifestEnv());
  CalicoInstall in = DescribeDaemonSet(ds);
  auto plan = PlanEnvPatch(in, "IP_AUTODETECTION_METHOD", "interface=eth1");
  REQUIRE(plan.ok());
  CHECK_FALSE(plan->unchanged);
  CHECK(plan->object == "kube:daemonsets/kube-system/calico-node");
  CHECK(plan->description ==
        "set IP_AUTODETECTION_METHOD=interface=eth1 on daemonset kube-system/calico-node: every calico-node pod "
        "restarts (rolling update)");
  CHECK(plan->patch == json::parse(R"([
    {"op":"test","path":"/spec/template/spec/containers/1/name","value":"calico-node"},
    {"op":"test","path":"/spec/template/spec/containers/1/env/3","value":{"name":"IP_AUTODETECTION_METHOD","value":"first-found"}},
    {"op":"replace","path":"/spec/template/spec/containers/1/env/3","value":{"name":"IP_AUTODETECTION_METHOD","value":"interface=eth1"}}
  ])"));
  json env = EnvAfter(ds, plan->patch);
  json want = fx::ManifestEnv();
  want[3]["value"] = "interface=eth1";
  CHECK(env == want);

  SECTION("a concurrent edit makes the test fail") {
    json edited = ds;
    edited["spec"]["template"]["spec"]["containers"][1]["env"][3]["value"] = "can-reach=8.8.8.8";
    CHECK_THROWS(edited.patch(plan->patch));
  }
}

TEST_CASE("a value from valueFrom is replaced by a plain value") {
  json env = fx::ManifestEnv();
  env[3] = {{"name", "IP_AUTODETECTION_METHOD"},
            {"valueFrom", {{"configMapKeyRef", {{"name", "calico-config"}, {"key", "ip_method"}}}}}};
  json ds = fx::CalicoNodeDaemonSet("kube-system", env);
  auto plan = PlanEnvPatch(DescribeDaemonSet(ds), "IP_AUTODETECTION_METHOD", "kubernetes-internal-ip");
  REQUIRE(plan.ok());
  CHECK_THAT(plan->description, Catch::Contains("(replacing its valueFrom)"));
  json after = EnvAfter(ds, plan->patch);
  CHECK(after[3] == json({{"name", "IP_AUTODETECTION_METHOD"}, {"value", "kubernetes-internal-ip"}}));
  CHECK_FALSE(after[3].contains("valueFrom"));
}

TEST_CASE("an absent variable is added after a test of the whole env list") {
  json env = fx::ManifestEnv();
  json ds = fx::CalicoNodeDaemonSet("kube-system", env);
  auto plan = PlanEnvPatch(DescribeDaemonSet(ds), "IP6_AUTODETECTION_METHOD", "interface=eth1");
  REQUIRE(plan.ok());
  REQUIRE(plan->patch.size() == 3);
  CHECK(plan->patch[1] == json({{"op", "test"}, {"path", "/spec/template/spec/containers/1/env"}, {"value", env}}));
  CHECK(plan->patch[2]["path"] == "/spec/template/spec/containers/1/env/-");
  json after = EnvAfter(ds, plan->patch);
  CHECK(after.size() == env.size() + 1);
  CHECK(after.back() == json({{"name", "IP6_AUTODETECTION_METHOD"}, {"value", "interface=eth1"}}));

  SECTION("no env list at all") {
    json bare = fx::CalicoNodeDaemonSet("kube-system", env);
    bare["spec"]["template"]["spec"]["containers"][1].erase("env");
    auto p2 = PlanEnvPatch(DescribeDaemonSet(bare), "IP_AUTODETECTION_METHOD", "first-found");
    REQUIRE(p2.ok());
    CHECK(EnvAfter(bare, p2->patch) == json::array({{{"name", "IP_AUTODETECTION_METHOD"}, {"value", "first-found"}}}));
  }
}

TEST_CASE("the same value already set: nothing to change") {
  auto plan = PlanEnvPatch(DescribeDaemonSet(fx::CalicoNodeDaemonSet("kube-system", fx::ManifestEnv())),
                           "IP_AUTODETECTION_METHOD", "first-found");
  REQUIRE(plan.ok());
  CHECK(plan->unchanged);
  CHECK(plan->patch.empty());
  FakeKubeClient kube;
  CHECK_FALSE(ApplyEnvPatch(kube, *plan).ok());
  CHECK(kube.sent.empty());
}

TEST_CASE("refusals") {
  SECTION("operator-managed: refused, with the kubectl command") {
    auto plan = PlanEnvPatch(DescribeDaemonSet(fx::OperatorDaemonSet()), "IP_AUTODETECTION_METHOD", "interface=eth1");
    REQUIRE_FALSE(plan.ok());
    CHECK(plan.error().code() == ErrorCode::kPermissionDenied);
    CHECK_THAT(plan.error().message(), Catch::Contains("managed by tigera/operator"));
    CHECK_THAT(plan.error().message(), Catch::Contains("kubectl patch installation default --type=merge"));
  }
  SECTION("a method that does not parse") {
    auto plan = PlanEnvPatch(DescribeDaemonSet(fx::CalicoNodeDaemonSet("kube-system", fx::ManifestEnv())),
                             "IP_AUTODETECTION_METHOD", "interfaces=eth1");
    REQUIRE_FALSE(plan.ok());
    CHECK(plan.error().code() == ErrorCode::kInvalidArgument);
  }
  SECTION("not found") {
    CalicoInstall none;
    none.not_found = "DaemonSet calico-node not found in kube-system, calico-system";
    auto plan = PlanEnvPatch(none, "IP_AUTODETECTION_METHOD", "first-found");
    REQUIRE_FALSE(plan.ok());
    CHECK(plan.error().code() == ErrorCode::kNotFound);
  }
  SECTION("no calico-node container") {
    json ds = fx::CalicoNodeDaemonSet("kube-system", fx::ManifestEnv());
    ds["spec"]["template"]["spec"]["containers"][1]["name"] = "node";
    auto plan = PlanEnvPatch(DescribeDaemonSet(ds), "IP_AUTODETECTION_METHOD", "first-found");
    REQUIRE_FALSE(plan.ok());
    CHECK_THAT(plan.error().message(), Catch::Contains("no container named calico-node"));
  }
}

TEST_CASE("ApplyEnvPatch sends a JSON patch; a failed test is a conflict") {
  auto plan = PlanEnvPatch(DescribeDaemonSet(fx::CalicoNodeDaemonSet("kube-system", fx::ManifestEnv())),
                           "IP_AUTODETECTION_METHOD", "interface=eth1");
  REQUIRE(plan.ok());
  FakeKubeClient kube;
  kube.Answer(kPatch, {{"metadata", {{"name", "calico-node"}}}});
  auto done = ApplyEnvPatch(kube, *plan);
  REQUIRE(done.ok());
  REQUIRE(kube.SentTo(kPatch).size() == 1);
  CHECK(kube.SentTo(kPatch)[0].content_type == "application/json-patch+json");
  CHECK(kube.SentTo(kPatch)[0].body == plan->patch);

  kube.Fail(kPatch, 422, "Invalid", "the server rejected our request: test operation failed");
  auto refused = ApplyEnvPatch(kube, *plan);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == ErrorCode::kConflict);
  CHECK_THAT(refused.error().message(), Catch::Contains("changed since it was read"));

  kube.Fail(kPatch, 403, "Forbidden");
  auto denied = ApplyEnvPatch(kube, *plan);
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code() == ErrorCode::kPermissionDenied);
  CHECK_THAT(denied.error().message(), Catch::Contains("patching daemonset kube-system/calico-node"));
}

TEST_CASE("OperatorPatchCommand sets one method and nulls the others") {
  auto patch = OperatorMergePatch(AddressFamily::kIpv4, "interface=eth1");
  REQUIRE(patch.ok());
  CHECK(*patch == json::parse(R"({"spec":{"calicoNetwork":{"nodeAddressAutodetectionV4":{
      "interface":"eth1","firstFound":null,"kubernetes":null,"skipInterface":null,"canReach":null,"cidrs":null}}}})"));
  // The patched object renders back to the same method.
  json inst = fixtures::Installation({{"firstFound", true}});
  json merged = inst;
  merged.merge_patch(*patch);
  CHECK(OperatorMethodText(merged["spec"]["calicoNetwork"]["nodeAddressAutodetectionV4"]) == "interface=eth1");
  CHECK(merged["spec"]["calicoNetwork"]["nodeAddressAutodetectionV4"].size() == 1);

  struct Case {
    std::string method;
    json field;
  };
  const Case cases[] = {
      {"first-found", {{"firstFound", true}}},
      {"kubernetes-internal-ip", {{"kubernetes", "NodeInternalIP"}}},
      {"skip-interface=eth0,docker.*", {{"skipInterface", "eth0,docker.*"}}},
      {"can-reach=192.168.56.1", {{"canReach", "192.168.56.1"}}},
      {"cidr=192.168.56.0/24, 10.0.0.0/8", {{"cidrs", {"192.168.56.0/24", "10.0.0.0/8"}}}},
  };
  for (const Case& c : cases) {
    INFO(c.method);
    auto p = OperatorMergePatch(AddressFamily::kIpv6, c.method);
    REQUIRE(p.ok());
    json ad = (*p)["spec"]["calicoNetwork"]["nodeAddressAutodetectionV6"];
    json set = json::object();
    for (const auto& [k, v] : ad.items())
      if (!v.is_null()) set[k] = v;
    CHECK(set == c.field);
  }
  auto cmd = OperatorPatchCommand(AddressFamily::kIpv4, "interface=it's");
  REQUIRE(cmd.ok());
  CHECK_THAT(*cmd, Catch::StartsWith("kubectl patch installation default --type=merge -p '{\"spec\""));
  CHECK_THAT(*cmd, Catch::Contains("it'\\''s"));
  CHECK_FALSE(OperatorPatchCommand(AddressFamily::kIpv4, "bogus").ok());
}

}  // namespace
}  // namespace nodeagent::calico
