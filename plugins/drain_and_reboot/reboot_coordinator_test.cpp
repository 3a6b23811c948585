// The reboot coordinator's corner cases (issue 10, defects 8 and 11) against
// FakeKubeClient and FakeActionContext: the reboot command is scripted, and a
// "reboot" is a new /proc/1/stat (and boot id) under the temp root.
#include "reboot_coordinator.h"

#include <catch2/catch.hpp>

#include "fake_kube_client.h"
#include "pod_filter.h"  // ParseRfc3339
#include "testing/fake_action_context.h"

using namespace nodeagent;
using namespace nodeagent::drain;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

std::string Stat(const std::string& start) {
  return "1 (systemd) S 0 1 1 0 -1 4194560 52341 4569034 115 1833 113 290 30931 8770 20 0 1 0 " + start +
         " 171544576 3034 18446744073709551615 1 1 0 0 0 0 671173123 4096 1260 0 0 0 17 1 0 0 0 0 0\n";
}

json Node(bool ready, const std::string& since, const std::string& boot_id) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", "node-1"}, {"uid", "uid-1"}}},
          {"spec", json::object()},
          {"status",
           {{"conditions", json::array({{{"type", "Ready"},
                                         {"status", ready ? "True" : "False"},
                                         {"lastTransitionTime", since}}})},
            {"nodeInfo", {{"bootID", boot_id}}}}}};
}

struct Bed {
  FakeActionContext ctx;
  FakeKubeClient kube;
  RunOptions o;

  Bed() {
    ctx.root().Write("/proc/sys/kernel/random/boot_id", "host-boot\n");
    ctx.root().Write("/proc/1/stat", Stat("100"));
    kube.nodes["node-1"] = Node(true, "2026-01-01T00:00:00Z", "container-boot-1");
    o.node = "node-1";
    o.reboot = true;
    o.reboot_command = {"reboot-stub"};
    o.use_lock = true;
    o.lock.holder = "node-1";
    o.lock.ttl = 30min;
    o.lock_wait = 1h;
    o.reboot_timeout = 10min;
    o.ready_timeout = 15min;
  }
  bool Unschedulable() { return kube.nodes["node-1"]["spec"].value("unschedulable", false); }
  /// What the kubelet (or the node controller) reports; spec and metadata stay.
  void SetStatus(bool ready, const std::string& since, const std::string& boot_id) {
    kube.nodes["node-1"]["status"] = Node(ready, since, boot_id)["status"];
  }
};

}  // namespace

TEST_CASE("was_unschedulable_is_read_after_the_lock_wait: a node cordoned during the wait stays cordoned",
          "[reboot_coordinator]") {
  Bed b;
  b.kube.leases["kube-system/nodeagent-reboot-lock-0"] = {
      {"metadata", {{"name", "nodeagent-reboot-lock-0"}, {"namespace", "kube-system"}, {"resourceVersion", "1"}}},
      {"spec", {{"holderIdentity", "node-2"}, {"leaseDurationSeconds", 1800}, {"renewTime", "2026-01-01T00:00:00Z"}}}};
  int lease_reads = 0;
  b.kube.before_get_lease = [&] {
    if (++lease_reads != 2) return;
    // While we wait: an administrator cordons this node, and node-2 finishes and gives the lock back.
    b.kube.nodes["node-1"]["spec"]["unschedulable"] = true;
    b.kube.leases.clear();
  };
  CommandResult failed;
  failed.exit_code = 1;
  b.ctx.commands().Answer({"reboot-stub"}, failed);  // ends the run with a rollback
  RebootCoordinator c(b.ctx, b.kube, nullptr, b.o, "drain-and-reboot");
  auto out = c.Run();
  REQUIRE(out);
  INFO(out->summary);
  REQUIRE(lease_reads >= 2);
  CHECK(out->status == RunStatus::kFailed);
  CHECK(out->summary.find("left unschedulable as it was before") != std::string::npos);
  CHECK(b.Unschedulable());  // the administrator's cordon survives the rollback
  CHECK(b.kube.leases.empty());
}

TEST_CASE("lease_renewed_while_waiting_for_the_node_after_the_boot", "[reboot_coordinator]") {
  Bed b;
  b.o.reboot_timeout = 5min;
  b.o.ready_timeout = 25min;  // 5m + 25m = the 30m TTL
  std::optional<std::chrono::steady_clock::time_point> rebooted_at;
  b.ctx.commands().AnswerWith({"reboot-stub"}, [&](const CommandSpec&) -> Result<CommandResult> {
    b.ctx.root().Write("/proc/sys/kernel/random/boot_id", "host-boot-2\n");  // a real node: both change
    b.ctx.root().Write("/proc/1/stat", Stat("90"));
    b.SetStatus(false, "2026-01-01T01:00:00Z", "container-boot-1");
    rebooted_at = b.ctx.clock().Monotonic();
    CommandResult ok;
    ok.exit_code = 0;
    return ok;
  });
  std::chrono::seconds oldest_lease{0};
  bool lease_missing = false;
  b.kube.before_get_node = [&] {
    if (!rebooted_at) return;
    auto lease = b.kube.leases.find("kube-system/nodeagent-reboot-lock-0");
    auto renewed = lease == b.kube.leases.end() ? std::nullopt
                                                : ParseRfc3339(lease->second["spec"].value("renewTime", ""));
    if (!renewed) {
      lease_missing = true;
      return;
    }
    oldest_lease = std::max(oldest_lease, std::chrono::duration_cast<std::chrono::seconds>(b.ctx.clock().Now() - *renewed));
    if (b.ctx.clock().Monotonic() - *rebooted_at >= 20min)  // the kubelet takes 20 minutes to come back
      b.SetStatus(true, "2026-01-01T02:00:00Z", "host-boot-2");
  };
  RebootCoordinator c(b.ctx, b.kube, nullptr, b.o, "drain-and-reboot");
  auto out = c.Run();
  REQUIRE(out);
  INFO(out->summary);
  CHECK(out->status == RunStatus::kChanged);
  CHECK_FALSE(b.Unschedulable());
  CHECK(b.kube.leases.empty());  // released at the end
  CHECK_FALSE(lease_missing);
  // Renewed every TTL/3 (10m) while waiting, so never older than that (+ one 0.5 s poll).
  CHECK(oldest_lease <= 10min + 1s);
}

