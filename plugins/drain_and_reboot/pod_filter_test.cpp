#include "pod_filter.h"

#include <catch2/catch.hpp>

using namespace nodeagent::drain;
using nlohmann::json;

namespace {

json Pod(const std::string& owner_kind, bool empty_dir = false, bool mirror = false, std::string phase = "Running",
         std::string deleted = "") {
  json p = {{"metadata", {{"name", "p"}, {"namespace", "ns"}}}, {"spec", json::object()},
            {"status", {{"phase", phase}}}};
  if (!owner_kind.empty())
    p["metadata"]["ownerReferences"] = {{{"kind", owner_kind}, {"name", "owner"}, {"controller", true}}};
  if (empty_dir) p["spec"]["volumes"] = {{{"name", "v"}, {"emptyDir", json::object()}}};
  if (mirror) p["metadata"]["annotations"] = {{"kubernetes.io/config.mirror", "x"}};
  if (!deleted.empty()) p["metadata"]["deletionTimestamp"] = deleted;
  return p;
}

struct Case {
  const char* name;
  json pod;
  PodFilterOptions options;
  bool ds_exists;
  PodVerdict verdict;
  const char* filter;
};

PodFilterOptions Opt(bool ignore_ds, bool emptydir, bool force, int skip_s = 0) {
  PodFilterOptions o;
  o.ignore_daemonsets = ignore_ds;
  o.delete_emptydir_data = emptydir;
  o.force = force;
  o.skip_wait_for_delete_timeout = std::chrono::seconds(skip_s);
  return o;
}

}  // namespace

TEST_CASE("kubectl drain filters in kubectl's order", "[pod_filter]") {
  const auto now = *ParseRfc3339("2026-01-01T00:10:00Z");
  const Case cases[] = {
      {"replicaset pod is evicted", Pod("ReplicaSet"), Opt(true, true, false), true, PodVerdict::kEvict, ""},
      {"daemonset pod skipped with ignore_daemonsets", Pod("DaemonSet"), Opt(true, true, false), true, PodVerdict::kSkip, "daemonset"},
      {"daemonset pod blocks without ignore_daemonsets", Pod("DaemonSet"), Opt(false, true, false), true, PodVerdict::kBlock, "daemonset"},
      {"orphaned daemonset pod blocks without force", Pod("DaemonSet"), Opt(true, true, false), false, PodVerdict::kBlock, "daemonset"},
      {"orphaned daemonset pod deleted with force", Pod("DaemonSet"), Opt(true, true, true), false, PodVerdict::kEvict, "daemonset"},
      {"mirror pod always skipped", Pod("", false, true), Opt(true, true, true), true, PodVerdict::kSkip, "mirror"},
      {"mirror beats unreplicated", Pod("", false, true), Opt(true, true, false), true, PodVerdict::kSkip, "mirror"},
      {"emptyDir blocks without delete_emptydir_data", Pod("ReplicaSet", true), Opt(true, false, false), true, PodVerdict::kBlock, "local-storage"},
      {"emptyDir evicted with delete_emptydir_data", Pod("ReplicaSet", true), Opt(true, true, false), true, PodVerdict::kEvict, "local-storage"},
      {"finished emptyDir pod needs no flag", Pod("ReplicaSet", true, false, "Succeeded"), Opt(true, false, false), true, PodVerdict::kEvict, ""},
      {"local storage checked before unreplicated", Pod("", true), Opt(true, false, false), true, PodVerdict::kBlock, "local-storage"},
      {"unmanaged pod blocks without force", Pod(""), Opt(true, true, false), true, PodVerdict::kBlock, "unreplicated"},
      {"unmanaged pod deleted with force", Pod(""), Opt(true, true, true), true, PodVerdict::kEvict, "unreplicated"},
      {"finished unmanaged pod needs no force", Pod("", false, false, "Failed"), Opt(true, true, false), true, PodVerdict::kEvict, ""},
      {"deleted long ago is skipped first", Pod("DaemonSet", false, false, "Running", "2026-01-01T00:00:00Z"), Opt(false, true, false, 60), true, PodVerdict::kSkip, "deleted"},
      {"deleted recently is still handled", Pod("ReplicaSet", false, false, "Running", "2026-01-01T00:09:30Z"), Opt(true, true, false, 60), true, PodVerdict::kEvict, ""},
      {"deleted without skip timeout is waited for", Pod("ReplicaSet", false, false, "Running", "2026-01-01T00:00:00Z"), Opt(true, true, false, 0), true, PodVerdict::kEvict, ""},
      {"statefulset pod is evicted", Pod("StatefulSet"), Opt(true, true, false), true, PodVerdict::kEvict, ""},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      int asked = 0;
      auto d = ClassifyPod(
          c.pod, c.options,
          [&](const std::string&, const std::string&) {
            ++asked;
            return c.ds_exists;
          },
          now);
      INFO(d.reason);
      CHECK(PodVerdictName(d.verdict) == std::string(PodVerdictName(c.verdict)));
      CHECK(d.filter == c.filter);
      if (c.pod["metadata"].contains("ownerReferences") &&
          c.pod["metadata"]["ownerReferences"][0]["kind"] != "DaemonSet")
        CHECK(asked == 0);
    }
  }
}

TEST_CASE("RFC 3339 times round-trip with microseconds", "[pod_filter]") {
  auto t = ParseRfc3339("2026-03-04T05:06:07.123456Z");
  REQUIRE(t);
  CHECK(FormatMicroTime(*t) == "2026-03-04T05:06:07.123456Z");
  CHECK(FormatMicroTime(*ParseRfc3339("2026-03-04T05:06:07Z")) == "2026-03-04T05:06:07.000000Z");
  CHECK_FALSE(ParseRfc3339("yesterday"));
}
