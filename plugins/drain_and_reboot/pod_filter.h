// Which pods a drain evicts, skips or is blocked by: `kubectl drain`'s pod
// filters, in kubectl's order (deleted long ago, DaemonSet, mirror, local
// storage, unreplicated), as a pure function of the pod and the options so the
// table of cases is unit-tested without a cluster.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace nodeagent::drain {

struct PodFilterOptions {
  bool ignore_daemonsets = true;
  bool delete_emptydir_data = true;
  bool force = false;
  /// Pods deleted longer ago than this are skipped; 0: never skip them.
  std::chrono::seconds skip_wait_for_delete_timeout{0};
};

enum class PodVerdict { kEvict, kSkip, kBlock };
const char* PodVerdictName(PodVerdict v);

struct PodDecision {
  PodVerdict verdict = PodVerdict::kEvict;
  std::string filter;   // which filter decided: "deleted", "daemonset", "mirror", "local-storage", "unreplicated", ""
  std::string reason;   // why, for the plan and the logs; empty for a plain evict
};

/// Answers whether the DaemonSet ns/name exists (the caller may cache or ask
/// the API server). Only called for DaemonSet-managed pods.
using DaemonSetExists = std::function<bool(const std::string& ns, const std::string& name)>;

/// Classifies one pod. `now` is the wall clock (for deletionTimestamp).
PodDecision ClassifyPod(const nlohmann::json& pod, const PodFilterOptions& options, const DaemonSetExists& ds_exists,
                        std::chrono::system_clock::time_point now);

/// "ns/name" of a pod object.
std::string PodKey(const nlohmann::json& pod);

/// Parses an RFC 3339 time ("2026-01-02T03:04:05Z", fractions allowed). nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text);
/// "2026-01-02T03:04:05.123456Z" (MicroTime, as Leases use).
std::string FormatMicroTime(std::chrono::system_clock::time_point t);

}  // namespace nodeagent::drain
