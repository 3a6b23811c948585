#include "join_step.h"

#include "join/kubeadm_join.h"
#include "join/node_ready.h"

namespace nodeagent::join_prep {

namespace {

JoinSettings SettingsFor(const JoinParams& params, std::string token) {
  JoinSettings s;
  s.endpoint = params.checks.endpoint;
  s.token = std::move(token);
  s.ca_cert_hashes = params.checks.ca_cert_hashes;
  s.role = params.checks.role;
  s.node_name = params.checks.node_name;
  s.cri_socket = params.checks.cri_socket;
  s.ignore_preflight_errors = params.checks.ignore;
  return s;
}

}  // namespace

Result<PlannedJoin> PlanJoin(ActionContext& ctx, const JoinParams& params) {
  // The plan holds no secret: a stand-in token of the right form checks the
  // other settings the same way.
  JoinSettings settings = SettingsFor(params, "abcdef.0123456789abcdef");
  if (Status st = ValidateJoinSettings(settings); !st.ok()) return st.error();
  PlannedJoin planned;
  auto api = DetectKubeadmApi(ctx, settings);
  if (!api) return api.error().Wrap("join");
  planned.data = {{"endpoint", settings.endpoint},
                  {"kubeadm_version", "v" + std::to_string(api->first.major) + "." + std::to_string(api->first.minor) +
                                          "." + std::to_string(api->first.patch)},
                  {"api_version", KubeadmApiVersion(api->second)},
                  {"node", settings.node_name}};
  planned.changes.push_back(KubeadmJoinChange(settings));
  Change wait;
  wait.kind = "wait";
  wait.target = "node/" + settings.node_name;
  wait.description = "until the Node exists and is Ready (up to " + FormatDuration(params.checks.ready_timeout) + ")";
  planned.changes.push_back(std::move(wait));
  return planned;
}

Status RunJoin(ActionContext& ctx, const JoinParams& params, const std::string& token, Outcome& out) {
  JoinSettings settings = SettingsFor(params, token);
  auto joined = RunKubeadmJoin(ctx, settings);
  if (!joined) return joined.error().Wrap("kubeadm join");
  out.data["join"] = joined->ToJson();
  if (!joined->cleanup_problem.empty())
    out.findings.push_back({Severity::kError, "JoinConfiguration", joined->cleanup_problem});
  if (!joined->joined) {
    for (const auto& line : joined->error_lines) out.findings.push_back({Severity::kError, "kubeadm", line});
    return Error(ErrorCode::kIo, joined->summary);
  }
  out.changes.push_back(KubeadmJoinChange(settings));
  ctx.Info("kubeadm join succeeded; waiting for node " + settings.node_name + " to be Ready");
  auto ready = WaitNodeReady(ctx, settings.node_name, params.checks.ready_timeout);
  if (!ready) {
    out.data["ready"] = {{"ready", false}, {"error", ready.error().message()}};
    return ready.error().Wrap("joined, but node " + settings.node_name + " is not Ready");
  }
  out.data["ready"] = ready->ToJson();
  out.summary = "joined " + settings.endpoint + " as node " + settings.node_name + "; Ready after " +
                FormatDuration(ready->waited);
  return Status::Ok();
}

}  // namespace nodeagent::join_prep
