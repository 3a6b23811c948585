// A driver for the firewall namespace tests: runs the iptables-legacy
// evaluator or the whole firewall check against the real host it runs on
// (under `ip netns exec NS`, that namespace's rules, routes and addresses)
// and prints the answer as JSON; with --fix it carries the planned fix steps
// out. Files (the saved rules a fix may edit) are read under --root, so a
// test never touches the machine's own /etc.
//
//   join_prep_firewall_probe evaluate --root DIR --family 4 --proto tcp --port 6443
//       [--saddr A] [--daddr A] [--iif NAME] [--fix]
//   join_prep_firewall_probe check --root DIR --role worker|control-plane
//       --cni calico|none [--endpoint H:P] [--extra-ports 8080,9000-9001] [--report-only] [--fix]
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "check.h"
#include "firewall/firewall_check.h"
#include "firewall/iptables_evaluator.h"
#include "host/local_host.h"
#include "join_options.h"

namespace nodeagent::join_prep {
namespace {

struct Args {
  std::string mode;
  std::map<std::string, std::string> values;
  bool fix = false;
  bool report_only = false;
  std::string Get(const std::string& k, const std::string& dflt = "") const {
    auto it = values.find(k);
    return it == values.end() ? dflt : it->second;
  }
};

int Fail(const std::string& msg) {
  std::cerr << "firewall_probe: " << msg << "\n";
  return 2;
}

nlohmann::json StepJson(const FixStep& s) {
  if (s.kind == FixStep::Kind::kCommand) return {{"run", CommandLine(s.argv)}};
  if (s.kind == FixStep::Kind::kEditFile) return {{"edit", s.edit.path}, {"after", s.edit.after}};
  return {{"write", s.path}};
}

int ApplySteps(Host& host, const std::vector<FixStep>& steps, nlohmann::json& out) {
  for (const auto& s : steps) {
    auto st = ApplyStep(host, s);
    if (!st) {
      out["apply_error"] = st.error().message();
      return 1;
    }
  }
  out["applied"] = true;
  return 0;
}

Proto ParseProto(const std::string& p) {
  if (p == "udp") return Proto::kUdp;
  if (p == "ipip") return Proto::kIpip;
  return Proto::kTcp;
}

int Evaluate(const Args& a) {
  RealHost host(a.Get("root", "/"));
  int family = std::stoi(a.Get("family", "4"));
  std::string tool = family == 6 ? "ip6tables-legacy-save" : "iptables-legacy-save";
  CommandSpec spec;
  spec.argv = {tool};
  spec.read_only = true;
  auto save = host.commands().Run(spec);
  if (!save) return Fail(save.error().message());
  if (!save->succeeded()) return Fail(tool + " failed: " + save->stderr_data);
  auto parsed = IptablesRuleset::Parse(save->stdout_data, family == 6 ? "ip6tables-legacy" : "iptables-legacy");
  if (!parsed) return Fail(parsed.error().message());
  Packet p;
  p.family = family;
  p.proto = ParseProto(a.Get("proto", "tcp"));
  p.dport = p.proto == Proto::kIpip ? 0 : static_cast<uint16_t>(std::stoi(a.Get("port", "0")));
  p.saddr = a.Get("saddr");
  p.daddr = a.Get("daddr");
  p.iifname = a.Get("iif");
  RuleVerdict v = parsed->Evaluate(p);
  nlohmann::json out = {{"verdict", VerdictName(v.verdict)},
                        {"manager", v.manager},
                        {"table", v.table},
                        {"chain", v.chain},
                        {"rule", v.rule},
                        {"note", v.note},
                        {"filters_input", parsed->FiltersInput()}};
  int rc = 0;
  if (a.fix) {
    RequiredPort port{{p.dport, p.dport}, p.proto, "probe"};
    std::string warning;
    auto steps = PlanIptablesOpen(host.files(), *parsed, {{port, {p}}}, &warning);
    if (!steps) {
      out["fix_error"] = steps.error().message();
      rc = 1;
    } else {
      std::vector<FixStep> all;
      for (const auto& list : *steps) all.insert(all.end(), list.begin(), list.end());
      out["fix"] = nlohmann::json::array();
      for (const auto& s : all) out["fix"].push_back(StepJson(s));
      out["fix_warning"] = warning;
      rc = ApplySteps(host, all, out);
    }
  }
  std::cout << out.dump() << "\n";
  return rc;
}

int Check(const Args& a) {
  RealHost host(a.Get("root", "/"));
  JoinOptions o;
  o.role = a.Get("role", "worker") == "control-plane" ? Role::kControlPlane : Role::kWorker;
  o.cni = a.Get("cni", "calico") == "none" ? Cni::kNone : Cni::kCalico;
  o.endpoint = a.Get("endpoint");
  o.firewall_fix = a.report_only ? FirewallFix::kReport : FirewallFix::kOpenPorts;
  std::string extra = a.Get("extra-ports");
  size_t start = 0;
  while (!extra.empty() && start <= extra.size()) {
    auto comma = extra.find(',', start);
    auto r = ParsePortRange(extra.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!r) return Fail(r.error().message());
    o.extra_ports.push_back(*r);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  CheckInputs in{host, o};
  FirewallReport rep = CheckFirewall(in);
  nlohmann::json out;
  out["ports"] = rep.ports;
  out["checks"] = nlohmann::json::array();
  std::vector<FixStep> all;
  for (const auto& c : rep.checks) {
    nlohmann::json j = {{"id", c.id},
                        {"severity", CheckSeverityName(c.severity)},
                        {"status", CheckStatusName(c.status)},
                        {"message", c.message},
                        {"hint", c.hint}};
    if (c.fix) {
      j["fix"] = {{"id", c.fix->id}, {"warning", c.fix->warning}, {"steps", nlohmann::json::array()}};
      for (const auto& s : c.fix->steps) j["fix"]["steps"].push_back(StepJson(s));
      all.insert(all.end(), c.fix->steps.begin(), c.fix->steps.end());
    }
    out["checks"].push_back(j);
  }
  int rc = 0;
  if (a.fix) rc = ApplySteps(host, all, out);
  std::cout << out.dump() << "\n";
  return rc;
}

int Main(int argc, char** argv) {
  if (argc < 2) return Fail("usage: firewall_probe evaluate|check [--key value]... [--fix]");
  Args a;
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--fix") {
      a.fix = true;
    } else if (k == "--report-only") {
      a.report_only = true;
    } else if (k.rfind("--", 0) == 0 && i + 1 < argc) {
      a.values[k.substr(2)] = argv[++i];
    } else {
      return Fail("unexpected argument " + k);
    }
  }
  if (a.mode == "evaluate") return Evaluate(a);
  if (a.mode == "check") return Check(a);
  return Fail("unknown mode " + a.mode);
}

}  // namespace
}  // namespace nodeagent::join_prep

int main(int argc, char** argv) { return nodeagent::join_prep::Main(argc, argv); }
