#include "cluster/calico_node.h"

#include <catch2/catch.hpp>

#include "cluster/cluster_fixtures.h"
#include "testing/fake_kube_client.h"

namespace nodeagent::calico {
namespace {

using nlohmann::json;
namespace fx = fixtures;

std::vector<std::string> Texts(const std::vector<IpAddress>& v) {
  std::vector<std::string> out;
  for (const IpAddress& a : v) out.push_back(a.ToString());
  return out;
}

TEST_CASE("ReadCalicoNode: addresses, calico-node's annotations, kubelet version") {
  FakeKubeClient kube;
  json node = fx::Node("worker-1", "192.168.56.11", "10.0.2.15/24");
  node["metadata"]["annotations"]["projectcalico.org/IPv6Address"] = "fd00::11/64";
  kube.Answer("GET /api/v1/nodes/worker-1", node);
  auto v = ReadCalicoNode(kube, "worker-1");
  REQUIRE(v.ok());
  CHECK(v->name == "worker-1");
  REQUIRE(v->addresses.size() == 2);
  CHECK(v->addresses[0].type == "InternalIP");
  CHECK(v->addresses[0].address == "192.168.56.11");
  CHECK(v->ipv4_annotation == "10.0.2.15/24");
  CHECK(v->ipv6_annotation == "fd00::11/64");
  CHECK(v->kubelet_version == "v1.29.4");
  CHECK(ToJson(*v)["ipv4_annotation"] == "10.0.2.15/24");

  kube.Fail("GET /api/v1/nodes/gone", 404, "NotFound");
  auto gone = ReadCalicoNode(kube, "gone");
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code() == ErrorCode::kNotFound);
  CHECK_THAT(gone.error().message(), Catch::Contains("reading Node gone"));
}

TEST_CASE("PeerAddresses: the annotation without prefix, else InternalIP; self left out; bounded") {
  json list = {{"items", json::array({fx::Node("a", "192.168.56.10", "192.168.56.10/24"),
                                      fx::Node("b", "192.168.56.11"),  // no annotation yet
                                      fx::Node("self", "192.168.56.12", "192.168.56.12/24"),
                                      fx::Node("c", "192.168.56.13", "10.0.2.15/24"),  // Calico picked NAT
                                      fx::Node("d", "192.168.56.10"),                  // duplicate
                                      fx::Node("e", "fd00::1")})}};  // no IPv4 at all
  CHECK(Texts(PeerAddresses(list, "self")) ==
        std::vector<std::string>{"192.168.56.10", "192.168.56.11", "10.0.2.15"});
  CHECK(Texts(PeerAddresses(list, "self", AddressFamily::kIpv4, 2)) ==
        std::vector<std::string>{"192.168.56.10", "192.168.56.11"});
  CHECK(Texts(PeerAddresses(list, "self", AddressFamily::kIpv6)) == std::vector<std::string>{"fd00::1"});
  CHECK(PeerAddresses(json::object(), "self").empty());
}

TEST_CASE("ReadPeerAddresses follows continue tokens") {
  FakeKubeClient kube;
  kube.Answer("GET /api/v1/nodes", {{"items", json::array({fx::Node("a", "10.0.0.1")})}, {"metadata", {{"continue", ""}}}});
  auto peers = ReadPeerAddresses(kube, "self");
  REQUIRE(peers.ok());
  CHECK(Texts(*peers) == std::vector<std::string>{"10.0.0.1"});
  CHECK(FakeKubeClient::Query(kube.sent.at(0), "limit") == "500");

  kube.Fail("GET /api/v1/nodes", 503, "ServiceUnavailable");
  auto failed = ReadPeerAddresses(kube, "self");
  REQUIRE_FALSE(failed.ok());
  CHECK_THAT(failed.error().message(), Catch::Contains("listing Nodes for the BGP peers"));
}

}  // namespace
}  // namespace nodeagent::calico

namespace nodeagent::calico {
namespace {

TEST_CASE("ill-typed Node fields read as empty, never throw") {
  json node = {{"metadata", {{"name", "a"}, {"annotations", {{"projectcalico.org/IPv4Address", 1}}}}},
               {"status", {{"addresses", json::array({"x", {{"type", "InternalIP"}, {"address", 10}}})}}}};
  CalicoNodeView v;
  REQUIRE_NOTHROW(v = DescribeNode(node));
  CHECK(v.ipv4_annotation.empty());
  CHECK(PeerAddresses({{"items", json::array({node, "x"})}}, "self").empty());
}

}  // namespace
}  // namespace nodeagent::calico
