// The join itself, after the preflight: what the plan shows for it (the
// kubeadm command, the private JoinConfiguration it reads, the wait for the
// Node) and the run (join/: write the configuration, run kubeadm with its
// output as progress, remove the file, wait for Ready). Kept apart from the
// actions so that join-prep links none of it.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "join_params.h"
#include "nodeagent/action.h"

namespace nodeagent::join_prep {

struct PlannedJoin {
  std::vector<Change> changes;
  nlohmann::json data = nlohmann::json::object();
};

/// The join's changes for the plan. Read-only.
Result<PlannedJoin> PlanJoin(ActionContext& ctx, const JoinParams& params);

/// Joins and waits for the Node; fills `out` (changes, findings, data.join,
/// summary). An error says what failed without the token.
Status RunJoin(ActionContext& ctx, const JoinParams& params, const std::string& token, Outcome& out);

}  // namespace nodeagent::join_prep
