#include "firewall/firewall_check.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "firewall/firewalld.h"
#include "firewall/nft_fix.h"
#include "firewall/ufw.h"
#include "nodeagent/network.h"
#include "text.h"

namespace nodeagent::join_prep {
namespace {

std::string PortText(const RequiredPort& p) {
  if (p.proto == Proto::kIpip) return "ipip";
  return FormatPortRange(p.ports) + "/" + ProtoName(p.proto);
}

std::string CheckId(const RequiredPort& p) {
  if (p.proto == Proto::kIpip) return "Firewall-ipip";
  return "Firewall-" + FormatPortRange(p.ports) + "-" + ProtoName(p.proto);
}

bool Blocks(Verdict v) { return v == Verdict::kDrop || v == Verdict::kReject; }

/// The manager whose rule decided: firewalld's table, ufw's chains, else the rule set's own.
std::string DecidingManager(const RuleVerdict& v, const InputRuleset* from) {
  if (v.table == "firewalld") return "firewalld";
  if (v.chain.rfind("ufw-", 0) == 0 || v.chain.rfind("ufw6-", 0) == 0) return "ufw";
  if (from && v.rule.rfind("policy", 0) == 0) {
    auto owners = from->InputManagers();
    if (owners.size() == 1 && (owners[0] == "ufw" || owners[0] == "firewalld")) return owners[0];
  }
  return v.manager;
}

/// host part of "host:port", "[v6]:port", "v6" or "host".
std::string EndpointHost(const std::string& endpoint) {
  if (endpoint.empty()) return "";
  if (endpoint[0] == '[') {
    auto close = endpoint.find(']');
    return close == std::string::npos ? "" : endpoint.substr(1, close - 1);
  }
  if (std::count(endpoint.begin(), endpoint.end(), ':') > 1) return endpoint;  // bare IPv6
  return endpoint.substr(0, endpoint.find(':'));
}

/// The verdict of every rule set together for one packet.
struct Combined {
  RuleVerdict verdict;
  std::string manager;  ///< who decided (firewalld, ufw, nftables, iptables-legacy...)
};

struct SeenRuleset {
  std::shared_ptr<const InputRuleset> rules;
  /// Why it could not be read ("" when it was): every verdict is then unknown.
  std::string problem;
  std::string name;
};

Combined Combine(const std::vector<SeenRuleset>& sets, const Packet& packet, std::vector<RuleVerdict>* each) {
  std::optional<Combined> blocked, unknown, accepted;
  for (const auto& s : sets) {
    RuleVerdict v;
    if (!s.problem.empty()) {
      v.verdict = Verdict::kUnknown;
      v.manager = s.name;
      v.note = s.problem;
    } else {
      v = s.rules->Evaluate(packet);
    }
    each->push_back(v);
    Combined c{v, DecidingManager(v, s.rules.get())};
    if (Blocks(v.verdict) && !blocked) blocked = c;
    if (v.verdict == Verdict::kUnknown && !unknown) unknown = c;
    // The accept to show: one from a rule set that filters input at all.
    bool filters = s.rules && !s.rules->InputManagers().empty();
    if (v.verdict == Verdict::kAccept && (!accepted || filters)) {
      accepted = c;
      if (!filters) accepted->manager.clear();
    }
  }
  if (blocked) return *blocked;
  if (unknown) return *unknown;
  if (accepted) return *accepted;
  Combined none;
  none.verdict.verdict = Verdict::kAccept;
  none.verdict.note = "no firewall rules";
  return none;
}

nlohmann::json PortEntry(uint16_t port, const RequiredPort& rp, const Combined& c) {
  return {{"port", port},          {"proto", ProtoName(rp.proto)}, {"verdict", VerdictName(c.verdict.verdict)},
          {"manager", c.manager},  {"table", c.verdict.table},     {"chain", c.verdict.chain},
          {"rule", c.verdict.rule}};
}

std::string Describe(const Combined& c) {
  std::string where = c.manager;
  if (!c.verdict.table.empty()) where += " " + c.verdict.table;
  if (!c.verdict.chain.empty()) where += " " + c.verdict.chain;
  std::string out = where;
  if (!c.verdict.rule.empty()) out += ": " + c.verdict.rule;
  if (!c.verdict.note.empty()) out += " (" + c.verdict.note + ")";
  return out;
}

std::string ManualHint(const std::string& manager, const RequiredPort& p) {
  std::string port = p.proto == Proto::kIpip ? "IP protocol 4" : FormatPortRange(p.ports) + "/" + ProtoName(p.proto);
  if (manager == "firewalld")
    return "firewall-cmd --permanent --zone=<zone> --add-port=" + port + " && firewall-cmd --reload";
  if (manager == "ufw") return "ufw allow " + port;
  return "accept " + port + " in " + manager + " before the rule that drops it, and persist it";
}

/// One port's evaluation.
struct PortState {
  RequiredPort port;
  std::vector<Packet> packets;
  std::vector<Combined> combined;                 ///< per packet
  std::vector<std::vector<RuleVerdict>> per_set;  ///< [set][packet]
  Verdict worst = Verdict::kAccept;
  size_t worst_packet = 0;
};

int Rank(Verdict v) {
  switch (v) {
    case Verdict::kAccept:
      return 0;
    case Verdict::kUnknown:
      return 1;
    case Verdict::kReject:
      return 2;
    case Verdict::kDrop:
      return 3;
  }
  return 0;
}

/// The IptablesRuleset behind an InputRuleset, with its fix.
class LegacyRuleset : public InputRuleset {
 public:
  LegacyRuleset(IptablesRuleset rules, const FileSystem& files) : rules_(std::move(rules)), files_(files) {}
  std::string manager() const override { return rules_.manager(); }
  int family() const override { return rules_.family(); }
  std::vector<std::string> InputManagers() const override { return rules_.InputManagers(); }
  RuleVerdict Evaluate(const Packet& packet) const override { return rules_.Evaluate(packet); }
  Result<std::vector<std::vector<FixStep>>> PlanOpen(const std::vector<PortOpenRequest>& requests,
                                                     std::string* warning) const override {
    std::vector<IptablesOpenRequest> reqs;
    for (const auto& r : requests) reqs.push_back({r.port, r.packets});
    return PlanIptablesOpen(files_, rules_, reqs, warning);
  }

