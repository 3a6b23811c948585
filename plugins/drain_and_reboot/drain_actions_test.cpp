// "What you planned is what you apply" for the drain_and_reboot actions, run
// as the core runs them (MakePlan, Apply, and Resume after the boot) against
// FakeKubeClient and FakeActionContext: every change to the cluster, every
// command run and every file written must be named by the plan's
// Change::objects, which is what the core's apply-phase guard holds them to.
#include "drain_actions.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/param_validation.h"
#include "fake_kube_client.h"
#include "reboot_coordinator.h"
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

json Node(const std::string& boot_id, bool unschedulable = false) {
  json n = {{"apiVersion", "v1"},
            {"kind", "Node"},
            {"metadata", {{"name", "node-1"}, {"uid", "uid-1"}}},
            {"spec", json::object()},
            {"status",
             {{"conditions", json::array({{{"type", "Ready"},
                                           {"status", "True"},
                                           {"lastTransitionTime", "2026-01-01T00:00:00Z"}}})},
              {"nodeInfo", {{"bootID", boot_id}}}}}};
  if (unschedulable) n["spec"]["unschedulable"] = true;
  return n;
}

json Pod(const std::string& ns, const std::string& name, const std::string& owner_kind) {
  json p = {{"metadata", {{"namespace", ns}, {"name", name}, {"uid", "uid-" + name}}},
            {"spec", {{"nodeName", "node-1"}}},
            {"status", {{"phase", "Running"}}}};
  if (!owner_kind.empty())
    p["metadata"]["ownerReferences"] = json::array({{{"kind", owner_kind}, {"name", name + "-owner"},
                                                     {"controller", true}}});
  return p;
}

const ActionSpec& Spec(std::string_view name) {
  for (const auto& s : DrainActionSpecs())
    if (s.name == name) return s;
  FAIL("no action " << name);
  throw std::logic_error("unreachable");
}

/// The action's parameter table at its defaults, as the core resolves an empty task.
Params Defaults(const ActionSpec& spec) {
  Params p;
  for (const auto& row : spec.params) {
    auto v = DefaultValue(row);
    REQUIRE(v);
    if (*v) p.Set(std::string(row.name), **v);
  }
  return p;
}

/// Every regular file under `dir` with its content, to see what a run wrote.
std::map<std::string, std::string> Tree(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path());
    std::stringstream text;
    text << in.rdbuf();
    files[e.path().string()] = text.str();
  }
  return files;
}

std::vector<std::string> Segments(const std::string& object) {
  std::vector<std::string> parts;
  std::stringstream in(object);
  for (std::string part; std::getline(in, part, '/');) parts.push_back(part);
  return parts;
}

/// Whether planned object `pattern` names `object`: exactly, or "*" standing
/// for any one segment ("kube:pods/*/*"), as Change::objects defines it.
bool Names(const std::string& pattern, const std::string& object) {
  auto p = Segments(pattern), o = Segments(object);
  if (p.size() != o.size()) return false;
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] != o[i] && !(p[i] == "*" && i > 0)) return false;
  return true;
}

}  // namespace

/// The objects a run changed and the plan does not name (also used by reboot_coordinator_test.cpp).
std::vector<std::string> Unplanned(const Plan& plan, const std::vector<std::string>& changed) {
  const std::set<std::string> planned = PlannedObjects(plan);
  std::vector<std::string> out;
  for (const auto& o : changed)
    if (std::none_of(planned.begin(), planned.end(), [&](const std::string& p) { return Names(p, o); }))
      out.push_back(o);
  return out;
}

namespace {

std::vector<std::string> CommandsRun(const FakeCommandRunner& commands) {
  std::vector<std::string> out;
  for (const auto& argv : commands.calls()) out.push_back(CommandObject(argv.empty() ? "" : argv[0]));
  return out;
}

}  // namespace