TEST_CASE("reboot_recognised_under_the_shipped_unit: only PID 1's start time changes (nspawn)",
          "[reboot_coordinator]") {
  Bed b;
  bool cordoned_at_reboot = false;
  b.ctx.commands().AnswerWith({"reboot-stub"}, [&](const CommandSpec&) -> Result<CommandResult> {
    // The container rebooted; the unit still sees the host's boot id. The kubelet
    // reports the container's new boot id (which the agent cannot read) and Ready.
    cordoned_at_reboot = b.Unschedulable();
    b.ctx.root().Write("/proc/1/stat", Stat("7000"));
    b.SetStatus(true, "2026-01-01T00:00:00Z", "container-boot-2");
    CommandResult ok;
    ok.exit_code = 0;
    return ok;
  });
  RebootCoordinator c(b.ctx, b.kube, nullptr, b.o, "drain-and-reboot");
  auto out = c.Run();
  REQUIRE(out);
  INFO(out->summary);
  CHECK(out->status == RunStatus::kChanged);
  CHECK(cordoned_at_reboot);
  CHECK(out->data.value("back_because", "").find("new boot id container-boot-2") != std::string::npos);
  CHECK_FALSE(b.Unschedulable());
  CHECK(b.kube.leases.empty());
}

TEST_CASE("reboot_recognised_under_the_shipped_unit: resumed after the boot, waits for the Node's new boot",
          "[reboot_coordinator]") {
  Bed b;
  b.ctx.commands().AnswerWith({"reboot-stub"}, [&](const CommandSpec&) -> Result<CommandResult> {
    b.ctx.Cancel();  // the system goes down under the worker
    CommandResult ok;
    ok.exit_code = 0;
    return ok;
  });
  {
    RebootCoordinator c(b.ctx, b.kube, nullptr, b.o, "drain-and-reboot");
    auto out = c.Run();
    REQUIRE(out);
    REQUIRE(out->status == RunStatus::kRunning);
    CHECK(b.Unschedulable());
  }
  REQUIRE(b.ctx.checkpoint());
  const json checkpoint = *b.ctx.checkpoint();
  CHECK(checkpoint["phase"] == "rebooting");
  CHECK(checkpoint["pid1_start"] == "100");
  CHECK(checkpoint["node_boot_id"] == "container-boot-1");

  // The next boot: a new process over the same host, PID 1 started anew, host boot id unchanged.
  FakeActionContext after;
  after.root().Write("/proc/sys/kernel/random/boot_id", "host-boot\n");
  after.root().Write("/proc/1/stat", Stat("6400"));
  after.clock().Set(b.ctx.clock().Now() + 1min);
  int reads = 0;
  b.kube.before_get_node = [&] {
    // The node controller has not noticed yet (old Ready=True, old boot id), then the kubelet reports.
    if (++reads == 4) b.SetStatus(true, "2026-01-01T00:00:00Z", "container-boot-2");
  };
  RebootCoordinator c(after, b.kube, nullptr, b.o, "drain-and-reboot");
  auto out = c.Resume(checkpoint);
  REQUIRE(out);
  INFO(out->summary);
  CHECK(out->status == RunStatus::kChanged);
  CHECK(reads >= 4);  // not uncordoned on the stale Ready=True
  CHECK_FALSE(b.Unschedulable());
  CHECK(b.kube.leases.empty());
}

TEST_CASE("a reboot that does not happen is still noticed: same boot id, same PID 1", "[reboot_coordinator]") {
  Bed b;
  b.o.reboot_timeout = 1min;
  CommandResult ok;
  ok.exit_code = 0;
  b.ctx.commands().Answer({"reboot-stub"}, ok);
  RebootCoordinator c(b.ctx, b.kube, nullptr, b.o, "drain-and-reboot");
  auto out = c.Run();
  REQUIRE(out);
  CHECK(out->status == RunStatus::kFailed);
  CHECK(out->summary.find("the reboot did not happen") != std::string::npos);
  CHECK_FALSE(b.Unschedulable());
  CHECK(b.kube.leases.empty());
}