 private:
  IptablesRuleset rules_;
  const FileSystem& files_;
};

}  // namespace

std::vector<RequiredPort> RequiredPorts(const JoinOptions& options) {
  std::vector<RequiredPort> out;
  auto add = [&](uint16_t a, uint16_t b, Proto proto, std::string why) {
    RequiredPort p{{a, b}, proto, std::move(why)};
    bool dup = std::any_of(out.begin(), out.end(),
                           [&](const RequiredPort& q) { return q.ports == p.ports && q.proto == p.proto; });
    if (!dup) out.push_back(std::move(p));
  };
  if (options.role == Role::kControlPlane) {
    add(6443, 6443, Proto::kTcp, "kube-apiserver");
    add(2379, 2380, Proto::kTcp, "etcd");
    add(10250, 10250, Proto::kTcp, "kubelet API");
    add(10257, 10257, Proto::kTcp, "kube-controller-manager");
    add(10259, 10259, Proto::kTcp, "kube-scheduler");
  } else {
    add(10250, 10250, Proto::kTcp, "kubelet API");
    add(10256, 10256, Proto::kTcp, "kube-proxy health");
    add(30000, 32767, Proto::kTcp, "NodePort services");
    add(30000, 32767, Proto::kUdp, "NodePort services");
  }
  if (options.cni == Cni::kCalico) {
    add(179, 179, Proto::kTcp, "Calico BGP");
    add(4789, 4789, Proto::kUdp, "Calico VXLAN");
    add(5473, 5473, Proto::kTcp, "Calico Typha");
    add(0, 0, Proto::kIpip, "Calico IP-in-IP");
  }
  for (const auto& r : options.extra_ports) add(r.first, r.last, Proto::kTcp, "extra_ports");
  return out;
}

Packet ControlPlanePacket(const CheckInputs& in, std::string* problem) {
  Packet p;
  std::string host = EndpointHost(in.options.endpoint);
  auto ip = IpAddress::Parse(host);
  if (ip) {
    p.saddr = ip->ToString();
    p.family = ip->family == AddressFamily::kIpv6 ? 6 : 4;
    auto route = in.host.network().LookupRoute(*ip);
    if (!route) {
      *problem = "no route to the control plane " + p.saddr + ": " + route.error().message();
      return p;
    }
    p.iifname = route->device;
    p.iif = static_cast<uint32_t>(route->device_index);
    if (route->source) p.daddr = route->source->ToString();
    if (route->type == "local") {
      p.iifname = "lo";
      *problem = "the control plane address " + p.saddr + " is this node's own";
    }
    return p;
  }
  // A name or no endpoint: any source, on the interface of the default route.
  auto routes = in.host.network().Routes();
  if (!routes) {
    *problem = "routes unreadable: " + routes.error().message();
    return p;
  }
  const Route* best = nullptr;
  for (const auto& r : *routes)
    if (r.family == AddressFamily::kIpv4 && r.table == 254 && r.destination.length == 0 && r.device_index != 0 &&
        (!best || r.metric < best->metric))
      best = &r;
  if (!best) {
    *problem = in.options.endpoint.empty() ? "no endpoint and no default route: the interface is unknown"
                                           : "the endpoint is a name and there is no default route";
    return p;
  }
  p.iifname = best->device;
  p.iif = static_cast<uint32_t>(best->device_index);
  if (best->source) {
    p.daddr = best->source->ToString();
  } else if (auto addrs = in.host.network().Addresses()) {
    for (const auto& a : *addrs)
      if (a.interface_index == best->device_index && a.prefix.address.family == AddressFamily::kIpv4 &&
          a.scope == "global") {
        p.daddr = a.prefix.address.ToString();
        break;
      }
  }
  return p;
}

FirewallReport CheckFirewall(const CheckInputs& in, const FirewallSources& sources, const FirewallFixers& fixers) {
  FirewallReport report;
  std::string packet_problem;
  Packet base = ControlPlanePacket(in, &packet_problem);

  // 1. What runs: the rule sets of this family, and the managers above them.
  std::vector<SeenRuleset> sets;
  auto take = [&](const std::string& name, Result<std::shared_ptr<const InputRuleset>> r) {
    if (!r) {
      report.checks.push_back(CheckResult::Fail("FirewallRead-" + name, CheckSeverity::kWarning,
                                                "cannot read the " + name + " rules: " + r.error().message(),
                                                "fix the command (run it by hand to see why) and check again"));
      sets.push_back({nullptr, "not readable: " + r.error().message(), name});
      return;
    }
    if (*r) sets.push_back({*r, "", name});
  };
  if (sources.nftables) take("nftables", sources.nftables());
  if (sources.iptables_legacy)
    take(base.family == 6 ? "ip6tables-legacy" : "iptables-legacy", sources.iptables_legacy(base.family));
  if (sources.iptables_nft) take(base.family == 6 ? "ip6tables-nft" : "iptables-nft", sources.iptables_nft(base.family));
  auto manager_state = [&](const std::string& name, const std::function<Result<bool>()>& hook) {
    if (!hook) return false;
    auto r = hook();
    if (!r) {
      report.checks.push_back(CheckResult::Fail("FirewallRead-" + name, CheckSeverity::kWarning,
                                                "cannot tell whether " + name + " is active: " + r.error().message()));
      return false;
    }
    return *r;
  };
  bool firewalld = manager_state("firewalld", sources.firewalld_running);
  bool ufw = manager_state("ufw", sources.ufw_active);

  std::set<std::string> active;
  if (firewalld) active.insert("firewalld");
  if (ufw) active.insert("ufw");
  for (const auto& s : sets)
    if (s.rules)
      for (const auto& m : s.rules->InputManagers())
        active.insert(m == "ip6tables-legacy" ? "iptables-legacy" : m == "ip6tables-nft" ? "iptables-nft" : m);
  if (active.size() > 1) {
    std::string list;
    for (const auto& m : active) list += (list.empty() ? "" : ", ") + m;
    auto r = CheckResult::Fail("FirewallManagers", CheckSeverity::kWarning,
                               "more than one firewall filters inbound traffic: " + list,
                               "each of them can drop a port the others open; keep one");
    r.detail["managers"] = std::vector<std::string>(active.begin(), active.end());
    report.checks.push_back(std::move(r));
  }

  // 2. Every port through every rule set.
  std::vector<PortState> states;
  for (const auto& rp : RequiredPorts(in.options)) {
    PortState st;
    st.port = rp;
    std::vector<uint16_t> ports = {rp.ports.first};
    if (rp.ports.last != rp.ports.first) ports.push_back(rp.ports.last);
    st.per_set.resize(sets.size());
    for (size_t k = 0; k < ports.size(); ++k) {
      Packet p = base;
      p.proto = rp.proto;
      p.dport = rp.proto == Proto::kIpip ? 0 : ports[k];
      std::vector<RuleVerdict> each;
      Combined c = Combine(sets, p, &each);
      for (size_t s = 0; s < sets.size(); ++s) st.per_set[s].push_back(each[s]);
      report.ports.push_back(PortEntry(p.dport, rp, c));
      if (Rank(c.verdict.verdict) > Rank(st.worst)) {
        st.worst = c.verdict.verdict;
        st.worst_packet = k;
      }
      st.packets.push_back(p);
      st.combined.push_back(std::move(c));
    }
    states.push_back(std::move(st));
  }

  // 3. The fixes, planned per rule set in port order (cumulative).
  bool fixing = in.options.firewall_fix == FirewallFix::kOpenPorts;
  std::map<size_t, Fix> fixes;  // by index in states
  std::map<size_t, std::string> no_fix;
  if (fixing) {
    for (size_t s = 0; s < sets.size(); ++s) {
      if (!sets[s].rules) continue;
      std::vector<PortOpenRequest> own;
      std::vector<size_t> own_index;
      for (size_t i = 0; i < states.size(); ++i) {
        const auto& st = states[i];
        if (!Blocks(st.worst)) continue;
        bool blocked_here = false, unknown_here = false;
        std::string manager;
        for (const auto& v : st.per_set[s]) {
          if (Blocks(v.verdict)) {
            blocked_here = true;
            manager = DecidingManager(v, sets[s].rules.get());
          }
          if (v.verdict == Verdict::kUnknown) unknown_here = true;
        }
        if (!blocked_here) continue;
        if (unknown_here) {
          no_fix[i] = sets[s].name + " cannot tell for every port of the range";
          continue;
        }
        if (manager == "firewalld" || manager == "ufw") {
          Result<std::vector<FixStep>> steps = Error(ErrorCode::kNotFound, "no " + manager + " fixer");
          if (manager == "firewalld" && fixers.firewalld_open)
            steps = fixers.firewalld_open(st.packets[st.worst_packet], {st.port});
          if (manager == "ufw" && fixers.ufw_allow) steps = fixers.ufw_allow(st.packets[st.worst_packet], {st.port});
          if (!steps) {
            no_fix[i] = steps.error().message();
            continue;
          }
          auto& f = fixes[i];
          f.steps.insert(f.steps.end(), steps->begin(), steps->end());
          continue;
        }
        own.push_back({st.port, st.packets, st.per_set[s]});
        own_index.push_back(i);
      }
      if (own.empty()) continue;
      std::string warning;
      auto planned = sets[s].rules->PlanOpen(own, &warning);
      if (!planned) {
        for (size_t i : own_index) no_fix[i] = planned.error().message();
        continue;
      }
      for (size_t k = 0; k < own_index.size() && k < planned->size(); ++k) {
        auto& f = fixes[own_index[k]];
        f.steps.insert(f.steps.end(), (*planned)[k].begin(), (*planned)[k].end());
        if (!warning.empty() && !(*planned)[k].empty()) f.warning += (f.warning.empty() ? "" : "\n") + warning;
      }
    }
  }

  // 4. One finding per port that is not accepted.
  for (size_t i = 0; i < states.size(); ++i) {
    const auto& st = states[i];
    if (st.worst == Verdict::kAccept) continue;
    const Combined& c = st.combined[st.worst_packet];
    std::string what = PortText(st.port) + " (" + st.port.why + ")";
    CheckSeverity sev = st.worst == Verdict::kUnknown ? CheckSeverity::kWarning : CheckSeverity::kError;
    std::string msg =
        st.worst == Verdict::kUnknown
            ? "cannot tell whether " + what + " is open: " + Describe(c)
            : what + " is " + (st.worst == Verdict::kDrop ? "dropped" : "rejected") + " by " + Describe(c);
    if (!packet_problem.empty()) msg += " [" + packet_problem + "]";
    CheckResult r = CheckResult::Fail(CheckId(st.port), sev, msg, ManualHint(c.manager, st.port));
    nlohmann::json verdicts = nlohmann::json::array();
    for (size_t k = 0; k < st.packets.size(); ++k)
      verdicts.push_back(PortEntry(st.packets[k].dport, st.port, st.combined[k]));
    r.detail["ports"] = verdicts;
    r.detail["packet"] = {
        {"saddr", base.saddr}, {"daddr", base.daddr}, {"iifname", base.iifname}, {"family", base.family}};
    if (auto it = fixes.find(i); it != fixes.end() && !it->second.steps.empty() && !no_fix.count(i)) {
      Fix f = it->second;
      f.id = std::string(kFixFirewall);
      r.fix = std::move(f);
    } else if (auto nf = no_fix.find(i); nf != no_fix.end()) {
      r.hint += " (no automatic fix: " + nf->second + ")";
    }
    report.checks.push_back(std::move(r));
  }

  // 5. kubeadm's own warning whenever firewalld is active.
  if (firewalld) {
    std::string ports;
    for (const auto& rp : RequiredPorts(in.options)) ports += (ports.empty() ? "" : ", ") + PortText(rp);
    report.checks.push_back(CheckResult::Fail(
        "Firewalld", CheckSeverity::kWarning,
        "firewalld is active; the node needs " + ports + " open (the Firewall-* results say which are not)"));
  }
  return report;
}

std::shared_ptr<const InputRuleset> LegacyInputRuleset(IptablesRuleset rules, const FileSystem& files) {
  return std::make_shared<LegacyRuleset>(std::move(rules), files);
}

Result<std::shared_ptr<const InputRuleset>> ReadIptablesRuleset(Host& host, int family, std::string_view backend) {
  // "iptables-legacy" or "iptables-nft" (ip6tables-... for 6): the manager's
  // name is also the program its fix runs.
  std::string manager = std::string(family == 6 ? "ip6tables-" : "iptables-") + std::string(backend);
  std::string tool = manager + "-save";
  CommandSpec spec;
  spec.argv = {tool};
  spec.read_only = true;
  spec.timeout = std::chrono::seconds(30);
  auto r = host.commands().Run(spec);
  if (!r) {
    if (r.error().code() == ErrorCode::kNotFound) return std::shared_ptr<const InputRuleset>();
    return r.error().Wrap(tool);
  }
  if (!r->succeeded()) {
    std::string how = r->timed_out ? "timed out" : "exited " + std::to_string(r->exit_code);
    std::string err = LastLine(r->stderr_data);
    return IoError(tool + " " + how + (err.empty() ? "" : ": " + err));
  }
  if (r->output_truncated) return Error(ErrorCode::kTooLarge, tool + ": output too large (truncated by the runner)");
  auto parsed = IptablesRuleset::Parse(r->stdout_data, manager);
  if (!parsed) return parsed.error();
  return LegacyInputRuleset(std::move(*parsed), host.files());
}

Result<std::shared_ptr<const InputRuleset>> ReadLegacyRuleset(Host& host, int family) {
  return ReadIptablesRuleset(host, family, "legacy");
}

std::vector<std::string> NftInputManagers(const nlohmann::json& ruleset) {
  std::vector<std::string> out;
  auto add = [&](const std::string& m) {
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  };
  if (!ruleset.is_object() || !ruleset.contains("nftables") || !ruleset["nftables"].is_array()) return out;
  const auto& items = ruleset["nftables"];
  auto text = [](const nlohmann::json& o, const char* key) {
    return o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : std::string();
  };
  auto is_ufw = [](const std::string& n) { return n.rfind("ufw-", 0) == 0 || n.rfind("ufw6-", 0) == 0; };
  for (const auto& item : items) {
    if (!item.is_object() || !item.contains("chain")) continue;
    const auto& c = item["chain"];
    std::string hook = text(c, "hook"), type = text(c, "type");
    if (hook != "input" && !(hook == "prerouting" && type == "filter")) continue;
    std::string family = text(c, "family"), table = text(c, "table"), name = text(c, "name");
    bool rules = false, ufw = false, other = false;
    for (const auto& r : items) {
      if (!r.is_object() || !r.contains("rule")) continue;
      const auto& rule = r["rule"];
      if (text(rule, "family") != family || text(rule, "table") != table || text(rule, "chain") != name) continue;
      rules = true;
      bool to_ufw = false;
      if (rule.contains("expr") && rule["expr"].is_array())
        for (const auto& e : rule["expr"])
          for (const char* verb : {"jump", "goto"})
            if (e.is_object() && e.contains(verb) && e[verb].is_object() && is_ufw(text(e[verb], "target")))
              to_ufw = true;
      (to_ufw ? ufw : other) = true;
    }
    bool drop_policy = text(c, "policy") == "drop";
    if (!rules && !drop_policy) continue;
    if (table == "firewalld") {
      add("firewalld");
      continue;
    }
    if (ufw) add("ufw");
    if (other || (drop_policy && !ufw)) add("nftables");
  }
  return out;
}

NftOpenPlanner RealNftPlanner(const FileSystem& files) {
  return [&files](const NftRuleset& rules, const RequiredPort& port, const std::vector<Packet>& packets,
                  std::string* warning) -> Result<std::vector<FixStep>> {
    // One accept rule opens the whole range, though only its ends are evaluated.
    std::vector<Packet> wanted = packets;
    for (auto& p : wanted)
      if (port.ports.last > port.ports.first) {
        p.rule_first = port.ports.first;
        p.rule_last = port.ports.last;
      }
    NftFixPlan plan = PlanNftFix(rules, wanted, ReadNftBootConfig(files));
    if (!plan.owner.empty())
      return Error(ErrorCode::kInvalidArgument, "the deciding rule belongs to " + plan.owner + ": open it with " +
                                                     plan.owner + "'s own commands");
    if (!plan.blocked.empty())
      return Error(ErrorCode::kInvalidArgument, "no rule can be placed safely: " + plan.blocked.front().rule +
                                                     (plan.blocked.front().note.empty() ? "" : " (" + plan.blocked.front().note + ")"));
    auto fix = NftFixOf(plan);
    if (!fix) return std::vector<FixStep>{};
    if (warning && !fix->warning.empty()) *warning = fix->warning;
    return fix->steps;
  };
}

FirewallSources RealFirewallSources(Host& host) {
  FirewallSources s;
  // Whether the nftables read saw tables iptables-nft manages; CheckFirewall
  // asks the nftables hook first, so the rule set is listed once.
  auto iptables_nft_tables = std::make_shared<std::optional<bool>>();
  s.nftables = [&host, iptables_nft_tables]() {
    auto rules = ReadNftInputRuleset(host, RealNftPlanner(host.files()), iptables_nft_tables.get());
    return rules;
  };
  s.iptables_legacy = [&host](int family) { return ReadLegacyRuleset(host, family); };
  // Only when nftables holds tables iptables-nft manages (the nft reader
  // then leaves them to this one); otherwise there is nothing to read.
  s.iptables_nft = [&host, iptables_nft_tables](int family) -> Result<std::shared_ptr<const InputRuleset>> {
    if (!iptables_nft_tables->has_value()) {
      auto rules = ReadNftRuleset(host.commands());
      *iptables_nft_tables = rules && rules->HasIptablesNftTables();
    }
    if (!**iptables_nft_tables) return std::shared_ptr<const InputRuleset>();
    return ReadIptablesRuleset(host, family, "nft");
  };
  s.firewalld_running = [&host]() -> Result<bool> {
    auto state = ReadFirewalld(host);
    if (!state) return state.error();
    return state->installed && state->running;
  };
  s.ufw_active = [&host]() -> Result<bool> {
    auto state = ReadUfw(host);
    if (!state) return state.error();
    return state->installed && state->active;
  };
  return s;
}

FirewallFixers RealFirewallFixers(Host& host) {
  FirewallFixers f;
  // firewalld's zones are read once for all the ports it is asked to open.
  auto firewalld = std::make_shared<std::optional<Result<FirewalldState>>>();
  f.firewalld_open = [&host, firewalld](const Packet& packet,
                                        const std::vector<RequiredPort>& ports) -> Result<std::vector<FixStep>> {
    if (!firewalld->has_value()) *firewalld = ReadFirewalld(host);
    const Result<FirewalldState>& state = **firewalld;
    if (!state) return state.error();
    Fix fix = FirewalldOpenPorts(ZoneFor(*state, packet.iifname, packet.saddr), ports);
    if (fix.steps.empty() && !fix.warning.empty()) return Error(ErrorCode::kInvalidArgument, fix.warning);
    return fix.steps;
  };
  f.ufw_allow = [](const Packet& packet, const std::vector<RequiredPort>& ports) -> Result<std::vector<FixStep>> {
    Fix fix = UfwAllowPorts(ports, packet.saddr);
    if (fix.steps.empty() && !fix.warning.empty()) return Error(ErrorCode::kInvalidArgument, fix.warning);
    return fix.steps;
  };
  return f;
}

FirewallReport CheckFirewall(const CheckInputs& in) {
  return CheckFirewall(in, RealFirewallSources(in.host), RealFirewallFixers(in.host));
}

}  // namespace nodeagent::join_prep
