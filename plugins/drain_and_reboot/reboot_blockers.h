// What may veto a reboot even when one is required, like kured's
// RebootBlocker: pods on the node matching a label selector (a batch job that
// must finish), or firing Prometheus alerts whose name matches a regex. Each
// blocker answers with the reason, so a skipped run says exactly why.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nodeagent/http.h"
#include "nodeagent/kube.h"

namespace nodeagent::drain {

struct BlockCheck {
  bool blocked = false;
  std::string why;  // "pod batch/etl-1 matches blocking_pod_selector app=etl"
};

class RebootBlocker {
 public:
  virtual ~RebootBlocker() = default;
  /// An Error when the check itself could not be made (callers treat that as blocked).
  virtual Result<BlockCheck> Check() = 0;
};

/// Blocks while a non-finished pod on `node` matches `selector` (label selector syntax).
class PodBlocker : public RebootBlocker {
 public:
  PodBlocker(KubeClient& kube, std::string node, std::string selector);
  Result<BlockCheck> Check() override;

 private:
  KubeClient& kube_;
  std::string node_, selector_;
};

/// Blocks while Prometheus at `url` reports a firing alert whose alertname
/// matches `name_regex` (ECMAScript, whole name; empty: any firing alert).
/// Asks GET <url>/api/v1/alerts.
class PrometheusBlocker : public RebootBlocker {
 public:
  PrometheusBlocker(HttpClient& http, std::string url, std::string name_regex);
  Result<BlockCheck> Check() override;

 private:
  HttpClient& http_;
  std::string url_, regex_;
};

/// Runs every blocker; the first that blocks (or errors) wins.
Result<BlockCheck> CheckBlockers(const std::vector<std::unique_ptr<RebootBlocker>>& blockers);

}  // namespace nodeagent::drain
