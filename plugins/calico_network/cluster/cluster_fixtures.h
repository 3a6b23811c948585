// Objects shaped like the API server's, for the cluster units' tests: a
// manifest-install calico-node DaemonSet (kube-system, env as Calico's
// calico.yaml has it), the operator's (calico-system, owned by Installation
// default), an Installation, Nodes with calico-node's annotations.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace nodeagent::calico::fixtures {

using nlohmann::json;

inline json CalicoNodeDaemonSet(const std::string& ns, json env) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "DaemonSet"},
          {"metadata", {{"name", "calico-node"}, {"namespace", ns}, {"resourceVersion", "41"}}},
          {"spec",
           {{"selector", {{"matchLabels", {{"k8s-app", "calico-node"}}}}},
            {"template",
             {{"metadata", {{"labels", {{"k8s-app", "calico-node"}}}}},
              {"spec",
               {{"containers",
                 json::array({{{"name", "install-cni-sidecar"}, {"image", "busybox"}},
                              {{"name", "calico-node"}, {"image", "docker.io/calico/node:v3.27.3"}, {"env", env}}})}}}}}}}};
}

inline json ManifestEnv() {
  return json::array({{{"name", "DATASTORE_TYPE"}, {"value", "kubernetes"}},
                      {{"name", "CLUSTER_TYPE"}, {"value", "k8s,bgp"}},
                      {{"name", "IP"}, {"value", "autodetect"}},
                      {{"name", "IP_AUTODETECTION_METHOD"}, {"value", "first-found"}},
                      {{"name", "NODENAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.nodeName"}}}}}}});
}

inline json OperatorDaemonSet() {
  json ds = CalicoNodeDaemonSet("calico-system", json::array({{{"name", "IP"}, {"value", "autodetect"}},
                                                              {{"name", "IP_AUTODETECTION_METHOD"},
                                                               {"value", "interface=eth1"}}}));
  ds["metadata"]["ownerReferences"] = json::array({{{"apiVersion", "operator.tigera.io/v1"},
                                                    {"kind", "Installation"},
                                                    {"name", "default"},
                                                    {"uid", "0b6c1c9e-0000-4000-8000-000000000001"},
                                                    {"controller", true},
                                                    {"blockOwnerDeletion", true}}});
  return ds;
}

inline json Installation(json v4) {
  json inst = {{"apiVersion", "operator.tigera.io/v1"}, {"kind", "Installation"}, {"metadata", {{"name", "default"}}},
               {"spec", {{"calicoNetwork", json::object()}}}};
  if (!v4.is_null()) inst["spec"]["calicoNetwork"]["nodeAddressAutodetectionV4"] = v4;
  return inst;
}

inline json Node(const std::string& name, const std::string& internal_ip, const std::string& annotation = "") {
  json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata", {{"name", name}, {"annotations", json::object()}}},
               {"status",
                {{"addresses", json::array({{{"type", "InternalIP"}, {"address", internal_ip}},
                                            {{"type", "Hostname"}, {"address", name}}})},
                 {"nodeInfo", {{"kubeletVersion", "v1.29.4"}}}}}};
  if (!annotation.empty()) node["metadata"]["annotations"]["projectcalico.org/IPv4Address"] = annotation;
  return node;
}

}  // namespace nodeagent::calico::fixtures
