#include "cluster/calico_node.h"

#include <algorithm>

#include "cluster/json_fields.h"

namespace nodeagent::calico {
namespace {

using nlohmann::json;
using jsonf::At;
using jsonf::Str;

std::string Annotation(const json& node, const char* key) {
  const json& a = At(node, "/metadata/annotations");
  auto it = a.is_object() ? a.find(key) : a.end();
  if (!a.is_object() || it == a.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

CalicoNodeView DescribeNode(const json& node) {
  CalicoNodeView v;
  v.name = Str(node, "/metadata/name");
  const json& addresses = At(node, "/status/addresses");
  if (addresses.is_array()) {
    for (size_t i = 0; i < addresses.size() && i < 32; ++i) {
      if (!addresses[i].is_object()) continue;
      v.addresses.push_back({Str(addresses[i], "/type"), Str(addresses[i], "/address")});
    }
  }
  v.ipv4_annotation = Annotation(node, kIpv4AddressAnnotation);
  v.ipv6_annotation = Annotation(node, kIpv6AddressAnnotation);
  v.kubelet_version = Str(node, "/status/nodeInfo/kubeletVersion");
  return v;
}

Result<CalicoNodeView> ReadCalicoNode(KubeClient& client, const std::string& node) {
  KubeResult<json> got = client.GetNode(node);
  if (!got.ok()) return got.error().Wrap("reading Node " + node + " (GET /api/v1/nodes/" + node + ")");
  return DescribeNode(*got);
}

std::vector<IpAddress> PeerAddresses(const json& node_list, std::string_view self, AddressFamily family, size_t max) {
  std::vector<IpAddress> out;
  const json& items = At(node_list, "/items");
  if (!items.is_array()) return out;
  for (const json& node : items) {
    if (out.size() >= max) break;
    CalicoNodeView v = DescribeNode(node);
    if (v.name == self) continue;
    std::optional<IpAddress> ip;
    std::string annotation = family == AddressFamily::kIpv4 ? v.ipv4_annotation : v.ipv6_annotation;
    if (auto prefix = IpPrefix::Parse(annotation); prefix && prefix->address.family == family) {
      ip = prefix->address;
    } else if (auto plain = IpAddress::Parse(annotation); plain && plain->family == family) {
      ip = plain;
    }
    for (size_t i = 0; !ip && i < v.addresses.size(); ++i) {
      if (v.addresses[i].type != "InternalIP") continue;
      if (auto a = IpAddress::Parse(v.addresses[i].address); a && a->family == family) ip = a;
    }
    if (ip && std::find(out.begin(), out.end(), *ip) == out.end()) out.push_back(*ip);
  }
  return out;
}

Result<std::vector<IpAddress>> ReadPeerAddresses(KubeClient& client, std::string_view self, AddressFamily family,
                                                 size_t max) {
  constexpr size_t kMaxNodes = 5000;
  json all = {{"items", json::array()}};
  ListOptions options;
  options.limit = 500;
  for (;;) {
    KubeResult<json> page = client.ListNodes(options);
    if (!page.ok()) return page.error().Wrap("listing Nodes for the BGP peers (GET /api/v1/nodes)");
    const json& items = At(*page, "/items");
    if (!items.is_array()) break;
    for (const json& item : items) {
      if (all["items"].size() >= kMaxNodes) break;
      all["items"].push_back(item);
    }
    options.continue_token = Str(*page, "/metadata/continue");
    if (options.continue_token.empty() || all["items"].size() >= kMaxNodes) break;
  }
  return PeerAddresses(all, self, family, max);
}

json ToJson(const CalicoNodeView& v) {
  json addresses = json::array();
  for (const NodeAddress& a : v.addresses) addresses.push_back({{"type", a.type}, {"address", a.address}});
  return {{"name", v.name},
          {"addresses", addresses},
          {"ipv4_annotation", v.ipv4_annotation},
          {"ipv6_annotation", v.ipv6_annotation},
          {"kubelet_version", v.kubelet_version}};
}

}  // namespace nodeagent::calico