TEST_CASE("plan_names_every_change: drain-and-reboot, run and resumed after the boot, changes only planned objects",
          "[drain_actions][plan_contract]") {
  FakeKubeClient kube;
  kube.nodes["node-1"] = Node("boot-1");
  kube.pods["items"] = json::array({Pod("default", "web-1", "ReplicaSet"), Pod("default", "web-2", "ReplicaSet"),
                                    Pod("kube-system", "agent-x", "DaemonSet")});
  json mirror = Pod("kube-system", "etcd-node-1", "");
  mirror["metadata"]["annotations"] = {{"kubernetes.io/config.mirror", "abc"}};
  kube.pods["items"].push_back(mirror);

  const ActionSpec& spec = Spec("drain-and-reboot");
  Params params = Defaults(spec);
  params.Set("reboot_command", std::vector<std::string>{"/sbin/reboot-stub", "now"});
  params.Set("prefer_no_schedule_taint", true);
  params.Set("concurrency", int64_t{2});

  FakeActionContext before;
  before.set_kube(&kube);
  before.mutable_params() = params;
  before.root().Write("/proc/sys/kernel/random/boot_id", "boot-1\n");
  before.root().Write("/proc/1/stat", Stat("100"));
  before.commands().AnswerWith({"/sbin/reboot-stub"}, [&](const CommandSpec&) -> Result<CommandResult> {
    before.Cancel();  // the system goes down under the worker
    CommandResult ok;
    ok.exit_code = 0;
    return ok;
  });
  const auto files_before = Tree(before.root().path());

  auto action = spec.create();
  auto plan = action->MakePlan(before);
  REQUIRE(plan);
  INFO(plan->summary);
  CHECK(kube.mutations().empty());  // planning changes nothing
  auto applied = action->Apply(before, *plan);
  REQUIRE(applied);
  INFO(applied->summary);
  REQUIRE(applied->status == RunStatus::kRunning);
  REQUIRE(before.checkpoint());
  CHECK(Tree(before.root().path()) == files_before);  // the checkpoint goes through the context, no host file

  // The next boot: the kubelet reports it, and the daemon resumes the run.
  FakeActionContext after;
  after.set_kube(&kube);
  after.mutable_params() = params;
  after.root().Write("/proc/sys/kernel/random/boot_id", "boot-2\n");
  after.root().Write("/proc/1/stat", Stat("90"));
  after.clock().Set(before.clock().Now() + 2min);
  kube.nodes["node-1"]["status"] = Node("boot-2")["status"];
  const auto files_after = Tree(after.root().path());
  auto resumed = spec.create()->Resume(after, *before.checkpoint());
  REQUIRE(resumed);
  INFO(resumed->summary);
  CHECK(resumed->status == RunStatus::kChanged);
  CHECK(Tree(after.root().path()) == files_after);
  CHECK_FALSE(kube.nodes["node-1"]["spec"].value("unschedulable", false));
  CHECK(kube.leases.empty());

  const std::vector<std::string> changed = kube.mutations();
  CHECK(Unplanned(*plan, changed).empty());
  CHECK(Unplanned(*plan, CommandsRun(before.commands())).empty());
  CHECK(Unplanned(*plan, CommandsRun(after.commands())).empty());
  // The run did change all of these (the check above is not empty-handed).
  const std::set<std::string> touched(changed.begin(), changed.end());
  // The queue ticket is written before the first look at the slots (see lease_lock.h).
  CHECK(touched == std::set<std::string>{"kube:nodes/node-1", "kube:pods/default/web-1", "kube:pods/default/web-2",
                                         "kube:leases/kube-system/nodeagent-reboot-lock-0",
                                         "kube:leases/kube-system/nodeagent-reboot-lock-queue-node-1"});
  CHECK(Unplanned(*plan, {"kube:nodes/node-2", "kube:leases/default/other", "command:/sbin/other"}).size() == 3);
  CHECK(CommandsRun(before.commands()) == std::vector<std::string>{"command:/sbin/reboot-stub"});
  // Events go through the context (the core posts them on the Node), not the plan.
  CHECK(kube.events() == 0);
  CHECK(std::find(before.events().begin(), before.events().end(), "Normal DrainStarted: cordoned; draining (run " +
                      before.run_id() + ")") != before.events().end());
  CHECK(std::find_if(after.events().begin(), after.events().end(), [](const std::string& e) {
          return e.starts_with("Normal RebootCompleted: ");
        }) != after.events().end());
}

