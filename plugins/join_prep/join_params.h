// The parameter tables of join-prep and join, and the typed JoinParams they
// fill. Each row names the member it fills (nodeagent/param_binding.h), so a
// parameter's name, type, default, range and doc are written once and drive
// config validation, `agentctl describe` and the man page. join-prep takes
// the checks' parameters; join adds the credentials and the wait.
#pragma once

#include <span>
#include <string>

#include "join_options.h"
#include "nodeagent/host.h"
#include "nodeagent/params.h"
#include "nodeagent/result.h"

namespace nodeagent::join_prep {

struct JoinParams {
  JoinOptions checks;
  /// The bootstrap token, or the file holding it (one of them for join).
  std::string token;
  std::string token_file;
};

std::span<const ParamSpec> JoinPrepParams();
std::span<const ParamSpec> JoinParamsTable();

/// Fills JoinParams from `params` (any rows of either table), each value
/// checked against its row; node_name defaults to `default_node`.
Result<JoinParams> ParamsFromValues(const Params& params, const std::string& default_node);

/// Cross-parameter checks of join-prep: fix ids known, hashes well formed.
Status ValidateJoinPrep(const Params& params);
/// join's: also an endpoint, exactly one of token and token_file, and at
/// least one CA hash (we never join without pinning the CA).
Status ValidateJoin(const Params& params);

/// "sha256:" followed by 64 hex digits (kubeadm's --discovery-token-ca-cert-hash).
bool IsCaCertHash(std::string_view text);
/// kubeadm's bootstrap token form: 6 then 16 of [a-z0-9], joined by ".".
bool IsBootstrapToken(std::string_view text);

/// The token: `token`, or the first line of `token_file` read through the
/// host seam (the file must belong to root and not be readable by group or
/// others). Errors never contain the token.
Result<std::string> ReadToken(const FileSystem& files, const JoinParams& params);

}  // namespace nodeagent::join_prep
