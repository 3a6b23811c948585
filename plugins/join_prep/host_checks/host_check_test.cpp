#include "host_checks/host_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "discovery/fake_endpoint_probe.h"
#include "host_checks/node_identity.h"
#include "host_checks/proc_net_tcp.h"
#include "join_options.h"
#include "nodeagent/kube.h"
#include "host/local_file_system.h"
#include "testing/fake_action_context.h"

using namespace nodeagent;
using namespace nodeagent::join_prep;
using json = nlohmann::json;

namespace {

const char* kTcpHeader =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

std::string TcpLine(int sl, const std::string& local, const std::string& state) {
  return "   " + std::to_string(sl) + ": " + local + " 00000000:0000 " + state +
         " 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0\n";
}

const CheckResult* Find(const std::vector<CheckResult>& results, const std::string& id) {
  for (const auto& r : results)
    if (r.id == id) return &r;
  return nullptr;
}

void WriteExecutable(TempRoot& root, const std::string& path, bool executable = true) {
  root.Write(path, "#!/bin/sh\n");
  std::filesystem::permissions(root.Real(path),
                               executable ? std::filesystem::perms(0755) : std::filesystem::perms(0644));
}

CommandResult Exit(int code, std::string out, std::string err = "") {
  CommandResult r;
  r.exit_code = code;
  r.stdout_data = std::move(out);
  r.stderr_data = std::move(err);
  return r;
}

/// Nodes in pages of `page_size`, or an error for every list.
class FakeNodeLister : public KubeClient {
 public:
  std::vector<json> nodes;
  size_t page_size = 500;
  std::optional<Error> fail;
  int lists = 0;

  KubeResult<json> ListNodes(const ListOptions& o) override {
    ++lists;
    if (fail) return KubeResult<json>(*fail, {403, "Forbidden"});
    size_t start = o.continue_token.empty() ? 0 : std::stoul(o.continue_token);
    json page = {{"items", json::array()}, {"metadata", json::object()}};
    for (size_t i = start; i < nodes.size() && i < start + page_size; ++i) page["items"].push_back(nodes[i]);
    if (start + page_size < nodes.size()) page["metadata"]["continue"] = std::to_string(start + page_size);
    return page;
  }
  KubeResult<json> Request(const KubeRequest&) override { return No(); }
  KubeResult<json> GetVersion() override { return No(); }
  KubeResult<json> GetNode(const std::string&) override { return No(); }
  KubeResult<json> PatchNode(const std::string&, const json&, PatchType) override { return No(); }
  KubeResult<json> ListPods(const std::string&, const ListOptions&) override { return No(); }
  KubeResult<json> GetPod(const std::string&, const std::string&) override { return No(); }
  KubeResult<json> DeletePod(const std::string&, const std::string&, const DeleteOptions&) override { return No(); }
  KubeResult<json> EvictPod(const std::string&, const std::string&, const DeleteOptions&) override { return No(); }
  KubeStatus Watch(const WatchRequest&, const WatchCallback&, const std::atomic<bool>*) override {
    return KubeStatus(Internal("not in this fake"));
  }
  KubeResult<json> GetLease(const std::string&, const std::string&) override { return No(); }
  KubeResult<json> CreateLease(const std::string&, const json&) override { return No(); }
  KubeResult<json> UpdateLease(const std::string&, const json&) override { return No(); }
  KubeResult<json> DeleteLease(const std::string&, const std::string&, const std::string&) override { return No(); }
  KubeResult<json> CreateEvent(const EventSpec&) override { return No(); }
  KubeResult<json> GetDaemonSet(const std::string&, const std::string&) override { return No(); }
  KubeResult<json> PatchDaemonSet(const std::string&, const std::string&, const json&, PatchType) override {
    return No();
  }
  KubeResult<json> ListPodDisruptionBudgets(const std::string&) override { return No(); }
  KubeResult<AccessDecision> CheckAccess(const ResourceAttributes&) override {
    return KubeResult<AccessDecision>(Internal("not in this fake"));
  }

 private:
  static KubeResult<json> No() { return KubeResult<json>(Internal("not in this fake")); }
};

json NodeJson(const std::string& name, const std::string& uuid, const std::string& ready) {
  return {{"metadata", {{"name", name}}},
          {"status",
           {{"nodeInfo", {{"systemUUID", uuid}}},
            {"conditions", json::array({{{"type", "Ready"}, {"status", ready}}})}}}};
}

}  // namespace

