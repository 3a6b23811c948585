#include "firewall/nft_fix.h"

namespace nodeagent::join_prep {

using nlohmann::json;

namespace {

json Match(json left, json right) {
  return json{{"match", {{"op", "=="}, {"left", std::move(left)}, {"right", std::move(right)}}}};
}

json Payload(const char* protocol, const char* field) {
  return json{{"payload", {{"protocol", protocol}, {"field", field}}}};
}

// How many rules one plan may add before it gives up (a rule set that keeps
// dropping after every insert is not one this fix understands).
constexpr int kMaxInserts = 32;

}  // namespace

NftAcceptRule NftAcceptRuleFor(const Packet& packet) {
  NftAcceptRule r;
  r.expr = json::array();
  if (!packet.saddr.empty()) {
    const char* proto = packet.family == 6 ? "ip6" : "ip";
    r.words.insert(r.words.end(), {proto, "saddr", packet.saddr});
    r.expr.push_back(Match(Payload(proto, "saddr"), packet.saddr));
  }
  switch (packet.proto) {
    case Proto::kTcp:
    case Proto::kUdp: {
      const char* proto = ProtoName(packet.proto);
      r.words.insert(r.words.end(), {proto, "dport", std::to_string(packet.dport)});
      r.expr.push_back(Match(Payload(proto, "dport"), packet.dport));
      break;
    }
    case Proto::kIpip:
      r.words.insert(r.words.end(), {"meta", "l4proto", "ipencap"});
      r.expr.push_back(Match(json{{"meta", {{"key", "l4proto"}}}}, "ipencap"));
      break;
  }
  r.words.push_back("accept");
  r.expr.push_back(json{{"accept", nullptr}});
  r.words.push_back("comment");
  r.words.push_back(std::string("\"") + kNftFixComment + "\"");
  for (const auto& w : r.words) r.text += (r.text.empty() ? "" : " ") + w;
  return r;
}

NftFixPlan PlanNftFix(const NftRuleset& ruleset, const std::vector<Packet>& packets, const std::string& config_file) {
  NftFixPlan plan;
  NftRuleset current = ruleset;
  std::vector<std::string> persist;
  for (const Packet& packet : packets) {
    std::string previous;  // where the last insert went: the same place twice means it did not help
    for (int i = 0; i <= kMaxInserts; ++i) {
      NftDecision d = current.Decide(packet);
      const RuleVerdict& v = d.verdict;
      if (v.verdict == Verdict::kAccept) break;
      std::string owner = NftOwner(v.family, v.table, v.chain);
      std::string place = d.base_family + " " + d.base_table + " " + d.base_chain + " " +
                          std::to_string(d.base_rule_handle) + " " + std::to_string(v.handle);
      if (v.verdict == Verdict::kUnknown || owner != "nftables" || i == kMaxInserts || d.base_chain.empty() ||
          place == previous) {
        if (owner != "nftables") plan.owner = owner;
        plan.blocked.push_back(v);
        break;
      }
      previous = place;
      NftAcceptRule rule = NftAcceptRuleFor(packet);
      std::vector<std::string> argv = {"nft"};
      std::string where;
      if (d.base_rule_handle != 0) {
        argv.insert(argv.end(), {"insert", "rule", d.base_family, d.base_table, d.base_chain, "position",
                                 std::to_string(d.base_rule_handle)});
        where = "before handle " + std::to_string(d.base_rule_handle);
      } else {
        argv.insert(argv.end(), {"add", "rule", d.base_family, d.base_table, d.base_chain});
        where = "at the end (" + v.rule + ")";
      }
      argv.insert(argv.end(), rule.words.begin(), rule.words.end());
      auto next = current.WithRule(d.base_family, d.base_table, d.base_chain, d.base_rule_handle, rule.expr, rule.text);
      if (!next) {
        plan.blocked.push_back(v);
        break;
      }
      current = *next;
      std::string chain = d.base_family + " " + d.base_table + " " + d.base_chain;
      plan.steps.push_back(FixStep::Run(argv, "accept " + std::string(ProtoName(packet.proto)) +
                                                  (packet.proto == Proto::kIpip ? "" : " " + std::to_string(packet.dport)) +
                                                  " in " + chain + " " + where));
      std::string before =
          d.base_rule_handle != 0 ? "before the rule `" + d.base_rule + "`" : "at the end of the chain";
      persist.push_back("`" + rule.text + "` in chain " + d.base_chain + " of table " + d.base_family + " " +
                        d.base_table + ", " + before);
    }
  }
  for (const Packet& packet : packets) plan.after.push_back(current.Evaluate(packet));
  plan.simulated = current;
  if (!persist.empty()) {
    std::string file = config_file.empty() ? "the rule set file loaded at boot (/etc/nftables.conf on Debian, "
                                             "/etc/sysconfig/nftables.conf on RHEL)"
                                           : config_file;
    plan.warning = "the nft rules are added to the running rule set only; to keep them after a reboot add to " + file + ":";
    for (const auto& p : persist) plan.warning += "\n  " + p;
  }
  return plan;
}

std::optional<Fix> NftFixOf(const NftFixPlan& plan) {
  if (plan.steps.empty()) return std::nullopt;
  Fix fix;
  fix.id = std::string(kFixFirewall);
  fix.steps = plan.steps;
  fix.warning = plan.warning;
  return fix;
}

}  // namespace nodeagent::join_prep
