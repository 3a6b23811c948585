#include "join/node_ready.h"

#include <algorithm>
#include <functional>

namespace nodeagent::join_prep {

namespace {

constexpr size_t kMaxMessage = 200;
constexpr const char* kPressureConditions[] = {"MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"};

std::string Seconds(std::chrono::milliseconds d) { return std::to_string(d.count() / 1000) + " s"; }

std::string Bounded(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  if (s.size() > kMaxMessage) s = s.substr(0, kMaxMessage) + "...";
  return s;
}

const nlohmann::json* FindCondition(const nlohmann::json& node, std::string_view type) {
  const nlohmann::json* conditions = nullptr;
  if (node.is_object() && node.contains("status") && node["status"].is_object() &&
      node["status"].contains("conditions") && node["status"]["conditions"].is_array())
    conditions = &node["status"]["conditions"];
  if (!conditions) return nullptr;
  for (const auto& c : *conditions)
    if (c.is_object() && c.value("type", "") == type) return &c;
  return nullptr;
}

std::string StringField(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

using ClientSource = std::function<Result<KubeClient*>()>;

Result<NodeReadiness> Wait(ActionContext& ctx, const ClientSource& client_source, const std::string& node,
                           std::chrono::milliseconds timeout, std::chrono::milliseconds interval) {
  Clock& clock = ctx.host().clock();
  const auto start = clock.Monotonic();
  NodeReadiness r;
  r.state = "not looked at yet";
  std::string logged;
  for (;;) {
    r.waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock.Monotonic() - start);
    if (ctx.cancelled())
      return Error(ErrorCode::kCancelled,
                   "waiting for node " + node + " to be Ready: cancelled after " + Seconds(r.waited) + " (" + r.state + ")");
    ++r.polls;
    auto client = client_source();
    if (!client) {
      r.state = "no Kubernetes client yet (" + Bounded(client.error().message()) + ")";
    } else {
      KubeResult<nlohmann::json> got = (*client)->GetNode(node);
      if (got.ok()) {
        r.state = DescribeNodeConditions(*got);
        if (IsNodeReady(*got)) {
          r.ready = true;
          ctx.Info("node " + node + ": " + r.state + " after " + Seconds(r.waited));
          return r;
        }
      } else if (got.error().code() == ErrorCode::kNotFound) {
        r.state = "not found yet";
      } else if (got.error().code() == ErrorCode::kPermissionDenied) {
        return Error(ErrorCode::kPermissionDenied,
                     "reading node " + node + ": " + Bounded(got.error().message()) +
                         " (the agent's Kubernetes identity needs get on nodes)");
      } else {
        r.state = "API error: " + Bounded(got.error().message());
      }
    }
    ctx.Progress("node " + node + ": " + r.state + " (" + Seconds(r.waited) + ")");
    if (r.state != logged) {
      ctx.Info("node " + node + ": " + r.state);
      logged = r.state;
    }
    if (r.waited >= timeout)
      return Error(ErrorCode::kTimeout, "node " + node + " not Ready after " + Seconds(r.waited) + ": " + r.state);
    clock.SleepFor(std::min(interval, timeout - r.waited), ctx.cancel_flag());
  }
}

}  // namespace

nlohmann::json NodeReadiness::ToJson() const {
  return {{"ready", ready}, {"state", state}, {"waited_ms", waited.count()}, {"polls", polls}};
}

bool IsNodeReady(const nlohmann::json& node) {
  const nlohmann::json* ready = FindCondition(node, "Ready");
  return ready && StringField(*ready, "status") == "True";
}

std::string DescribeNodeConditions(const nlohmann::json& node) {
  const nlohmann::json* ready = FindCondition(node, "Ready");
  std::string out;
  if (!ready) {
    out = "no Ready condition yet";
  } else {
    std::string status = StringField(*ready, "status");
    out = "Ready=" + (status.empty() ? std::string("?") : status);
    if (status != "True") {
      std::string reason = StringField(*ready, "reason");
      std::string message = StringField(*ready, "message");
      if (!reason.empty() || !message.empty())
        out += " (" + reason + (reason.empty() || message.empty() ? "" : ": ") + Bounded(message) + ")";
    }
  }
  for (const char* type : kPressureConditions) {
    const nlohmann::json* c = FindCondition(node, type);
    if (c && StringField(*c, "status") == "True") out += std::string("; ") + type + "=True";
  }
  return out;
}

Result<NodeReadiness> WaitNodeReady(ActionContext& ctx, KubeClient& kube, const std::string& node,
                                    std::chrono::milliseconds timeout, std::chrono::milliseconds interval) {
  return Wait(ctx, [&kube]() -> Result<KubeClient*> { return &kube; }, node, timeout, interval);
}

Result<NodeReadiness> WaitNodeReady(ActionContext& ctx, const std::string& node, std::chrono::milliseconds timeout,
                                    std::chrono::milliseconds interval) {
  return Wait(ctx, [&ctx] { return ctx.Kube(); }, node, timeout, interval);
}

}  // namespace nodeagent::join_prep