TEST_CASE("ParseProcNetTcp keeps LISTEN entries and decodes their addresses", "[host-checks]") {
  std::string v4 = std::string(kTcpHeader) + TcpLine(0, "0100007F:1F90", "0A") + TcpLine(1, "00000000:280A", "0A") +
                   TcpLine(2, "0100007F:C350", "01") + TcpLine(3, "0100007F:280A", "0A");
  auto l = ParseProcNetTcp(v4, false, "/proc/net/tcp");
  REQUIRE(l);
  CHECK(l->size() == 2);
  CHECK(l->at(8080) == std::vector<std::string>{"127.0.0.1"});
  CHECK(l->at(10250) == std::vector<std::string>{"0.0.0.0", "127.0.0.1"});
  CHECK(l->count(50000) == 0);  // an established connection's local port

  std::string v6 = std::string(kTcpHeader) + TcpLine(0, "00000000000000000000000001000000:192B", "0A") +
                   TcpLine(1, "00000000000000000000000000000000:0016", "0A");
  auto l6 = ParseProcNetTcp(v6, true, "/proc/net/tcp6");
  REQUIRE(l6);
  CHECK(l6->at(6443) == std::vector<std::string>{"::1"});
  CHECK(l6->at(22) == std::vector<std::string>{"::"});

  auto bad = ParseProcNetTcp(std::string(kTcpHeader) + TcpLine(0, "0100007F:1F90", "0A") + "   1: garbage\n", false,
                             "/proc/net/tcp");
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message(), Catch::Contains("/proc/net/tcp:3"));
  CHECK_FALSE(ParseProcNetTcp(TcpLine(0, "0100007F:1F90", "0A"), true, "/proc/net/tcp6"));  // v4 width in tcp6
}

TEST_CASE("CheckPorts: Port-N is an error when something listens, tcp6 optional, tcp required", "[host-checks]") {
  FakeActionContext ctx;
  auto& files = ctx.host().files();
  auto missing = CheckPorts(files, {10250});
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].status == CheckStatus::kFail);
  CHECK_THAT(missing[0].message, Catch::Contains("/proc/net/tcp"));

  ctx.root().Write("/proc/net/tcp", std::string(kTcpHeader) + TcpLine(0, "00000000:280A", "0A"));
  ctx.root().Write("/proc/net/tcp6", std::string(kTcpHeader) + TcpLine(0, "00000000000000000000000001000000:192B", "0A"));
  auto r = CheckPorts(files, PortsToBeFree(true));
  REQUIRE(r.size() == 6);
  CHECK(Find(r, "Port-10250")->status == CheckStatus::kFail);
  CHECK(Find(r, "Port-10250")->severity == CheckSeverity::kError);
  CHECK_THAT(Find(r, "Port-10250")->message, Catch::Contains("Port 10250 is in use") && Catch::Contains("0.0.0.0"));
  CHECK(Find(r, "Port-6443")->status == CheckStatus::kFail);
  CHECK_THAT(Find(r, "Port-6443")->message, Catch::Contains("::1"));
  for (const char* id : {"Port-10259", "Port-10257", "Port-2379", "Port-2380"}) CHECK(Find(r, id)->status == CheckStatus::kPass);
  CHECK(PortsToBeFree(false) == std::vector<int>{10250});
}

