// Running `kubeadm join` for the join action. The secrets travel in a
// JoinConfiguration file (join_config.h) that exists only while kubeadm
// runs: mode 0600 in a fresh 0700 directory of its own under
// JoinSettings::work_dir_base, removed again whatever happens (success, a
// failure, a timeout, cancellation). The token is never on kubeadm's argv,
// in its environment, in a log or progress line, an error or the result:
// every output line is streamed to the run's log and progress with the token
// blanked out. A failed join returns kubeadm's own [ERROR ...] and "error
// execution phase" lines and the advice; `kubeadm reset` is never run for
// the operator, who decides after reading the error.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "join/join_config.h"
#include "nodeagent/action.h"

namespace nodeagent::join_prep {

struct JoinResult {
  bool joined = false;              ///< kubeadm join exited 0
  std::string kubeadm_version;      ///< "v1.31.2"
  std::string api_version;          ///< "kubeadm.k8s.io/v1beta4"
  int exit_code = -1;
  bool timed_out = false;
  bool cancelled = false;
  std::chrono::milliseconds duration{0};
  /// kubeadm's error lines (or, when it printed none, its last lines), redacted.
  std::vector<std::string> error_lines;
  /// One paragraph for the Outcome: what happened and what to do.
  std::string summary;
  /// A problem removing the configuration file ("" when it is gone).
  std::string cleanup_problem;

  /// For Outcome::data (-o json); holds no secret.
  nlohmann::json ToJson() const;
};

/// The plan's Change for the join: runs `kubeadm join --config <file>` and
/// writes that file under settings.work_dir_base (objects: the command and
/// the directory subtree). Holds no secret.
Change KubeadmJoinChange(const JoinSettings& settings);

/// Asks `kubeadm version -o short` (read-only; allowed while planning) and
/// picks the JoinConfiguration schema for it. Errors name the command and
/// quote its stderr.
Result<std::pair<KubeadmVersion, KubeadmApi>> DetectKubeadmApi(ActionContext& ctx, const JoinSettings& settings);

/// Runs the join through ctx.host() (its files and commands), streaming
/// kubeadm's output to ctx.Log and ctx.Progress. An Error when it could not
/// be run at all (invalid settings, kubeadm missing or too old, the private
/// directory unusable, cancelled before the start); a JoinResult otherwise,
/// with joined=false when kubeadm failed, timed out or was cancelled.
Result<JoinResult> RunKubeadmJoin(ActionContext& ctx, const JoinSettings& settings);

/// `text` with every occurrence of each non-empty secret replaced by "<redacted>".
std::string RedactSecrets(std::string_view text, const std::vector<std::string>& secrets);

/// Whether a kubeadm output line is one of its error lines: "[ERROR X]: ...",
/// "error execution phase ...", "error: ...".
bool IsKubeadmErrorLine(std::string_view line);

}  // namespace nodeagent::join_prep
