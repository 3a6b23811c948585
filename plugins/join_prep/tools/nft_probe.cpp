// join_prep_nft_probe: the nftables evaluator on the real host (or the
// network namespace it runs in), for the namespace test. It reads the rule
// set through the real CommandRunner (`nft -j list ruleset`, `nft -a list
// ruleset`), evaluates each packet given on the command line and prints the
// verdicts as JSON; with --fix it plans the fix, runs its steps and prints
// the verdicts read back afterwards.
//
//   join_prep_nft_probe [--family 4|6] [--saddr ADDR] [--daddr ADDR]
//                       [--iif NAME] [--fix] PROTO:PORT...   (tcp:6443 udp:8472 ipip)
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "check.h"
#include "firewall/nft_evaluator.h"
#include "firewall/nft_fix.h"
#include "host/local_host.h"

using namespace nodeagent;
using namespace nodeagent::join_prep;
using nlohmann::json;

namespace {

int Usage(const std::string& why) {
  std::cerr << "join_prep_nft_probe: " << why
            << "\nusage: join_prep_nft_probe [--family 4|6] [--saddr A] [--daddr A] [--iif NAME] [--fix] "
               "PROTO:PORT...\n";
  return 2;
}

json VerdictJson(const Packet& p, const RuleVerdict& v) {
  return json{{"proto", ProtoName(p.proto)}, {"dport", p.dport},   {"verdict", VerdictName(v.verdict)},
              {"family", v.family},          {"table", v.table},   {"chain", v.chain},
              {"rule", v.rule},              {"handle", v.handle}, {"note", v.note},
              {"owner", NftOwner(v.family, v.table, v.chain)}};
}

json Evaluate(const NftRuleset& rs, const std::vector<Packet>& packets) {
  json out = json::array();
  for (const auto& p : packets) out.push_back(VerdictJson(p, rs.Evaluate(p)));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Packet base;
  bool fix = false;
  std::vector<Packet> packets;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--fix") {
      fix = true;
    } else if (a == "--family") {
      if (!value(v) || (v != "4" && v != "6")) return Usage("--family takes 4 or 6");
      base.family = std::stoi(v);
    } else if (a == "--saddr") {
      if (!value(base.saddr)) return Usage("--saddr takes an address");
    } else if (a == "--daddr") {
      if (!value(base.daddr)) return Usage("--daddr takes an address");
    } else if (a == "--iif") {
      if (!value(base.iifname)) return Usage("--iif takes an interface name");
    } else if (a == "ipip") {
      Packet p = base;
      p.proto = Proto::kIpip;
      p.dport = 0;
      packets.push_back(p);
    } else if (a.rfind("tcp:", 0) == 0 || a.rfind("udp:", 0) == 0) {
      Packet p = base;
      p.proto = a[0] == 't' ? Proto::kTcp : Proto::kUdp;
      int port = std::atoi(a.c_str() + 4);
      if (port <= 0 || port > 65535) return Usage("bad port in " + a);
      p.dport = static_cast<uint16_t>(port);
      packets.push_back(p);
    } else {
      return Usage("unknown argument " + a);
    }
  }
  if (packets.empty()) return Usage("no packet given");
  // Options given after a packet still apply to it.
  for (auto& p : packets) {
    p.family = base.family;
    p.saddr = base.saddr;
    p.daddr = base.daddr;
    p.iifname = base.iifname;
  }

  RealHost host("/");
  auto rs = ReadNftRuleset(host.commands());
  if (!rs) {
    std::cerr << "join_prep_nft_probe: " << rs.error().ToString() << "\n";
    return 1;
  }
  json out;
  out["filters_input"] = rs->FiltersInput();
  out["verdicts"] = Evaluate(*rs, packets);
  if (fix) {
    NftBootConfig config = ReadNftBootConfig(host.files());
    NftFixPlan plan = PlanNftFix(*rs, packets, config);
    json steps = json::array();
    for (const auto& s : plan.steps) steps.push_back(CommandLine(s.argv));
    out["fix"] = {{"steps", steps}, {"owner", plan.owner}, {"warning", plan.warning}};
    json simulated = json::array();
    for (size_t i = 0; i < packets.size(); ++i) simulated.push_back(VerdictJson(packets[i], plan.after[i]));
    out["fix"]["simulated"] = simulated;
    for (const auto& s : plan.steps) {
      Status st = ApplyStep(host, s);
      if (!st) {
        std::cerr << "join_prep_nft_probe: " << st.error().ToString() << "\n";
        std::cout << out.dump(2) << "\n";
        return 1;
      }
    }
    auto again = ReadNftRuleset(host.commands());
    if (!again) {
      std::cerr << "join_prep_nft_probe: after the fix: " << again.error().ToString() << "\n";
      return 1;
    }
    out["after"] = Evaluate(*again, packets);
    out["fix"]["steps_again"] = PlanNftFix(*again, packets, config).steps.size();
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}