TEST_CASE("CheckExecutables: kubeadm's list and severities, executable bit required", "[host-checks]") {
  FakeActionContext ctx;
  for (const char* name : {"ip", "iptables", "mount", "ethtool", "tc", "touch", "kubelet"})
    WriteExecutable(ctx.root(), std::string("/usr/sbin/") + name);
  WriteExecutable(ctx.root(), "/usr/local/bin/nsenter");
  WriteExecutable(ctx.root(), "/usr/sbin/ebtables", false);
  auto r = CheckExecutables(ctx.host().files());
  CHECK(r.size() == std::size(kRequiredExecutables));
  CHECK(Find(r, "FileExisting-ip")->status == CheckStatus::kPass);
  CHECK(Find(r, "FileExisting-nsenter")->message == "/usr/local/bin/nsenter");
  const CheckResult* socat = Find(r, "FileExisting-socat");
  CHECK(socat->status == CheckStatus::kFail);
  CHECK(socat->severity == CheckSeverity::kWarning);
  CHECK(socat->message == "socat not found in system path");
  const CheckResult* ebtables = Find(r, "FileExisting-ebtables");
  CHECK(ebtables->status == CheckStatus::kFail);
  CHECK_THAT(ebtables->message, Catch::Contains("not executable"));
  CHECK(Find(r, "FileExisting-conntrack") == nullptr);
  CHECK(Find(r, "FileExisting-crictl") == nullptr);

  FakeActionContext bare;
  auto none = CheckExecutables(bare.host().files());
  CHECK(Find(none, "FileExisting-iptables")->severity == CheckSeverity::kError);
  CHECK(Find(none, "FileExisting-kubelet")->severity == CheckSeverity::kError);
  CHECK(Find(none, "FileExisting-touch")->severity == CheckSeverity::kWarning);
}

TEST_CASE("CheckKubeletService: enabled, disabled, missing, no systemctl; read-only", "[host-checks]") {
  FakeActionContext ctx;
  bool read_only = false;
  auto answer = [&](CommandResult result) {
    ctx.commands().AnswerWith({"systemctl", "is-enabled", "kubelet.service"},
                              [&read_only, result](const CommandSpec& spec) -> Result<CommandResult> {
                                read_only = spec.read_only;
                                return result;
                              });
  };
  CHECK(CheckKubeletService(ctx.commands()).status == CheckStatus::kFail);  // not scripted: cannot check

  answer(Exit(0, "enabled\n"));
  CHECK(CheckKubeletService(ctx.commands()).status == CheckStatus::kPass);
  CHECK(read_only);

  answer(Exit(1, "disabled\n"));
  auto disabled = CheckKubeletService(ctx.commands());
  CHECK(disabled.id == "Service-Kubelet");
  CHECK(disabled.status == CheckStatus::kFail);
  CHECK(disabled.severity == CheckSeverity::kWarning);
  CHECK_THAT(disabled.message, Catch::Contains("systemctl enable kubelet.service"));

  answer(Exit(1, "", "Failed to get unit file state for kubelet.service: No such file or directory\n"));
  CHECK(CheckKubeletService(ctx.commands()).message == "kubelet service does not exist");
  answer(Exit(4, "not-found\n"));
  CHECK(CheckKubeletService(ctx.commands()).message == "kubelet service does not exist");
}

TEST_CASE("CheckNodeName: RFC 1123 name (NodeName), resolvable (Hostname)", "[host-checks]") {
  FakeEndpointProbe probe;
  probe.names.emplace("worker-1.example", Result<std::vector<std::string>>(std::vector<std::string>{"10.0.0.21"}));
  auto ok = CheckNodeName("worker-1.example", probe);
  REQUIRE(ok.size() == 2);
  CHECK(ok[0].status == CheckStatus::kPass);
  CHECK(ok[1].id == "Hostname");
  CHECK(ok[1].status == CheckStatus::kPass);

  auto unresolved = CheckNodeName("worker-2", probe);
  CHECK(unresolved[1].status == CheckStatus::kFail);
  CHECK(unresolved[1].severity == CheckSeverity::kWarning);
  CHECK_THAT(unresolved[1].message, Catch::Contains("could not be reached"));

  for (const char* bad : {"Worker_1", "-a", "a..b", "", "x.y-"}) {
    INFO(bad);
    auto r = CheckNodeName(bad, probe);
    REQUIRE(r.size() == 1);
    CHECK(r[0].id == "NodeName");
    CHECK(r[0].severity == CheckSeverity::kError);
    CHECK(r[0].status == CheckStatus::kFail);
  }
  CHECK(CheckNodeName(std::string(64, 'a'), probe)[0].status == CheckStatus::kFail);

  FakeActionContext ctx;
  ctx.root().Write("/proc/sys/kernel/hostname", "Worker-3\n");
  CHECK(EffectiveNodeName(ctx.host(), "") == "worker-3");
  CHECK(EffectiveNodeName(ctx.host(), "given") == "given");
}

