#include "nodeagent/plan_objects.h"

#include <catch2/catch.hpp>

using namespace nodeagent;

namespace {

PlanObjects Of(std::vector<std::string> objects) {
  Change c;
  c.kind = "edit";
  c.objects = std::move(objects);
  return PlanObjects({c});
}

}  // namespace

TEST_CASE("PlanObjects: a planned file covers that path only, after normalising by name") {
  PlanObjects p = Of({"file:/etc/fstab"});
  CHECK(p.Covers("file:/etc/fstab"));
  CHECK(p.Covers("file://etc/./fstab"));
  CHECK(p.Covers("file:/etc/x/../fstab"));
  CHECK_FALSE(p.Covers("file:/etc/fstab.bak"));
  CHECK_FALSE(p.Covers("file:/etc"));
  CHECK_FALSE(p.Covers("file:/etc/fstab/x"));
  CHECK(FileObject("etc/../../etc//hosts") == "file:/etc/hosts");
}

TEST_CASE("PlanObjects: dir/** covers the directory and everything below it, nothing beside it") {
  PlanObjects p = Of({"file:/var/log/app/**"});
  CHECK(p.Covers("file:/var/log/app"));
  CHECK(p.Covers("file:/var/log/app/a.log"));
  CHECK(p.Covers("file:/var/log/app/sub/deep/b.log"));
  CHECK_FALSE(p.Covers("file:/var/log/application.log"));
  CHECK_FALSE(p.Covers("file:/var/log"));
  CHECK_FALSE(p.Covers("file:/var/log/app/../other/x"));
  CHECK(Of({"file:/**"}).Covers("file:/anything/at/all"));
}

TEST_CASE("PlanObjects: commands by argv[0], kube objects exactly or with * segments") {
  PlanObjects p = Of({"command:/usr/sbin/swapoff", "kube:nodes/n1", "kube:pods/default/web-1", "kube:leases/kube-system/*"});
  CHECK(p.Covers(CommandObject("/usr/sbin/swapoff")));
  CHECK_FALSE(p.Covers("command:swapoff"));
  CHECK_FALSE(p.Covers("command:/usr/sbin/reboot"));
  CHECK(p.Covers(KubeObject("nodes", "", "n1")));
  CHECK_FALSE(p.Covers(KubeObject("nodes", "", "n2")));
  CHECK(p.Covers(KubeObject("pods", "default", "web-1")));
  CHECK_FALSE(p.Covers(KubeObject("pods", "default", "web-2")));
  CHECK(p.Covers(KubeObject("leases", "kube-system", "nodeagent-reboot")));
  CHECK_FALSE(p.Covers(KubeObject("leases", "default", "nodeagent-reboot")));
  CHECK_FALSE(p.Covers("kube:leases/kube-system"));
  CHECK_FALSE(p.Covers("file:/usr/sbin/swapoff"));
}

TEST_CASE("PlanObjects: an empty plan covers nothing; UnplannedObjects lists what was done outside it") {
  PlanObjects none;
  CHECK(none.empty());
  CHECK_FALSE(none.Covers("file:/"));
  PlanObjects p = Of({"file:/var/log/a.log"});
  Change done1{"delete", "/var/log/a.log", "", "", 0, {"file:/var/log/a.log"}};
  Change done2{"delete", "/var/log/b.log", "", "", 0, {"file:/var/log/b.log", "file:/var/log/b.log"}};
  Change note{"note", "nothing", "", "", 0, {}};
  CHECK(UnplannedObjects(p, {done1, note}).empty());
  CHECK(UnplannedObjects(p, {done1, done2, note}) == std::vector<std::string>{"file:/var/log/b.log"});
}

TEST_CASE("KubeObjectForRequest: the object a request path acts on") {
  nlohmann::json none;
  CHECK(KubeObjectForRequest("/api/v1/nodes/n1", none) == "kube:nodes/n1");
  CHECK(KubeObjectForRequest("/api/v1/namespaces/default/pods/web/eviction", none) == "kube:pods/default/web");
  CHECK(KubeObjectForRequest("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/lock-0", none) ==
        "kube:leases/kube-system/lock-0");
  CHECK(KubeObjectForRequest("/apis/crd.projectcalico.org/v1/ippools/default-ipv4-ippool", none) ==
        "kube:ippools/default-ipv4-ippool");
  CHECK(KubeObjectForRequest("/api/v1/namespaces/kube-system/configmaps", {{"metadata", {{"name", "cm"}}}}) ==
        "kube:configmaps/kube-system/cm");
  CHECK(KubeObjectForRequest("/api/v1/namespaces/kube-system/configmaps", none) == "kube:configmaps/kube-system/*");
  CHECK(KubeObjectForRequest("/api/v1/namespaces/team-a", none) == "kube:namespaces/team-a");
  CHECK(KubeObjectForRequest("/version", none) == "kube:/version");
}
