#include "runner/apply_phase_guard.h"

#include <catch2/catch.hpp>

#include "host/fake_host.h"
#include "host/local_file_system.h"
#include "host/local_host.h"
#include "runner/plan_fingerprint.h"

using namespace nodeagent;

namespace {

Change Planned(std::vector<std::string> objects) {
  Change c{"change", "x"};
  c.objects = std::move(objects);
  return c;
}

/// Records the mutations that reach it; reads answer an empty object.
class RecordingKube : public KubeClient {
 public:
  std::vector<std::string> done;
  KubeResult<nlohmann::json> Ok(std::string what) {
    done.push_back(std::move(what));
    return nlohmann::json::object();
  }
  KubeResult<nlohmann::json> Request(const KubeRequest& r) override {
    if (IsReadOnlyMethod(r.method)) return nlohmann::json::object();
    return Ok(r.method + " " + r.path);
  }
  KubeResult<nlohmann::json> GetVersion() override { return nlohmann::json::object(); }
  KubeResult<nlohmann::json> GetNode(const std::string&) override { return nlohmann::json::object(); }
  KubeResult<nlohmann::json> ListNodes(const ListOptions&) override { return nlohmann::json::object(); }
  KubeResult<nlohmann::json> PatchNode(const std::string& n, const nlohmann::json&, PatchType) override {
    return Ok("patch node " + n);
  }
  KubeResult<nlohmann::json> ListPods(const std::string&, const ListOptions&) override {
    return nlohmann::json::object();
  }
  KubeResult<nlohmann::json> GetPod(const std::string&, const std::string&) override {
    return nlohmann::json::object();
  }
  KubeResult<nlohmann::json> DeletePod(const std::string& ns, const std::string& n, const DeleteOptions&) override {
    return Ok("delete pod " + ns + "/" + n);
  }
  KubeResult<nlohmann::json> EvictPod(const std::string& ns, const std::string& n, const DeleteOptions&) override {
    return Ok("evict pod " + ns + "/" + n);
  }
  KubeStatus Watch(const WatchRequest&, const WatchCallback&, const std::atomic<bool>*) override { return {}; }
  KubeResult<nlohmann::json> GetLease(const std::string&, const std::string&) override {
    return nlohmann::json::object();
  }
  KubeResult<nlohmann::json> CreateLease(const std::string& ns, const nlohmann::json& l) override {
    return Ok("create lease " + ns + "/" + l["metadata"]["name"].get<std::string>());
  }
  KubeResult<nlohmann::json> UpdateLease(const std::string& ns, const nlohmann::json& l) override {
    return Ok("update lease " + ns + "/" + l["metadata"]["name"].get<std::string>());
  }
  KubeResult<nlohmann::json> DeleteLease(const std::string& ns, const std::string& n, const std::string&) override {
    return Ok("delete lease " + ns + "/" + n);
  }
  KubeResult<nlohmann::json> CreateEvent(const EventSpec& e) override { return Ok("event " + e.reason); }
  KubeResult<nlohmann::json> GetDaemonSet(const std::string&, const std::string&) override {
    return nlohmann::json::object();
  }
  KubeResult<nlohmann::json> PatchDaemonSet(const std::string& ns, const std::string& n, const nlohmann::json&,
                                            PatchType) override {
    return Ok("patch daemonset " + ns + "/" + n);
  }
  KubeResult<nlohmann::json> ListPodDisruptionBudgets(const std::string&) override { return nlohmann::json::object(); }
  KubeResult<AccessDecision> CheckAccess(const ResourceAttributes&) override { return AccessDecision{}; }
};

struct HostFixture {
  TempRoot root;
  LocalFileSystem files{root.path()};
  FakeCommandRunner commands;
  FakeClock clock;
  LocalHost host{files, commands, clock};
  std::vector<std::string> reported;
  PlanContract contract{[this](const std::string& m) { reported.push_back(m); }};
  ApplyPhaseHost guarded{host, contract};
};

}  // namespace