TEST_CASE("CheckTimeSync: timedatectl, then chronyc, else cannot tell", "[host-checks]") {
  {
    FakeActionContext ctx;
    ctx.commands().Answer({"timedatectl"}, Exit(0, "yes\n"));
    CHECK(CheckTimeSync(ctx.commands()).status == CheckStatus::kPass);
  }
  {
    FakeActionContext ctx;
    ctx.commands().Answer({"timedatectl"}, Exit(0, "no\n"));
    auto r = CheckTimeSync(ctx.commands());
    CHECK(r.id == "TimeSync");
    CHECK(r.status == CheckStatus::kFail);
    CHECK(r.severity == CheckSeverity::kWarning);
  }
  {
    FakeActionContext ctx;
    ctx.commands().Answer({"timedatectl"}, Exit(1, "", "System has not been booted with systemd as init system (PID 1).\n"));
    ctx.commands().Answer({"chronyc", "-n", "tracking"},
                          Exit(0, "Reference ID    : C0A80001 (192.168.0.1)\nLeap status     : Normal\n"));
    CHECK(CheckTimeSync(ctx.commands()).status == CheckStatus::kPass);
    ctx.commands().Answer({"chronyc", "-n", "tracking"}, Exit(0, "Leap status     : Not synchronised\n"));
    CHECK_THAT(CheckTimeSync(ctx.commands()).message, Catch::Contains("Not synchronised"));
  }
  {
    FakeActionContext ctx;
    auto r = CheckTimeSync(ctx.commands());
    CHECK(r.status == CheckStatus::kFail);
    CHECK_THAT(r.message, Catch::Contains("cannot tell") && Catch::Contains("chronyc"));
    for (const auto& line : ctx.commands().call_lines()) CHECK((line.rfind("timedatectl", 0) == 0 || line.rfind("chronyc", 0) == 0));
  }
}

TEST_CASE("CheckControlPlaneResources: NumCPU >= 2, Mem >= 1700 MB", "[host-checks]") {
  FakeActionContext ctx;
  ctx.root().Write("/sys/devices/system/cpu/online", "0-3,6\n");
  ctx.root().Write("/proc/meminfo", "MemTotal:        2097152 kB\nMemFree:  1 kB\n");
  auto ok = CheckControlPlaneResources(ctx.host().files());
  CHECK(Find(ok, "NumCPU")->status == CheckStatus::kPass);
  CHECK(Find(ok, "NumCPU")->message == "5 CPUs");
  CHECK(Find(ok, "Mem")->status == CheckStatus::kPass);

  ctx.root().Write("/sys/devices/system/cpu/online", "0\n");
  ctx.root().Write("/proc/meminfo", "MemTotal:        1048576 kB\n");
  auto low = CheckControlPlaneResources(ctx.host().files());
  CHECK(Find(low, "NumCPU")->status == CheckStatus::kFail);
  CHECK(Find(low, "NumCPU")->severity == CheckSeverity::kError);
  CHECK(Find(low, "Mem")->message == "the system RAM (1024 MB) is less than the minimum 1700 MB");

  FakeActionContext fallback;
  fallback.root().Write("/proc/cpuinfo", "processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\nmodel name\t: x\n");
  CHECK(Find(CheckControlPlaneResources(fallback.host().files()), "NumCPU")->message == "2 CPUs");
  CHECK(Find(CheckControlPlaneResources(fallback.host().files()), "Mem")->status == CheckStatus::kFail);
}

TEST_CASE("CheckLeftovers: kubeadm's FileAvailable/DirAvailable ids by role", "[host-checks]") {
  FakeActionContext ctx;
  auto worker = CheckLeftovers(ctx.host().files(), false);
  std::set<std::string> ids;
  for (const auto& r : worker) {
    ids.insert(r.id);
    CHECK(r.status == CheckStatus::kPass);
  }
  CHECK(ids == std::set<std::string>{"FileAvailable--etc-kubernetes-kubelet.conf",
                                     "FileAvailable--etc-kubernetes-bootstrap-kubelet.conf",
                                     "FileAvailable--etc-kubernetes-pki-ca.crt"});

  ctx.root().Write("/etc/kubernetes/kubelet.conf", "apiVersion: v1\n");
  ctx.root().Write("/var/lib/etcd/member/snap/db", "x");
  auto cp = CheckLeftovers(ctx.host().files(), true);
  CHECK(Find(cp, "FileAvailable--etc-kubernetes-kubelet.conf")->status == CheckStatus::kFail);
  CHECK(Find(cp, "FileAvailable--etc-kubernetes-kubelet.conf")->message == "/etc/kubernetes/kubelet.conf already exists");
  CHECK(Find(cp, "FileAvailable--etc-kubernetes-pki-ca.crt") == nullptr);
  CHECK(Find(cp, "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml")->status == CheckStatus::kPass);
  CHECK(Find(cp, "FileAvailable--etc-kubernetes-manifests-etcd.yaml")->status == CheckStatus::kPass);
  CHECK(Find(cp, "DirAvailable--var-lib-etcd")->status == CheckStatus::kFail);
  CHECK(Find(cp, "DirAvailable--var-lib-etcd")->message == "/var/lib/etcd is not empty");
}

