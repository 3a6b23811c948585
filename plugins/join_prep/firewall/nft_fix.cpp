#include "firewall/nft_fix.h"

#include <set>
#include <sstream>

namespace nodeagent::join_prep {

using nlohmann::json;

namespace {

json Match(json left, json right) {
  return json{{"match", {{"op", "=="}, {"left", std::move(left)}, {"right", std::move(right)}}}};
}

json Payload(const char* protocol, const char* field) {
  return json{{"payload", {{"protocol", protocol}, {"field", field}}}};
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
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
      if (packet.rule_first != 0 && packet.rule_last > packet.rule_first) {
        r.words.insert(r.words.end(),
                       {proto, "dport", std::to_string(packet.rule_first) + "-" + std::to_string(packet.rule_last)});
        r.expr.push_back(Match(Payload(proto, "dport"), json{{"range", {packet.rule_first, packet.rule_last}}}));
      } else {
        r.words.insert(r.words.end(), {proto, "dport", std::to_string(packet.dport)});
        r.expr.push_back(Match(Payload(proto, "dport"), packet.dport));
      }
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

NftBootConfig ReadNftBootConfig(const FileSystem& files) {
  NftBootConfig boot;
  std::string main;
  for (const char* path : {"/etc/nftables.conf", "/etc/sysconfig/nftables.conf"})
    if (files.Exists(path)) {
      main = path;
      break;
    }
  if (main.empty()) return boot;
  std::vector<std::pair<std::string, int>> queue = {{main, 0}};
  std::set<std::string> seen;
  auto note = [&](const std::string& problem) {
    if (boot.problem.empty()) boot.problem = problem;
  };
  for (size_t next = 0; next < queue.size(); ++next) {
    auto [path, depth] = queue[next];
    if (!seen.insert(path).second) continue;
    if (boot.files.size() >= kMaxNftConfigFiles) {
      note("more than " + std::to_string(kMaxNftConfigFiles) + " files included from " + main);
      break;
    }
    auto content = files.ReadFile(path);
    if (!content) {
      note(content.error().message());
      continue;
    }
    boot.files.push_back({path, *content});
    if (depth >= 4) continue;
    for (const auto& line : SplitLines(*content)) {
      std::string t = Trim(line);
      if (t.rfind("include", 0) != 0) continue;
      auto q1 = t.find('"'), q2 = t.rfind('"');
      if (q1 == std::string::npos || q2 <= q1) continue;
      std::string target = t.substr(q1 + 1, q2 - q1 - 1);
      if (target.empty() || target[0] != '/') {
        note(path + ": include \"" + target + "\" is relative (not followed)");
        continue;
      }
      auto slash = target.rfind('/');
      std::string dir = target.substr(0, slash), name = target.substr(slash + 1);
      auto star = name.find('*');
      if (target.find('*') != std::string::npos && (star == std::string::npos || name.find('*', star + 1) != std::string::npos)) {
        note(path + ": include \"" + target + "\" (a pattern it does not follow)");
        continue;
      }
      if (star == std::string::npos) {
        queue.push_back({target, depth + 1});
        continue;
      }
      auto list = files.ListDir(dir.empty() ? "/" : dir);
      if (!list) continue;  // nft includes nothing from a missing directory
      std::string prefix = name.substr(0, star), suffix = name.substr(star + 1);
      for (const auto& entry : *list)  // ListDir is sorted, as nft's glob is
        if (entry.size() >= prefix.size() + suffix.size() && entry.compare(0, prefix.size(), prefix) == 0 &&
            entry.compare(entry.size() - suffix.size(), suffix.size(), suffix) == 0)
          queue.push_back({dir + "/" + entry, depth + 1});
    }
  }
  return boot;
}

namespace {

// Where a rule belongs in the boot files: before the deciding rule's line,
// or before the closing brace of the chain; "" when the chain is not there.
std::string PlaceInBootConfig(const NftBootConfig& boot, const std::string& family, const std::string& table,
                              const std::string& chain, const std::string& before_rule) {
  for (const auto& file : boot.files) {
    std::vector<std::string> lines = SplitLines(file.content);
    std::string cur_family, cur_table;
    bool in_chain = false;
    int depth = 0, chain_depth = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string t = Trim(lines[i]);
      std::vector<std::string> words;
      {
        std::istringstream in(t);
        std::string w;
        while (in >> w && words.size() < 4) words.push_back(w);
      }
      if (words.size() >= 2 && words[0] == "table" && t.back() == '{') {
        bool has_family = words.size() >= 4;
        cur_family = has_family ? words[1] : "ip";
        cur_table = has_family ? words[2] : words[1];
      }
      if (words.size() >= 2 && words[0] == "chain" && t.back() == '{' && cur_family == family && cur_table == table &&
          words[1] == chain) {
        in_chain = true;
        chain_depth = depth + 1;
      }
      if (in_chain && !before_rule.empty() && t == before_rule)
        return file.path + ":" + std::to_string(i + 1) + ", before `" + before_rule + "`";
      for (char c : t) {
        if (c == '#') break;
        if (c == '{') ++depth;
        if (c == '}') {
          if (in_chain && depth == chain_depth) {
            if (before_rule.empty())
              return file.path + ":" + std::to_string(i + 1) + ", at the end of chain " + chain;
            in_chain = false;
          }
          --depth;
        }
      }
    }
  }
  return "";
}

}  // namespace

NftFixPlan PlanNftFix(const NftRuleset& ruleset, const std::vector<Packet>& packets, const NftBootConfig& boot) {
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
      if (owner == "nftables" && !d.base_table.empty() && current.ManagedByIptablesNft(d.base_family, d.base_table))
        owner = "iptables-nft";
      std::string decided_at = d.base_family + " " + d.base_table + " " + d.base_chain + " " +
                          std::to_string(d.base_rule_handle) + " " + std::to_string(v.handle);
      if (v.verdict == Verdict::kUnknown || owner != "nftables" || i == kMaxInserts || d.base_chain.empty() ||
          decided_at == previous) {
        if (owner != "nftables") plan.owner = owner;
        plan.blocked.push_back(v);
        break;
      }
      previous = decided_at;
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
      std::string place = boot.files.empty()
                              ? ""
                              : PlaceInBootConfig(boot, d.base_family, d.base_table, d.base_chain,
                                                  d.base_rule_handle != 0 ? d.base_rule : "");
      if (place.empty() && !boot.files.empty())
        place = "not found in " + boot.files.front().path +
                (boot.files.size() > 1 ? " or the files it includes" : "") +
                ": the running rule set is not the one loaded at boot";
      persist.push_back("`" + rule.text + "` in chain " + d.base_chain + " of table " + d.base_family + " " +
                        d.base_table + ", " + before + (place.empty() ? "" : " (" + place + ")"));
    }
  }
  for (const Packet& packet : packets) plan.after.push_back(current.Evaluate(packet));
  plan.simulated = current;
  if (!persist.empty()) {
    std::string file = boot.files.empty() ? "the rule set file loaded at boot (/etc/nftables.conf on Debian, "
                                            "/etc/sysconfig/nftables.conf on RHEL)"
                                          : boot.files.front().path;
    plan.warning = "the nft rules are added to the running rule set only; to keep them after a reboot add to " + file + ":";
    for (const auto& p : persist) plan.warning += "\n  " + p;
    if (!boot.problem.empty()) plan.warning += "\n  (" + boot.problem + ")";
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