TEST_CASE("apply guard: planned writes, removals and directories pass; others are refused and reported") {
  HostFixture f;
  f.root.Write("/etc/keep", "keep\n");
  f.root.Write("/var/log/app/old.log", "old\n");
  f.contract.Enforce(PlanObjects({Planned({"file:/etc/fstab", "file:/var/log/app/**"})}));
  FileSystem& fs = f.guarded.files();

  CHECK(fs.WriteFileAtomic("/etc/fstab", "x\n", 0644, std::string(".bak")).ok());
  CHECK(fs.Remove("/var/log/app/old.log").ok());
  CHECK(fs.MakeDirs("/var/log/app/sub").ok());

  Status w = fs.WriteFileAtomic("/etc/hosts", "x\n");
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().code() == ErrorCode::kPermissionDenied);
  CHECK(w.error().message().starts_with("not in the plan: file:/etc/hosts (writing /etc/hosts"));
  Status r = fs.Remove("/etc/keep");
  CHECK(r.error().message().starts_with("not in the plan: file:/etc/keep"));
  Status d = fs.MakeDirs("/var/log/other");
  CHECK(d.error().message().starts_with("not in the plan: file:/var/log/other"));
  // A path that climbs out of the planned tree by name is not in it.
  CHECK_FALSE(fs.WriteFileAtomic("/var/log/app/../escape", "x\n").ok());

  CHECK(f.root.Read("/etc/fstab") == "x\n");
  CHECK_FALSE(f.files.Exists("/etc/hosts"));
  CHECK(f.files.Exists("/etc/keep"));
  CHECK_FALSE(f.files.Exists("/var/log/other"));
  CHECK_FALSE(f.files.Exists("/var/log/escape"));
  CHECK(f.contract.refusals() == 4);
  REQUIRE(f.reported.size() == 4);
  CHECK(f.reported[0].starts_with("not in the plan: file:/etc/hosts"));
  // Reads are never limited.
  CHECK(fs.ReadFile("/etc/keep").ok());
}

TEST_CASE("apply guard: Chmod and in-place writes only on planned files; Stat, Lstat and ReadLink always") {
  HostFixture f;
  f.root.Write("/proc/sys/net/ipv4/ip_forward", "0\n");
  f.root.Write("/proc/sys/vm/swappiness", "60\n");
  f.contract.Enforce(PlanObjects({Planned({"file:/proc/sys/net/ipv4/ip_forward"})}));
  FileSystem& fs = f.guarded.files();

  CHECK(fs.WriteInPlace("/proc/sys/net/ipv4/ip_forward", "1\n").ok());
  CHECK(fs.Chmod("/proc/sys/net/ipv4/ip_forward", 0600).ok());
  Status w = fs.WriteInPlace("/proc/sys/vm/swappiness", "0\n");
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().message().starts_with("not in the plan: file:/proc/sys/vm/swappiness (writing"));
  Status c = fs.Chmod("/proc/sys/vm/swappiness", 0600);
  CHECK(c.error().message().starts_with("not in the plan: file:/proc/sys/vm/swappiness (changing the mode"));
  CHECK(fs.Stat("/proc/sys/vm/swappiness").ok());
  CHECK(fs.Lstat("/proc/sys/vm/swappiness").ok());
  CHECK(fs.ReadLink("/proc/sys/vm/swappiness").error().code() == ErrorCode::kInvalidArgument);

  CHECK(f.root.Read("/proc/sys/net/ipv4/ip_forward") == "1\n");
  CHECK(f.root.Read("/proc/sys/vm/swappiness") == "60\n");
  CHECK(f.contract.refusals() == 2);
}

TEST_CASE("apply guard: commands not read_only run only when the plan names the program") {
  HostFixture f;
  f.commands.Answer({"/usr/sbin/swapoff"}, CommandResult{0});
  f.commands.Answer({"/usr/sbin/reboot"}, CommandResult{0});
  f.commands.Answer({"cat"}, CommandResult{0});
  f.contract.Enforce(PlanObjects({Planned({"command:/usr/sbin/swapoff"})}));
  CommandRunner& run = f.guarded.commands();

  CHECK(run.Run({{"/usr/sbin/swapoff", "-a"}}).ok());
  auto reboot = run.Run({{"/usr/sbin/reboot"}});
  REQUIRE_FALSE(reboot.ok());
  CHECK(reboot.error().message().starts_with("not in the plan: command:/usr/sbin/reboot"));
  CommandSpec look{{"cat", "/proc/swaps"}};
  look.read_only = true;
  CHECK(run.Run(look).ok());
  CHECK(f.commands.call_lines() == std::vector<std::string>{"/usr/sbin/swapoff -a", "cat /proc/swaps"});
}

TEST_CASE("apply guard: Kubernetes mutations of planned objects pass, others are refused; events are allowed") {
  std::vector<std::string> reported;
  PlanContract contract([&](const std::string& m) { reported.push_back(m); });
  auto recording = std::make_unique<RecordingKube>();
  RecordingKube& inner = *recording;
  auto kube = ApplyGuardKubeClient(std::move(recording), contract);
  contract.Enforce(PlanObjects({Planned({"kube:nodes/n1", "kube:pods/default/web-1", "kube:leases/kube-system/*"})}));
  nlohmann::json lease = {{"metadata", {{"name", "nodeagent-reboot"}}}};

  CHECK(kube->PatchNode("n1", nlohmann::json::object(), PatchType::kMerge).ok());
  CHECK(kube->EvictPod("default", "web-1", {}).ok());
  CHECK(kube->CreateLease("kube-system", lease).ok());
  CHECK(kube->UpdateLease("kube-system", lease).ok());
  CHECK(kube->DeleteLease("kube-system", "nodeagent-reboot", "1").ok());
  CHECK(kube->CreateEvent({.reason = "Rebooting"}).ok());

  auto other_node = kube->PatchNode("n2", nlohmann::json::object(), PatchType::kMerge);
  REQUIRE_FALSE(other_node.ok());
  CHECK(other_node.error().code() == ErrorCode::kPermissionDenied);
  CHECK(other_node.error().message().starts_with("not in the plan: kube:nodes/n2"));
  CHECK_FALSE(kube->DeletePod("default", "web-2", {}).ok());
  CHECK_FALSE(kube->EvictPod("default", "web-2", {}).ok());
  CHECK_FALSE(kube->CreateLease("default", lease).ok());
  CHECK_FALSE(kube->PatchDaemonSet("kube-system", "calico-node", nlohmann::json::object(), PatchType::kStrategicMerge).ok());
  CHECK(kube->GetNode("n2").ok());  // reads pass

  CHECK(inner.done == std::vector<std::string>{"patch node n1", "evict pod default/web-1",
                                               "create lease kube-system/nodeagent-reboot",
                                               "update lease kube-system/nodeagent-reboot",
                                               "delete lease kube-system/nodeagent-reboot", "event Rebooting"});
  CHECK(reported.size() == 5);
  CHECK(contract.refusals() == 5);
}