TEST_CASE("plan_names_every_change: plain drain of a node already cordoned names the node it annotates",
          "[drain_actions][plan_contract]") {
  FakeKubeClient kube;
  kube.nodes["node-1"] = Node("boot-1", true);
  kube.pods["items"] = json::array({Pod("default", "web-1", "ReplicaSet")});
  const ActionSpec& spec = Spec("drain");
  FakeActionContext ctx;
  ctx.set_kube(&kube);
  ctx.mutable_params() = Defaults(spec);
  ctx.root().Write("/proc/sys/kernel/random/boot_id", "boot-1\n");
  auto action = spec.create();
  auto plan = action->MakePlan(ctx);
  REQUIRE(plan);
  auto out = action->Apply(ctx, *plan);
  REQUIRE(out);
  INFO(out->summary);
  CHECK(out->status == RunStatus::kChanged);
  CHECK(kube.nodes["node-1"]["spec"].value("unschedulable", false));
  const auto changed = kube.mutations();
  CHECK(std::count(changed.begin(), changed.end(), "kube:nodes/node-1") > 0);
  CHECK(std::count(changed.begin(), changed.end(), "kube:pods/default/web-1") == 1);
  CHECK(Unplanned(*plan, changed).empty());
  CHECK(ctx.commands().calls().empty());
}

TEST_CASE("plan_names_every_change: uncordon gives back only the lock slot its plan names",
          "[drain_actions][plan_contract]") {
  auto lease = [](int i, const std::string& holder) {
    std::string name = "nodeagent-reboot-lock-" + std::to_string(i);
    return json{{"metadata", {{"name", name}, {"namespace", "kube-system"}, {"resourceVersion", "1"}}},
                {"spec", {{"holderIdentity", holder}, {"leaseDurationSeconds", 1800},
                          {"renewTime", "2026-01-01T00:00:00.000000Z"}}}};
  };
  const ActionSpec& spec = Spec("uncordon");
  Params params = Defaults(spec);
  params.Set("concurrency", int64_t{2});

  SECTION("held when planned: released") {
    FakeKubeClient kube;
    kube.nodes["node-1"] = Node("boot-1", true);
    kube.leases["kube-system/nodeagent-reboot-lock-1"] = lease(1, "node-1");
    FakeActionContext ctx;
    ctx.set_kube(&kube);
    ctx.mutable_params() = params;
    auto action = spec.create();
    auto plan = action->MakePlan(ctx);
    REQUIRE(plan);
    // The slot, and whichever waiting node's ticket it is handed to.
    CHECK(PlannedObjects(*plan) == std::set<std::string>{"kube:nodes/node-1",
                                                          "kube:leases/kube-system/nodeagent-reboot-lock-1",
                                                          "kube:leases/kube-system/*"});
    auto out = action->Apply(ctx, *plan);
    REQUIRE(out);
    CHECK(out->status == RunStatus::kChanged);
    CHECK(kube.leases.empty());
    CHECK(Unplanned(*plan, kube.mutations()).empty());
  }
  SECTION("taken after the plan: left alone, and the summary says so") {
    FakeKubeClient kube;
    kube.nodes["node-1"] = Node("boot-1", true);
    FakeActionContext ctx;
    ctx.set_kube(&kube);
    ctx.mutable_params() = params;
    auto action = spec.create();
    auto plan = action->MakePlan(ctx);
    REQUIRE(plan);
    CHECK(PlannedObjects(*plan) == std::set<std::string>{"kube:nodes/node-1"});
    kube.leases["kube-system/nodeagent-reboot-lock-0"] = lease(0, "node-1");
    auto out = action->Apply(ctx, *plan);
    REQUIRE(out);
    INFO(out->summary);
    CHECK_FALSE(kube.nodes["node-1"]["spec"].value("unschedulable", false));
    CHECK(kube.leases.count("kube-system/nodeagent-reboot-lock-0") == 1);
    CHECK(out->summary.find("which the plan did not name") != std::string::npos);
    CHECK(Unplanned(*plan, kube.mutations()).empty());
  }
}