TEST_CASE("CheckLocalIdentity: product_uuid and MACs", "[host-checks]") {
  FakeActionContext ctx;
  auto none = CheckLocalIdentity(ctx.host().files());
  CHECK(Find(none, "ProductUUID")->status == CheckStatus::kFail);
  CHECK(Find(none, "ProductUUID")->severity == CheckSeverity::kWarning);
  CHECK(Find(none, "MACAddress")->status == CheckStatus::kFail);

  ctx.root().Write("/sys/class/dmi/id/product_uuid", "00000000-0000-0000-0000-000000000000\n");
  CHECK_FALSE(ReadProductUuid(ctx.host().files()));
  ctx.root().Write("/sys/class/dmi/id/product_uuid", "4C4C4544-0042-3510-8052-B4C04F4E3232\n");
  CHECK(*ReadProductUuid(ctx.host().files()) == "4c4c4544-0042-3510-8052-b4c04f4e3232");
  ctx.root().Write("/sys/class/net/lo/address", "00:00:00:00:00:00\n");
  ctx.root().Write("/sys/class/net/eth0/address", "52:54:00:AB:CD:EF\n");
  ctx.root().Write("/sys/class/net/dummy0/address", "00:00:00:00:00:00\n");
  CHECK(ReadMacAddresses(ctx.host().files()) == std::vector<std::string>{"eth0=52:54:00:ab:cd:ef"});
  auto ok = CheckLocalIdentity(ctx.host().files());
  CHECK(Find(ok, "ProductUUID")->status == CheckStatus::kPass);
  CHECK(Find(ok, "MACAddress")->status == CheckStatus::kPass);
}

TEST_CASE("CheckClusterIdentity: same name Ready is an error, same UUID a warning, pages followed", "[host-checks]") {
  const std::string uuid = "4c4c4544-0042-3510-8052-b4c04f4e3232";
  FakeNodeLister kube;
  kube.page_size = 2;
  for (int i = 0; i < 5; ++i) kube.nodes.push_back(NodeJson("n" + std::to_string(i), "other-" + std::to_string(i), "True"));
  auto clear = CheckClusterIdentity(kube, "worker-1", uuid);
  CHECK(kube.lists == 3);
  CHECK(Find(clear, "ExistingNode")->status == CheckStatus::kPass);
  CHECK(Find(clear, "DuplicateSystemUUID")->status == CheckStatus::kPass);

  kube.nodes.push_back(NodeJson("worker-1", uuid, "True"));
  kube.nodes.push_back(NodeJson("clone", "4C4C4544-0042-3510-8052-B4C04F4E3232", "True"));
  auto taken = CheckClusterIdentity(kube, "worker-1", uuid);
  CHECK(Find(taken, "ExistingNode")->status == CheckStatus::kFail);
  CHECK(Find(taken, "ExistingNode")->severity == CheckSeverity::kError);
  const CheckResult* dup = Find(taken, "DuplicateSystemUUID");
  CHECK(dup->status == CheckStatus::kFail);
  CHECK(dup->severity == CheckSeverity::kWarning);
  CHECK_THAT(dup->message, Catch::Contains("clone") && !Catch::Contains("worker-1"));

  kube.nodes[5] = NodeJson("worker-1", uuid, "Unknown");
  CHECK(Find(CheckClusterIdentity(kube, "worker-1", uuid), "ExistingNode")->severity == CheckSeverity::kWarning);

  kube.fail = Error(ErrorCode::kPermissionDenied, "nodes is forbidden");
  auto denied = CheckClusterIdentity(kube, "worker-1", uuid);
  REQUIRE(denied.size() == 1);
  CHECK(denied[0].severity == CheckSeverity::kWarning);
  CHECK_THAT(denied[0].hint, Catch::Contains("list nodes"));
}

