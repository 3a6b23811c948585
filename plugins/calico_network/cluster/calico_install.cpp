#include "cluster/calico_install.h"

#include <map>

#include "cluster/json_fields.h"

namespace nodeagent::calico {
namespace {

using nlohmann::json;
using jsonf::At;
using jsonf::Str;

constexpr const char* kEnvNames[] = {"IP_AUTODETECTION_METHOD", "IP6_AUTODETECTION_METHOD", "IP", "IP6"};
constexpr size_t kMaxContainers = 64;
constexpr size_t kMaxEnv = 2000;

// Fills one setting from the container's env entry `entry` at `index`.
EnvSetting ReadEntry(const std::string& name, const json& entry, int index) {
  EnvSetting s;
  s.name = name;
  s.present = true;
  s.index = index;
  s.entry = entry;
  const json& from = At(entry, "/valueFrom");
  if (!from.is_object()) {
    s.known = true;
    s.value = Str(entry, "/value");
    s.source = "value";
    return s;
  }
  s.from_value_from = true;
  if (from.contains("configMapKeyRef")) {
    s.source = "ConfigMap " + Str(from, "/configMapKeyRef/name") + " key " + Str(from, "/configMapKeyRef/key");
  } else if (from.contains("fieldRef")) {
    s.source = "fieldRef " + Str(from, "/fieldRef/fieldPath") + " (cannot be known before the pod runs)";
  } else if (from.contains("secretKeyRef")) {
    s.source = "Secret " + Str(from, "/secretKeyRef/name") + " (not read: nodeagent does not read Secrets)";
  } else if (from.contains("resourceFieldRef")) {
    s.source = "resourceFieldRef " + Str(from, "/resourceFieldRef/resource") + " (cannot be known here)";
  } else {
    s.source = "valueFrom of an unknown kind (cannot be known here)";
  }
  return s;
}

// Resolves configMapKeyRef settings in `install` (namespace of the DaemonSet).
void ResolveConfigMaps(KubeClient& client, CalicoInstall& install) {
  std::map<std::string, KubeResult<json>> cache;
  for (EnvSetting& s : install.settings) {
    if (!s.present || !s.from_value_from) continue;
    const json& ref = At(s.entry, "/valueFrom/configMapKeyRef");
    if (!ref.is_object()) continue;
    std::string cm = Str(ref, "/name");
    std::string key = Str(ref, "/key");
    bool optional = jsonf::Bool(ref, "/optional", false);
    s.source = "ConfigMap " + install.ns + "/" + cm + " key " + key;
    auto path = ResourcePath({"", "v1", "configmaps", install.ns, cm});
    if (!path.ok()) {
      install.notes.push_back(s.name + ": " + path.error().message());
      continue;
    }
    auto it = cache.find(cm);
    if (it == cache.end()) it = cache.emplace(cm, client.Request(KubeRequest::Get(*path))).first;
    const KubeResult<json>& got = it->second;
    if (!got.ok()) {
      if (got.error().code() == ErrorCode::kNotFound && optional) {
        s.known = true;  // optional and missing: the variable is unset in the pod
        s.value = "";
        s.source += " (optional, ConfigMap missing: unset)";
      } else {
        install.notes.push_back(s.name + ": reading ConfigMap " + install.ns + "/" + cm +
                                " (GET " + *path + "): " + got.error().message());
      }
      continue;
    }
    const json& data = At(*got, "/data");
    auto entry = data.is_object() ? data.find(key) : data.end();
    if (data.is_object() && entry != data.end() && entry->is_string()) {
      s.known = true;
      s.value = entry->get<std::string>();
    } else if (optional) {
      s.known = true;
      s.source += " (optional, key missing: unset)";
    } else {
      install.notes.push_back(s.name + ": ConfigMap " + install.ns + "/" + cm + " has no key " + key +
                              ": the pod cannot start until it has");
    }
  }
}

const char* InstallationField(AddressFamily family) {
  return family == AddressFamily::kIpv4 ? "nodeAddressAutodetectionV4" : "nodeAddressAutodetectionV6";
}

}  // namespace

const EnvSetting* CalicoInstall::Setting(std::string_view env_name) const {
  for (const EnvSetting& s : settings)
    if (s.name == env_name) return &s;
  return nullptr;
}

const std::vector<std::string>& DefaultCalicoNamespaces() {
  static const std::vector<std::string> kDefault = {"kube-system", "calico-system"};
  return kDefault;
}

std::string OperatorOwnership(const json& ds) {
  const json& owners = At(ds, "/metadata/ownerReferences");
  if (owners.is_array()) {
    for (const json& o : owners) {
      std::string api = Str(o, "/apiVersion");
      if (api.rfind("operator.tigera.io/", 0) == 0) return "owned by " + Str(o, "/kind") + " " + Str(o, "/name") + " (" + api + ")";
    }
  }
  const json& annotations = At(ds, "/spec/template/metadata/annotations");
  if (annotations.is_object()) {
    for (const auto& [k, v] : annotations.items())
      if (k.rfind("hash.operator.tigera.io/", 0) == 0) return "pod template carries the operator's annotation " + k;
  }
  if (Str(ds, "/metadata/namespace") == "calico-system")
    return "in namespace calico-system, where tigera/operator installs Calico";
  return "";
}

std::string OperatorMethodText(const json& ad) {
  if (!ad.is_object()) return "";
  auto text = [&](const char* key) { return Str(ad, std::string("/") + key); };
  if (!text("interface").empty()) return "interface=" + text("interface");
  if (!text("skipInterface").empty()) return "skip-interface=" + text("skipInterface");
  if (!text("canReach").empty()) return "can-reach=" + text("canReach");
  if (jsonf::Bool(ad, "/firstFound", false)) return "first-found";
  const json& cidrs = At(ad, "/cidrs");
  if (cidrs.is_array() && !cidrs.empty()) {
    std::string out = "cidr=";
    for (size_t i = 0; i < cidrs.size() && i < 64; ++i) {
      if (i) out += ",";
      out += cidrs[i].is_string() ? cidrs[i].get<std::string>() : "";
    }
    return out;
  }
  if (text("kubernetes") == "NodeInternalIP") return "kubernetes-internal-ip";
  return "";
}

CalicoInstall DescribeDaemonSet(const json& ds) {
  CalicoInstall in;
  in.found = true;
  in.ns = Str(ds, "/metadata/namespace");
  in.name = Str(ds, "/metadata/name");
  in.resource_version = Str(ds, "/metadata/resourceVersion");
  in.operator_reason = OperatorOwnership(ds);
  in.operator_managed = !in.operator_reason.empty();
  const json& containers = At(ds, "/spec/template/spec/containers");
  json container;
  if (containers.is_array()) {
    for (size_t i = 0; i < containers.size() && i < kMaxContainers; ++i) {
      if (Str(containers[i], "/name") == "calico-node") {
        in.container_index = static_cast<int>(i);
        container = containers[i];
        break;
      }
    }
  }
  if (in.container_index < 0) in.notes.push_back("the DaemonSet has no container named calico-node");
  in.image = Str(container, "/image");
  in.env = At(container, "/env");
  for (const char* name : kEnvNames) {
    EnvSetting s;
    s.name = name;
    s.source = "unset";
    if (in.env.is_array()) {
      for (size_t i = 0; i < in.env.size() && i < kMaxEnv; ++i) {
        if (Str(in.env[i], "/name") == name) {
          s = ReadEntry(name, in.env[i], static_cast<int>(i));  // the last one wins, as in Kubernetes
        }
      }
    }
    in.settings.push_back(std::move(s));
  }
  for (const char* ip : {"IP", "IP6"}) {
    const EnvSetting* s = in.Setting(ip);
    if (s->known && !s->value.empty() && s->value != "autodetect" && s->value != "none")
      in.notes.push_back(std::string(ip) + "=" + s->value + " is given on the DaemonSet: calico-node uses it on every node "
                         "and does not autodetect");
  }
  return in;
}

MethodReading EffectiveMethod(const CalicoInstall& in, AddressFamily family) {
  MethodReading m;
  std::string env_name(family == AddressFamily::kIpv4 ? "IP_AUTODETECTION_METHOD" : "IP6_AUTODETECTION_METHOD");
  if (in.operator_managed && in.installation_read) {
    const json& ad = family == AddressFamily::kIpv4 ? in.autodetection_v4 : in.autodetection_v6;
    m.known = true;
    m.value = OperatorMethodText(ad);
    m.source = std::string("Installation default spec.calicoNetwork.") + InstallationField(family);
    if (m.value.empty()) m.source += ad.is_null() ? " (unset: the operator renders IP" : " (no method set: the operator renders IP";
    if (m.value.empty()) m.source += family == AddressFamily::kIpv4 ? "=none, no autodetection)" : "6=none, no autodetection)";
    return m;
  }
  const EnvSetting* s = in.Setting(env_name);
  std::string where = "DaemonSet " + in.ns + "/" + in.name + " env " + env_name;
  if (in.operator_managed) where += " (as the operator rendered it; Installation default not read)";
  if (s == nullptr || !s->present) {
    m.known = true;
    m.value = "first-found";
    m.source = "unset: Calico's default first-found";
    return m;
  }
  m.known = s->known;
  m.value = s->value;
  m.source = s->from_value_from ? where + " from " + s->source : where;
  if (s->known && s->value.empty()) {
    m.value = "first-found";  // calico-node treats "" as first-found
    m.source += " (empty: Calico's default first-found)";
  }
  return m;
}

Result<CalicoInstall> ReadCalicoInstall(KubeClient& client, const std::vector<std::string>& namespaces,
                                        std::string_view name) {
  const std::vector<std::string>& where = namespaces.empty() ? DefaultCalicoNamespaces() : namespaces;
  std::string tried;
  for (const std::string& ns : where) {
    tried += (tried.empty() ? "" : ", ") + ns;
    auto path = ResourcePath({"apps", "v1", "daemonsets", ns, std::string(name)});
    if (!path.ok()) return path.error().Wrap("calico-node DaemonSet");
    KubeResult<json> ds = client.GetDaemonSet(ns, std::string(name));
    if (!ds.ok()) {
      if (ds.error().code() == ErrorCode::kNotFound) continue;
      return ds.error().Wrap("reading DaemonSet " + ns + "/" + std::string(name) + " (GET " + *path + ")");
    }
    CalicoInstall in = DescribeDaemonSet(*ds);
    if (in.ns.empty()) in.ns = ns;
    if (in.name.empty()) in.name = std::string(name);
    if (in.container_index >= 0) ResolveConfigMaps(client, in);
    if (in.operator_managed) {
      auto ipath = ResourcePath({"operator.tigera.io", "v1", "installations", "", "default"});
      KubeResult<json> inst = client.Request(KubeRequest::Get(*ipath));
      if (inst.ok()) {
        in.installation_read = true;
        in.autodetection_v4 = At(*inst, "/spec/calicoNetwork/nodeAddressAutodetectionV4");
        in.autodetection_v6 = At(*inst, "/spec/calicoNetwork/nodeAddressAutodetectionV6");
      } else {
        in.notes.push_back("reading Installation default (GET " + *ipath + "): " + inst.error().message());
      }
    }
    in.method_v4 = EffectiveMethod(in, AddressFamily::kIpv4);
    in.method_v6 = EffectiveMethod(in, AddressFamily::kIpv6);
    if (in.operator_managed && in.installation_read) {
      const EnvSetting* env = in.Setting("IP_AUTODETECTION_METHOD");
      std::string rendered = env && env->present && env->known ? env->value : "";
      if (rendered != in.method_v4.value)
        in.notes.push_back("the DaemonSet's IP_AUTODETECTION_METHOD (\"" + rendered +
                           "\") differs from what Installation default asks for (\"" + in.method_v4.value +
                           "\"): the operator has not reconciled yet");
    }
    return in;
  }
  CalicoInstall none;
  none.not_found = "DaemonSet " + std::string(name) + " not found in " + tried;
  none.method_v4 = {false, "", "no calico-node DaemonSet"};
  none.method_v6 = none.method_v4;
  return none;
}

json ToJson(const CalicoInstall& in) {
  json out = {{"found", in.found}};
  if (!in.found) {
    out["not_found"] = in.not_found;
    return out;
  }
  out["namespace"] = in.ns;
  out["name"] = in.name;
  out["resource_version"] = in.resource_version;
  out["operator_managed"] = in.operator_managed;
  if (in.operator_managed) out["operator_reason"] = in.operator_reason;
  out["image"] = in.image;
  out["container_index"] = in.container_index;
  json env = json::object();
  for (const EnvSetting& s : in.settings) {
    json e = {{"present", s.present}, {"source", s.source}};
    if (s.present) {
      e["index"] = s.index;
      e["known"] = s.known;
      if (s.known) e["value"] = s.value;
    }
    env[s.name] = e;
  }
  out["env"] = env;
  if (in.operator_managed) {
    out["installation_read"] = in.installation_read;
    out["installation_autodetection_v4"] = in.autodetection_v4;
    out["installation_autodetection_v6"] = in.autodetection_v6;
  }
  auto method = [](const MethodReading& m) { return json{{"known", m.known}, {"value", m.value}, {"source", m.source}}; };
  out["method_v4"] = method(in.method_v4);
  out["method_v6"] = method(in.method_v6);
  out["notes"] = in.notes;
  return out;
}

}  // namespace nodeagent::calico
