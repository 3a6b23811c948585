// A driver for tests/system/join_prep_firewall.sh: reads firewalld or ufw
// on the real host it runs on (inside the booted container), prints what
// join-prep's firewall check would see as one JSON document (the state, the
// zone a connection lands in, a verdict per port, the fix it would plan)
// and, with --fix, carries the fix out through ApplyStep and reads again.
// Until the glue runs `agentctl run join-prep`, this is how the system test
// exercises firewalld.h and ufw.h against the real tools.
//
// Usage: join_prep_fwmgr_probe firewalld|ufw [--port 10250/tcp]... [--ipip]
//            [--iif eth0] [--saddr 10.79.0.2] [--daddr ...] [--from CIDR] [--fix]
// Exit: 0 printed (and fixed); 1 a read or a step failed; 2 bad usage.
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "check.h"
#include "firewall/firewalld.h"
#include "firewall/ufw.h"
#include "nodeagent/params.h"
#include "host/local_host.h"

using namespace nodeagent;
using namespace nodeagent::join_prep;
using nlohmann::json;

namespace {

struct Options {
  std::string manager;
  std::vector<RequiredPort> ports;
  std::string iif, saddr, daddr, from;
  bool fix = false;
};

int Usage(const std::string& why) {
  std::cerr << "fwmgr_probe: " << why << "\n"
            << "usage: join_prep_fwmgr_probe firewalld|ufw [--port 10250/tcp]... [--ipip] [--iif IF] [--saddr A]"
               " [--daddr A] [--from CIDR] [--fix]\n";
  return 2;
}

json VerdictJson(const RuleVerdict& v) {
  return {{"verdict", VerdictName(v.verdict)}, {"manager", v.manager}, {"chain", v.chain}, {"rule", v.rule}, {"note", v.note}};
}

json FixJson(const Fix& fix) {
  json steps = json::array();
  for (const auto& s : fix.steps) steps.push_back({{"run", CommandLine(s.argv)}, {"description", s.description}});
  return {{"steps", steps}, {"warning", fix.warning}};
}

std::string PortName(const RequiredPort& p) {
  return p.proto == Proto::kIpip ? "ipip" : FormatPortRange(p.ports) + "/" + ProtoName(p.proto);
}

Packet MakePacket(const Options& o, const RequiredPort& p) {
  Packet packet;
  packet.family = o.saddr.find(':') != std::string::npos ? 6 : 4;
  packet.saddr = o.saddr;
  packet.daddr = o.daddr;
  packet.iifname = o.iif;
  packet.proto = p.proto;
  packet.dport = p.ports.first;
  return packet;
}

/// Reads the manager; fills `out` and returns the ports it does not accept
/// and the fix for them. False when the read failed.
bool Probe(Host& host, const Options& o, json& out, Fix& fix) {
  std::vector<RequiredPort> closed;
  if (o.manager == "firewalld") {
    auto state = ReadFirewalld(host);
    if (!state) {
      out["error"] = state.error().ToString();
      return false;
    }
    out["installed"] = state->installed;
    out["running"] = state->running;
    out["default_zone"] = state->default_zone;
    json zones = json::array();
    for (const auto& z : state->zones) {
      json ports = json::array();
      for (const auto& p : z.ports) ports.push_back(FormatPortRange(p.ports) + "/" + p.protocol);
      zones.push_back({{"name", z.name}, {"target", z.target}, {"interfaces", z.interfaces}, {"sources", z.sources},
                       {"services", z.services}, {"ports", ports}, {"protocols", z.protocols}, {"rich_rules", z.rich_rules}});
    }
    out["zones"] = zones;
    auto match = MatchFirewalldZone(*state, o.iif, o.saddr);
    out["zone_for"] = {{"zone", match.zone}, {"reason", match.reason}, {"certain", match.certain}, {"note", match.note}};
    out["zone_allows"] = json::object();
    out["verdicts"] = json::object();
    for (const auto& p : o.ports) {
      out["zone_allows"][PortName(p)] = ZoneAllows(*state, match.zone, p);
      RuleVerdict v = EvaluateFirewalld(*state, MakePacket(o, p), p);
      out["verdicts"][PortName(p)] = VerdictJson(v);
      if (state->running && v.verdict != Verdict::kAccept) closed.push_back(p);
    }
    fix = FirewalldOpenPorts(match.zone, closed);
  } else {
    auto state = ReadUfw(host);
    if (!state) {
      out["error"] = state.error().ToString();
      return false;
    }
    out["installed"] = state->installed;
    out["active"] = state->active;
    out["default_incoming"] = state->default_incoming;
    json rules = json::array();
    for (const auto& r : state->rules) rules.push_back({{"line", r.line}, {"text", r.text}, {"action", r.action},
                                                        {"direction", r.direction}, {"v6", r.v6}, {"from", r.from_address}});
    out["rules"] = rules;
    out["verdicts"] = json::object();
    for (const auto& p : o.ports) {
      RuleVerdict v = EvaluateUfw(*state, MakePacket(o, p), p);
      out["verdicts"][PortName(p)] = VerdictJson(v);
      if (state->active && v.verdict != Verdict::kAccept) closed.push_back(p);
    }
    fix = UfwAllowPorts(closed, o.from);
  }
  out["fix"] = FixJson(fix);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || (args[0] != "firewalld" && args[0] != "ufw")) return Usage("first argument: firewalld or ufw");
  o.manager = args[0];
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string { return i + 1 < args.size() ? args[++i] : std::string(); };
    if (a == "--fix") {
      o.fix = true;
    } else if (a == "--ipip") {
      o.ports.push_back({{0, 0}, Proto::kIpip, "IPIP"});
    } else if (a == "--port") {
      std::string v = value();
      auto slash = v.find('/');
      auto range = ParsePortRange(v.substr(0, slash));
      std::string proto = slash == std::string::npos ? "tcp" : v.substr(slash + 1);
      if (!range || (proto != "tcp" && proto != "udp")) return Usage("bad --port " + v);
      o.ports.push_back({*range, proto == "tcp" ? Proto::kTcp : Proto::kUdp, "probe"});
    } else if (a == "--iif") {
      o.iif = value();
    } else if (a == "--saddr") {
      o.saddr = value();
    } else if (a == "--daddr") {
      o.daddr = value();
    } else if (a == "--from") {
      o.from = value();
    } else {
      return Usage("unknown argument " + a);
    }
  }
  RealHost host("/");
  json out;
  Fix fix;
  bool ok = Probe(host, o, out, fix);
  if (ok && o.fix) {
    json applied = json::array();
    for (const auto& step : fix.steps) {
      Status s = ApplyStep(host, step);
      applied.push_back({{"run", CommandLine(step.argv)}, {"ok", s.ok()}, {"error", s.ok() ? "" : s.error().message()}});
      if (!s.ok()) ok = false;
    }
    out["applied"] = applied;
    if (ok) {
      json after;
      Fix again;
      ok = Probe(host, o, after, again);
      out["after"] = after;
    }
  }
  std::cout << out.dump(2) << std::endl;
  return ok ? 0 : 1;
}