TEST_CASE("CheckHost: every check once, control-plane extras only for that role", "[host-checks]") {
  FakeActionContext ctx;
  ctx.root().Write("/proc/sys/kernel/hostname", "worker-1\n");
  ctx.root().Write("/proc/net/tcp", kTcpHeader);
  int writable_commands = 0;
  auto answer = [&writable_commands](CommandResult result) {
    return [&writable_commands, result](const CommandSpec& spec) -> Result<CommandResult> {
      if (!spec.read_only) ++writable_commands;
      return result;
    };
  };
  ctx.commands().AnswerWith({"systemctl"}, answer(Exit(0, "enabled\n")));
  ctx.commands().AnswerWith({"timedatectl"}, answer(Exit(0, "yes\n")));
  FakeEndpointProbe probe;
  JoinOptions options;
  CheckInputs in{ctx.host(), options};
  auto worker = CheckHost(in, probe);
  std::set<std::string> ids;
  for (const auto& r : worker) CHECK(ids.insert(r.id).second);
  CHECK(ids.count("Port-10250"));
  CHECK(ids.count("Hostname"));
  CHECK(ids.count("TimeSync"));
  CHECK(ids.count("FileAvailable--etc-kubernetes-pki-ca.crt"));
  CHECK_FALSE(ids.count("NumCPU"));
  CHECK_FALSE(ids.count("ExistingNode"));
  CHECK(probe.calls == std::vector<std::string>{"resolve worker-1"});
  CHECK(ctx.commands().call_lines().size() == 2);

  options.role = Role::kControlPlane;
  options.node_name = "cp-2";
  FakeNodeLister kube;
  CheckInputs cp_in{ctx.host(), options, &kube};
  auto cp = CheckHost(cp_in, probe);
  std::set<std::string> cp_ids;
  for (const auto& r : cp) CHECK(cp_ids.insert(r.id).second);
  for (const char* id : {"NumCPU", "Mem", "Port-6443", "Port-2380", "DirAvailable--var-lib-etcd",
                         "FileAvailable--etc-kubernetes-manifests-kube-scheduler.yaml", "ExistingNode"})
    CHECK(cp_ids.count(id));
  CHECK_FALSE(cp_ids.count("FileAvailable--etc-kubernetes-pki-ca.crt"));
  CHECK(probe.calls.back() == "resolve cp-2");
  CHECK(writable_commands == 0);
}

namespace {

/// A socket listening on `address`, port chosen by the kernel.
struct Listener {
  int fd = -1;
  int port = 0;
  explicit Listener(const std::string& address) {
    bool v6 = address.find(':') != std::string::npos;
    fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    socklen_t len = v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      inet_pton(AF_INET6, address.c_str(), &a->sin6_addr);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      inet_pton(AF_INET, address.c_str(), &a->sin_addr);
    }
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  ~Listener() { ::close(fd); }
};

}  // namespace

TEST_CASE("ReadListeners reads the kernel's own tables: a socket this test listens on", "[host-checks]") {
  Listener v4("127.0.0.1");
  Listener v6("::1");
  LocalFileSystem real_root("/");
  auto listeners = ReadListeners(real_root);
  REQUIRE(listeners);
  REQUIRE(listeners->count(v4.port));
  CHECK(listeners->at(v4.port) == std::vector<std::string>{"127.0.0.1"});
  REQUIRE(listeners->count(v6.port));
  CHECK(listeners->at(v6.port) == std::vector<std::string>{"::1"});
  auto ports = CheckPorts(real_root, {v4.port});
  CHECK(ports[0].status == CheckStatus::kFail);
}

TEST_CASE("the real probe resolves localhost", "[host-checks]") {
  auto probe = MakeSocketEndpointProbe();
  auto addrs = probe->Resolve("localhost");
  REQUIRE(addrs);
  bool loopback = false;
  for (const auto& a : *addrs) loopback |= a == "127.0.0.1" || a == "::1";
  CHECK(loopback);
  auto none = probe->Resolve("no-such-host.invalid");
  REQUIRE_FALSE(none);
  CHECK(none.error().code() == ErrorCode::kNotFound);
}
