#include "reboot_blockers.h"

#include <regex>

namespace nodeagent::drain {

PodBlocker::PodBlocker(KubeClient& kube, std::string node, std::string selector)
    : kube_(kube), node_(std::move(node)), selector_(std::move(selector)) {}

Result<BlockCheck> PodBlocker::Check() {
  ListOptions o;
  o.field_selector = OnNodeSelector(node_);
  o.label_selector = selector_;
  auto pods = ListAllPods(kube_, "", o);
  if (!pods) return pods.error().Wrap("listing pods matching blocking_pod_selector " + selector_);
  for (const auto& p : (*pods)["items"]) {
    std::string phase = p.value(nlohmann::json::json_pointer("/status/phase"), "");
    if (phase == "Succeeded" || phase == "Failed") continue;
    return BlockCheck{true, "pod " + p["metadata"].value("namespace", "") + "/" + p["metadata"].value("name", "") +
                                " matches blocking_pod_selector " + selector_};
  }
  return BlockCheck{false, "no pod on " + node_ + " matches blocking_pod_selector " + selector_};
}

PrometheusBlocker::PrometheusBlocker(HttpClient& http, std::string url, std::string name_regex)
    : http_(http), url_(std::move(url)), regex_(std::move(name_regex)) {}

Result<BlockCheck> PrometheusBlocker::Check() {
  std::regex re;
  try {
    re = std::regex(regex_.empty() ? std::string(".*") : regex_);
  } catch (const std::regex_error& e) {
    return InvalidArgument("alert_filter_regex \"" + regex_ + "\": " + e.what());
  }
  std::string url = url_;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/api/v1/alerts";
  auto r = http_.Get(url, std::chrono::seconds(10));
  if (!r) return r.error().Wrap("asking Prometheus for alerts");
  if (r->status != 200)
    return Error(ErrorCode::kUnavailable, "GET " + url + ": HTTP " + std::to_string(r->status));
  nlohmann::json body = nlohmann::json::parse(r->body, nullptr, false);
  if (body.is_discarded() || !body.contains("data"))
    return InvalidArgument("GET " + url + ": not a Prometheus alerts answer");
  std::vector<std::string> firing;
  for (const auto& a : body["data"].value("alerts", nlohmann::json::array())) {
    if (a.value("state", "") != "firing") continue;
    std::string name = a.value(nlohmann::json::json_pointer("/labels/alertname"), "");
    if (std::regex_match(name, re)) firing.push_back(name);
  }
  if (firing.empty()) return BlockCheck{false, "no firing alert matches \"" + regex_ + "\""};
  std::string names;
  for (const auto& n : firing) names += (names.empty() ? "" : ", ") + n;
  return BlockCheck{true, "firing Prometheus alert(s) matching \"" + regex_ + "\": " + names};
}

Result<BlockCheck> CheckBlockers(const std::vector<std::unique_ptr<RebootBlocker>>& blockers) {
  for (const auto& b : blockers) {
    auto r = b->Check();
    if (!r) return r.error();
    if (r->blocked) return r;
  }
  return BlockCheck{false, "no blocker"};
}

}  // namespace nodeagent::drain
