// The nftables rule set as the firewall check's InputRuleset: NftRuleset
// (nft_evaluator.cpp) for the verdicts, NftInputManagers for who filters
// input, and the nft fix (a planner, nft_fix.h) for the open. Kept in its
// own file: nothing that does not read nftables pulls it in.
#include <nlohmann/json.hpp>

#include "firewall/firewall_check.h"

namespace nodeagent::join_prep {
namespace {

class NftInput : public InputRuleset {
 public:
  NftInput(NftRuleset rules, std::vector<std::string> managers, NftOpenPlanner planner)
      : rules_(std::move(rules)), managers_(std::move(managers)), planner_(std::move(planner)) {}
  std::string manager() const override { return "nftables"; }
  int family() const override { return 0; }
  std::vector<std::string> InputManagers() const override { return managers_; }
  RuleVerdict Evaluate(const Packet& packet) const override { return rules_.Evaluate(packet); }

  /// One planner call per port, with the packets this rule set blocks;
  /// planned in order on the rule set as the earlier steps leave it is the
  /// planner's business (nft inserts by handle do not move other rules).
  Result<std::vector<std::vector<FixStep>>> PlanOpen(const std::vector<PortOpenRequest>& requests,
                                                     std::string* warning) const override {
    if (!planner_) return Error(ErrorCode::kNotFound, "no nftables fix planner");
    std::vector<std::vector<FixStep>> out;
    for (const auto& req : requests) {
      std::vector<Packet> blocked;
      for (size_t k = 0; k < req.packets.size() && k < req.verdicts.size(); ++k)
        if (req.verdicts[k].verdict == Verdict::kDrop || req.verdicts[k].verdict == Verdict::kReject)
          blocked.push_back(req.packets[k]);
      if (blocked.empty()) {
        out.emplace_back();
        continue;
      }
      std::string w;
      auto steps = planner_(rules_, req.port, blocked, &w);
      if (!steps) return steps.error();
      if (!w.empty() && warning && warning->find(w) == std::string::npos)
        *warning += (warning->empty() ? "" : "\n") + w;
      out.push_back(std::move(*steps));
    }
    return out;
  }

 private:
  NftRuleset rules_;
  std::vector<std::string> managers_;
  NftOpenPlanner planner_;
};

}  // namespace

Result<std::shared_ptr<const InputRuleset>> ReadNftInputRuleset(Host& host, NftOpenPlanner planner,
                                                                std::optional<bool>* iptables_nft_tables) {
  nlohmann::json doc;
  auto rules = ReadNftRuleset(host.commands(), &doc);
  if (!rules) {
    if (rules.error().code() == ErrorCode::kNotFound) return std::shared_ptr<const InputRuleset>();
    return rules.error();
  }
  if (iptables_nft_tables) *iptables_nft_tables = rules->HasIptablesNftTables();
  if (!rules->HasIptablesNftTables())
    return std::shared_ptr<const InputRuleset>(
        std::make_shared<NftInput>(std::move(*rules), NftInputManagers(doc), std::move(planner)));
  // Tables iptables-nft manages are judged from iptables-nft-save
  // (ReadIptablesRuleset): leave them out here, verdicts and managers both.
  nlohmann::json native = {{"nftables", nlohmann::json::array()}};
  if (doc.contains("nftables") && doc["nftables"].is_array()) {
    for (const auto& item : doc["nftables"]) {
      bool managed = false;
      for (const char* kind : {"table", "chain", "rule", "set", "map"}) {
        if (!item.is_object() || !item.contains(kind) || !item[kind].is_object()) continue;
        const auto& o = item[kind];
        std::string family = o.value("family", "");
        std::string table = kind == std::string("table") ? o.value("name", "") : o.value("table", "");
        managed = rules->ManagedByIptablesNft(family, table);
      }
      if (!managed) native["nftables"].push_back(item);
    }
  }
  return std::shared_ptr<const InputRuleset>(std::make_shared<NftInput>(
      rules->WithoutIptablesNftTables(), NftInputManagers(native), std::move(planner)));
}

}  // namespace nodeagent::join_prep
