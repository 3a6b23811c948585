// The nftables rule set as the firewall check's InputRuleset: NftRuleset
// (nft_evaluator.cpp) for the verdicts, NftInputManagers for who filters
// input, and the nft fix (a planner, nft_fix.h) for the open. Kept in its
// own file: nothing that does not read nftables pulls it in.
#include <algorithm>

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

  /// One plan per blocking rule (by table, chain and handle): the first and
  /// last port of a range dropped by the same rule get one insert.
  Result<std::vector<std::vector<FixStep>>> PlanOpen(const std::vector<PortOpenRequest>& requests,
                                                     std::string* warning) const override {
    if (!planner_) return Error(ErrorCode::kNotFound, "no nftables fix planner");
    std::vector<std::vector<FixStep>> out;
    for (const auto& req : requests) {
      std::vector<FixStep> steps;
      std::vector<std::string> done;
      for (size_t k = 0; k < req.packets.size() && k < req.verdicts.size(); ++k) {
        const RuleVerdict& v = req.verdicts[k];
        if (v.verdict != Verdict::kDrop && v.verdict != Verdict::kReject) continue;
        std::string key = v.family + " " + v.table + " " + v.chain + " " + std::to_string(v.handle) + " " + v.rule;
        if (std::find(done.begin(), done.end(), key) != done.end()) continue;
        done.push_back(key);
        std::string w;
        auto planned = planner_(rules_, req.packets[k], v, &w);
        steps.insert(steps.end(), planned.begin(), planned.end());
        if (!w.empty() && warning && warning->find(w) == std::string::npos)
          *warning += (warning->empty() ? "" : "\n") + w;
      }
      out.push_back(std::move(steps));
    }
    return out;
  }

 private:
  NftRuleset rules_;
  std::vector<std::string> managers_;
  NftOpenPlanner planner_;
};

std::string LastLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  auto nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

}  // namespace

Result<std::shared_ptr<const InputRuleset>> ReadNftInputRuleset(Host& host, NftOpenPlanner planner) {
  CommandSpec spec;
  spec.argv = {"nft", "-j", "list", "ruleset"};
  spec.read_only = true;
  spec.timeout = std::chrono::seconds(30);
  auto r = host.commands().Run(spec);
  if (!r) {
    if (r.error().code() == ErrorCode::kNotFound) return std::shared_ptr<const InputRuleset>();
    return r.error().Wrap("nft -j list ruleset");
  }
  if (!r->succeeded()) {
    std::string how = r->timed_out ? "timed out" : "exited " + std::to_string(r->exit_code);
    std::string err = LastLine(r->stderr_data);
    return IoError("nft -j list ruleset " + how + (err.empty() ? "" : ": " + err));
  }
  if (r->output_truncated) return Error(ErrorCode::kTooLarge, "nft -j list ruleset: output too large");
  auto doc = nlohmann::json::parse(r->stdout_data, nullptr, false);
  if (doc.is_discarded()) return InvalidArgument("nft -j list ruleset: the output is not JSON");
  auto rules = NftRuleset::Parse(doc);
  if (!rules) return rules.error().Wrap("nft -j list ruleset");
  return std::shared_ptr<const InputRuleset>(
      std::make_shared<NftInput>(std::move(*rules), NftInputManagers(doc), std::move(planner)));
}

}  // namespace nodeagent::join_prep
