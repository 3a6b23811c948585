#include "pod_filter.h"

#include <cstdio>
#include <ctime>

namespace nodeagent::drain {

const char* PodVerdictName(PodVerdict v) {
  switch (v) {
    case PodVerdict::kEvict: return "evict";
    case PodVerdict::kSkip: return "skip";
    case PodVerdict::kBlock: return "block";
  }
  return "?";
}

std::string PodKey(const nlohmann::json& pod) {
  const auto& md = pod.value("metadata", nlohmann::json::object());
  return md.value("namespace", "") + "/" + md.value("name", "");
}

std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text) {
  std::tm tm{};
  int frac_pos = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &frac_pos) != 6)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  auto t = std::chrono::system_clock::from_time_t(timegm(&tm));
  size_t i = static_cast<size_t>(frac_pos);
  if (i < text.size() && text[i] == '.') {
    int64_t micros = 0;
    int digits = 0;
    for (++i; i < text.size() && isdigit(static_cast<unsigned char>(text[i])); ++i)
      if (digits < 6) micros = micros * 10 + (text[i] - '0'), ++digits;
    while (digits++ < 6) micros *= 10;
    t += std::chrono::microseconds(micros);
  }
  return t;
}

std::string FormatMicroTime(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
  std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros));
  return buf;
}

namespace {

const nlohmann::json* ControllerRef(const nlohmann::json& pod) {
  auto md = pod.find("metadata");
  if (md == pod.end()) return nullptr;
  auto refs = md->find("ownerReferences");
  if (refs == md->end() || !refs->is_array()) return nullptr;
  for (const auto& r : *refs)
    if (r.value("controller", false)) return &r;
  return nullptr;
}

bool Finished(const nlohmann::json& pod) {
  std::string phase = pod.value(nlohmann::json::json_pointer("/status/phase"), "");
  return phase == "Succeeded" || phase == "Failed";
}

bool HasEmptyDir(const nlohmann::json& pod) {
  auto vols = pod.value(nlohmann::json::json_pointer("/spec/volumes"), nlohmann::json::array());
  for (const auto& v : vols)
    if (v.contains("emptyDir")) return true;
  return false;
}

}  // namespace

PodDecision ClassifyPod(const nlohmann::json& pod, const PodFilterOptions& o, const DaemonSetExists& ds_exists,
                        std::chrono::system_clock::time_point now) {
  const nlohmann::json md = pod.value("metadata", nlohmann::json::object());
  // 1. Deleted long ago: kubectl's skipDeletedFilter.
  if (o.skip_wait_for_delete_timeout.count() > 0 && md.contains("deletionTimestamp")) {
    auto t = ParseRfc3339(md.value("deletionTimestamp", ""));
    if (t && now - *t > o.skip_wait_for_delete_timeout)
      return {PodVerdict::kSkip, "deleted", "deleted more than " +
                                                std::to_string(o.skip_wait_for_delete_timeout.count()) +
                                                "s ago (skip_wait_for_delete_timeout)"};
  }
  // 2. DaemonSet-managed.
  const nlohmann::json* ctrl = ControllerRef(pod);
  if (ctrl && ctrl->value("kind", "") == "DaemonSet") {
    std::string ds = ctrl->value("name", "");
    bool exists = ds_exists ? ds_exists(md.value("namespace", ""), ds) : true;
    if (!exists && !o.force)
      return {PodVerdict::kBlock, "daemonset", "its DaemonSet " + ds + " does not exist (use force to delete it)"};
    if (!o.ignore_daemonsets)
      return {PodVerdict::kBlock, "daemonset", "DaemonSet-managed (DaemonSet " + ds +
                                                   "); set ignore_daemonsets to skip it"};
    if (exists) return {PodVerdict::kSkip, "daemonset", "DaemonSet-managed (DaemonSet " + ds + ")"};
    return {PodVerdict::kEvict, "daemonset", "its DaemonSet " + ds + " does not exist; deleting (force)"};
  }
  // 3. Mirror (static) pods: the kubelet owns them.
  if (md.contains("annotations") && md["annotations"].contains("kubernetes.io/config.mirror"))
    return {PodVerdict::kSkip, "mirror", "mirror pod of a static pod (managed by the kubelet)"};
  // 4. Local storage.
  if (HasEmptyDir(pod) && !Finished(pod)) {
    if (!o.delete_emptydir_data)
      return {PodVerdict::kBlock, "local-storage", "uses emptyDir local storage; set delete_emptydir_data"};
  }
  // 5. Unreplicated.
  if (!ctrl && !Finished(pod)) {
    if (!o.force)
      return {PodVerdict::kBlock, "unreplicated", "not managed by a controller (would be lost); set force"};
    return {PodVerdict::kEvict, "unreplicated", "not managed by a controller: deleted for good (force)"};
  }
  if (HasEmptyDir(pod) && !Finished(pod))
    return {PodVerdict::kEvict, "local-storage", "its emptyDir data is deleted (delete_emptydir_data)"};
  return {PodVerdict::kEvict, "", ""};
}

}  // namespace nodeagent::drain