TEST_CASE("apply guard: a generic Kubernetes request is checked by the object its path names") {
  std::vector<std::string> reported;
  PlanContract contract([&](const std::string& m) { reported.push_back(m); });
  auto recording = std::make_unique<RecordingKube>();
  RecordingKube& inner = *recording;
  auto kube = ApplyGuardKubeClient(std::move(recording), contract);
  contract.Enforce(PlanObjects({Planned({"kube:ippools/default-ipv4-ippool", "kube:daemonsets/calico-system/calico-node",
                                         "kube:configmaps/kube-system/*"})}));
  const std::string pools = "/apis/crd.projectcalico.org/v1/ippools";
  CHECK(kube->Request(KubeRequest::Patch(pools + "/default-ipv4-ippool", nlohmann::json::object(), PatchType::kMerge)).ok());
  CHECK(kube->Request(KubeRequest::Patch("/apis/apps/v1/namespaces/calico-system/daemonsets/calico-node",
                                         nlohmann::json::object(), PatchType::kStrategicMerge)).ok());
  CHECK(kube->Request(KubeRequest::Post("/api/v1/namespaces/kube-system/configmaps",
                                        {{"metadata", {{"name", "anything"}}}})).ok());
  CHECK(kube->Request(KubeRequest::Post("/api/v1/namespaces/default/events", nlohmann::json::object())).ok());
  CHECK(kube->Request(KubeRequest::Get(pools)).ok());  // reads pass

  auto other = kube->Request(KubeRequest::Delete(pools + "/other-pool"));
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().message().starts_with("not in the plan: kube:ippools/other-pool (DELETE "));
  // A create without a name, or a collection delete, is "*": only a planned "*" covers it.
  CHECK_FALSE(kube->Request(KubeRequest::Post(pools, nlohmann::json::object())).ok());
  CHECK_FALSE(kube->Request(KubeRequest::Delete("/api/v1/namespaces/calico-system/pods")).ok());
  CHECK(inner.done.size() == 4);
  CHECK(reported.size() == 3);
}

TEST_CASE("apply guard: nothing is checked before Enforce or after Release") {
  HostFixture f;
  CHECK(f.guarded.files().WriteFileAtomic("/etc/a", "x\n").ok());
  f.contract.Enforce(PlanObjects{});
  CHECK_FALSE(f.guarded.files().WriteFileAtomic("/etc/b", "x\n").ok());
  f.contract.Release();
  CHECK(f.guarded.files().WriteFileAtomic("/etc/c", "x\n").ok());
  CHECK(f.contract.refusals() == 1);
}

TEST_CASE("plan fingerprint: same changes in any order agree; a different target, object or diff does not") {
  Change a{"delete", "/var/log/a.log", "3.0 days old", "", 10, {"file:/var/log/a.log"}};
  Change b{"edit", "/etc/fstab", "", "-/swap\n", 0, {"file:/etc/fstab"}};
  std::string fp = PlanFingerprint({a, b});
  CHECK(fp.starts_with("fnv1a64:"));
  CHECK(fp.size() == 8 + 16);
  CHECK(PlanFingerprint({b, a}) == fp);
  Change older = a;
  older.description = "3.1 days old";  // time passing is not a change
  older.bytes = 11;
  CHECK(PlanFingerprint({older, b}) == fp);
  Change other = a;
  other.target = "/var/log/b.log";
  CHECK(PlanFingerprint({other, b}) != fp);
  Change more = a;
  more.objects.push_back("file:/var/log/**");
  CHECK(PlanFingerprint({more, b}) != fp);
  Change diff = b;
  diff.diff = "-/swap2\n";
  CHECK(PlanFingerprint({a, diff}) != fp);
  CHECK(PlanFingerprint({a}) != fp);
  CHECK(PlanFingerprint({}) != fp);
}
