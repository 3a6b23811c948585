#include <catch2/catch.hpp>

#include "audit/sha256.h"
#include "host/fake_host.h"
#include "host/local_file_system.h"
#include "host/local_host.h"
#include "host/system_clock.h"
#include "runner/audit_hooks.h"
#include "testing/fake_kube_client.h"

using namespace nodeagent;
using json = nlohmann::json;

namespace {

struct HookFixture {
  TempRoot root;
  LocalFileSystem files{root.path()};
  FakeCommandRunner commands;
  SystemClock clock;
  LocalHost host{files, commands, clock};
  AuditLog log{root.Real("/state/audit")};
  SecretScrubber scrubber;
  RunAuditTrail trail{log, clock, scrubber, AuditEntry{.run_id = "r1", .action = "a", .task = "t", .node = "n1"}};
  AuditingHost audited{host, trail};

  std::vector<json> Entries() {
    auto read = ReadAuditLog(log.dir(), {});
    REQUIRE(read);
    CHECK(read->skipped_lines == 0);
    CHECK(trail.failures() == 0);
    return read->entries;
  }
};

}  // namespace

TEST_CASE("audit hooks record file changes with the hash before and after, and skip non-changes") {
  HookFixture f;
  f.root.Write("/etc/x", "old\n");
  REQUIRE(f.audited.files().WriteFileAtomic("/etc/x", "new\n").ok());
  REQUIRE(f.audited.files().WriteFileAtomic("/etc/fresh", "fresh\n").ok());
  REQUIRE(f.audited.files().MakeDirs("/etc", 0755).ok());  // already there: no change
  REQUIRE(f.audited.files().MakeDirs("/etc/d", 0750).ok());
  REQUIRE(f.audited.files().Chmod("/etc/x", 0600).ok());
  REQUIRE(f.audited.files().Remove("/etc/missing").ok());  // nothing there: no change
  REQUIRE(f.audited.files().Remove("/etc/fresh").ok());
  CHECK_FALSE(f.audited.files().WriteInPlace("/proc/none", "1").ok());
  (void)f.audited.files().ReadFile("/etc/x");  // a look is not recorded

  auto e = f.Entries();
  REQUIRE(e.size() == 6);
  CHECK(e[0]["op"] == "write");
  CHECK(e[0]["path"] == "/etc/x");
  CHECK(e[0]["sha256_before"] == Sha256Hex("old\n"));
  CHECK(e[0]["sha256_after"] == Sha256Hex("new\n"));
  CHECK(e[0]["run"] == "r1");
  CHECK(e[0]["task"] == "t");
  CHECK(e[1]["sha256_before"].is_null());
  CHECK(e[1]["sha256_after"] == Sha256Hex("fresh\n"));
  CHECK(e[2]["op"] == "mkdir");
  CHECK(e[2]["path"] == "/etc/d");
  CHECK(e[2]["mode"] == "0750");
  CHECK(e[3]["op"] == "chmod");
  CHECK(e[3]["mode_before"] == "0644");
  CHECK(e[3]["mode_after"] == "0600");
  CHECK(e[4]["op"] == "remove");
  CHECK(e[4]["sha256_before"] == Sha256Hex("fresh\n"));
  CHECK(e[4]["sha256_after"].is_null());
  CHECK(e[5]["op"] == "write-in-place");
  CHECK(e[5]["result"] == "error");
  CHECK(f.trail.Saw("file:/etc/x"));
  CHECK_FALSE(f.trail.Saw("file:/proc/none"));
}

TEST_CASE("audit hooks record commands not marked read_only with argv and exit code") {
  HookFixture f;
  f.commands.Answer({"/usr/sbin/swapoff"}, CommandResult{0});
  f.commands.Answer({"/bin/false"}, CommandResult{1});
  f.commands.Answer({"/bin/cat"}, CommandResult{0});
  REQUIRE(f.audited.commands().Run({.argv = {"/usr/sbin/swapoff", "-a"}}));
  REQUIRE(f.audited.commands().Run({.argv = {"/bin/false"}}));
  REQUIRE(f.audited.commands().Run({.argv = {"/bin/cat", "/proc/swaps"}, .read_only = true}));
  CHECK_FALSE(f.audited.commands().Run({.argv = {"/not/scripted"}}));
  auto e = f.Entries();
  REQUIRE(e.size() == 3);
  CHECK(e[0]["kind"] == "command");
  CHECK(e[0]["argv"] == json::array({"/usr/sbin/swapoff", "-a"}));
  CHECK(e[0]["exit_code"] == 0);
  CHECK(e[0]["result"] == "ok");
  CHECK(e[1]["exit_code"] == 1);
  CHECK(e[1]["error"] == "exit code 1");
  CHECK(e[2]["argv"] == json::array({"/not/scripted"}));
  CHECK(e[2]["result"] == "error");
}

TEST_CASE("audit hooks record every Kubernetes call but reads, with verb, resource and name") {
  HookFixture f;
  auto fake = std::make_unique<FakeKubeClient>();
  fake->Answer("PATCH /api/v1/nodes/n1", json::object());
  fake->Answer("GET /api/v1/nodes/n1", json::object());
  fake->Fail("POST /api/v1/namespaces/web/pods/p1/eviction", 429, "TooManyRequests");
  fake->Answer("DELETE /apis/crd.projectcalico.org/v1/ippools/default", json::object());
  auto kube = AuditKubeClient(std::move(fake), f.trail);
  REQUIRE(kube->PatchNode("n1", json::object(), PatchType::kMerge));
  REQUIRE(kube->GetNode("n1"));
  CHECK_FALSE(kube->EvictPod("web", "p1", {}));
  REQUIRE(kube->Request(KubeRequest::Delete("/apis/crd.projectcalico.org/v1/ippools/default")));
  auto e = f.Entries();
  REQUIRE(e.size() == 3);
  CHECK(e[0]["kind"] == "kube");
  CHECK(e[0]["verb"] == "patch");
  CHECK(e[0]["resource"] == "nodes");
  CHECK(e[0]["name"] == "n1");
  CHECK(e[1]["verb"] == "evict");
  CHECK(e[1]["namespace"] == "web");
  CHECK(e[1]["subresource"] == "eviction");
  CHECK(e[1]["http_status"] == 429);
  CHECK(e[1]["result"] == "error");
  CHECK(e[2]["verb"] == "delete");
  CHECK(e[2]["group"] == "crd.projectcalico.org");
  CHECK(e[2]["resource"] == "ippools");
  CHECK(e[2]["name"] == "default");
  CHECK(f.trail.Saw("kube:nodes/n1"));
}

TEST_CASE("KubePathFields splits an API path into group, resource, namespace, name and subresource") {
  CHECK(KubePathFields("/api/v1/namespaces/ns/pods/web/eviction") ==
        json{{"group", ""}, {"resource", "pods"}, {"namespace", "ns"}, {"name", "web"}, {"subresource", "eviction"}});
  CHECK(KubePathFields("/apis/apps/v1/namespaces/kube-system/daemonsets") ==
        json{{"group", "apps"}, {"resource", "daemonsets"}, {"namespace", "kube-system"}, {"name", ""},
             {"subresource", ""}});
  CHECK(KubePathFields("/api/v1/namespaces/kube-system") ==
        json{{"group", ""}, {"resource", "namespaces"}, {"namespace", ""}, {"name", "kube-system"},
             {"subresource", ""}});
  CHECK(KubePathFields("/version") == json{{"path", "/version"}});
}
