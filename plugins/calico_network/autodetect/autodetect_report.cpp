#include "autodetect_report.h"

namespace nodeagent::calico {

namespace {

const char* FamilyLabel(AddressFamily f) { return f == AddressFamily::kIpv4 ? "IPv4" : "IPv6"; }

nlohmann::json PickJson(const Result<Pick>& pick) {
  if (!pick) return {{"error", pick.error().message()}};
  return {{"interface", pick->interface}, {"address", pick->address.ToString()}, {"why", pick->why}};
}

}  // namespace

std::optional<IpAddress> AddressOfCidr(std::string_view text) {
  auto slash = text.find('/');
  return IpAddress::Parse(text.substr(0, slash));
}

AutodetectReport ReportAutodetection(NetworkInfo& network, const AutodetectReportInputs& in) {
  AutodetectReport out;
  const std::string env = std::string(MethodEnvName(in.family));
  const std::string method_text = in.method_text.empty() ? "first-found" : in.method_text;
  const std::string subject = "autodetection/" + std::string(in.family == AddressFamily::kIpv4 ? "ipv4" : "ipv6");
  out.internal_ip = FirstInternalIp(in.inputs, in.family);
  auto use = CalicoAutodetects(in.family, in.ip_env, in.current_ip);
  out.data = {{"family", in.family == AddressFamily::kIpv4 ? 4 : 6},
              {"method", method_text},
              {"source", in.method_source},
              {"autodetects", use.autodetects},
              {"autodetects_why", use.why},
              {"picks", nlohmann::json::object()},
              {"internal_ip", out.internal_ip ? nlohmann::json(out.internal_ip->ToString()) : nlohmann::json(nullptr)},
              {"current_ip", in.current_ip.empty() ? nlohmann::json(nullptr) : nlohmann::json(in.current_ip)},
              {"ok", true},
              {"suggestion", ""}};

  auto method = ParseAutodetectionMethod(method_text);
  if (!method) {
    out.ok = false;
    out.findings.push_back({Severity::kError, subject,
                            env + "=" + method_text + " (" + in.method_source + ") is not valid: " +
                                method.error().message() + "; calico-node refuses to start with it"});
    out.data["ok"] = false;
    return out;
  }
  auto configured = Autodetect(*method, network, in.family, in.inputs);
  out.data["picks"][method_text] = PickJson(configured);
  if (configured) out.pick = *configured;

  // The alternatives an operator weighs, computed on the same tables.
  std::vector<std::string> alternatives = {"first-found"};
  if (in.inputs.node_known) alternatives.push_back("kubernetes-internal-ip");
  for (const auto& alt : alternatives) {
    if (out.data["picks"].contains(alt)) continue;
    auto m = ParseAutodetectionMethod(alt);
    if (m) out.data["picks"][alt] = PickJson(Autodetect(*m, network, in.family, in.inputs));
  }

  // Which address calico-node ends up with: the configured pick when it
  // autodetects, else IP as given.
  std::optional<IpAddress> used;
  std::string used_text;
  if (use.autodetects) {
    if (!configured) {
      out.ok = false;
      out.findings.push_back({Severity::kError, subject,
                              env + "=" + method_text + " finds no " + FamilyLabel(in.family) +
                                  " address on this node: " + configured.error().message()});
    } else {
      used = configured->address.address;
      used_text = method_text + " picks " + configured->address.address.ToString() +
                  (configured->interface.empty() ? "" : " on " + configured->interface);
    }
  } else if (auto given = AddressOfCidr(in.ip_env)) {
    used = *given;
    used_text = (in.family == AddressFamily::kIpv4 ? "IP=" : "IP6=") + in.ip_env + " is given";
  } else if (auto current = AddressOfCidr(in.current_ip)) {
    used = *current;
    used_text = "calico-node keeps " + in.current_ip + " (" + use.why + ")";
  }

  if (used && out.internal_ip && *used != *out.internal_ip) {
    out.ok = false;
    std::string message;
    if (use.autodetects && configured) {
      auto cmp = CompareWithInternalIp(*method, *configured, network, in.family, in.inputs);
      if (cmp) {
        message = cmp->suggestion;
        out.suggested_method = cmp->suggested_method;
      } else {
        message = used_text + "; InternalIP is " + out.internal_ip->ToString();
      }
    } else {
      message = used_text + "; InternalIP is " + out.internal_ip->ToString() +
                "; BGP peers reach this node at an address the cluster does not use for it";
    }
    out.findings.push_back({Severity::kError, subject, message});
    out.data["suggestion"] = message;
  } else if (used && !out.internal_ip && in.inputs.node_known) {
    out.findings.push_back({Severity::kWarning, subject,
                            used_text + "; the Node has no " + std::string(FamilyLabel(in.family)) +
                                " InternalIP to compare with"});
  } else if (used && out.internal_ip) {
    out.findings.push_back({Severity::kInfo, subject, used_text + ", the Node's InternalIP"});
  } else if (used) {
    out.findings.push_back({Severity::kInfo, subject, used_text + " (the Node is not known: not compared)"});
  }

  // What BGP peers dial now: the annotation calico-node wrote last time.
  if (auto current = AddressOfCidr(in.current_ip)) {
    const std::string peers_reach = "BGP peers reach this node at " + in.current_ip + " (its projectcalico.org/" +
                                    (in.family == AddressFamily::kIpv4 ? "IPv4" : "IPv6") +
                                    "Address), not at its InternalIP " +
                                    (out.internal_ip ? out.internal_ip->ToString() : "");
    if (out.internal_ip && *current != *out.internal_ip && used && *used == *out.internal_ip) {
      // The configuration is right; calico-node has not restarted since.
      out.findings.push_back({Severity::kWarning, subject,
                              peers_reach + "; calico-node takes " + used->ToString() +
                                  " when its pod restarts (kubectl rollout restart daemonset/calico-node)"});
    } else if (out.internal_ip && *current != *out.internal_ip) {
      out.ok = false;
      out.findings.push_back({Severity::kError, subject, peers_reach});
    } else if (used && *current != *used) {
      out.findings.push_back({Severity::kWarning, subject,
                              "calico-node uses " + in.current_ip + " now and will take " + used->ToString() +
                                  " when it restarts"});
    }
  }
  out.data["ok"] = out.ok;
  if (!out.suggested_method.empty()) out.data["suggested_method"] = out.suggested_method;
  return out;
}

}  // namespace nodeagent::calico
