#include "runtime/runtime_check.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <catch2/catch.hpp>

#include "join_options.h"
#include "kernel/conf_dirs.h"
#include "runtime/cgroup_driver.h"
#include "runtime/cri_socket.h"
#include "testing/fake_action_context.h"

namespace nodeagent::join_prep {
namespace {

// A listening unix socket at a real path; closed (and removed) on destruction.
class Listener {
 public:
  explicit Listener(const std::string& real_path) : path_(real_path) {
    std::filesystem::create_directories(std::filesystem::path(real_path).parent_path());
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(real_path.size() < sizeof(addr.sun_path));
    memcpy(addr.sun_path, real_path.c_str(), real_path.size() + 1);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(listen(fd_, 8) == 0);
  }
  ~Listener() { Stop(); }
  // Stops listening but leaves the socket file, as a crashed runtime does.
  void Stop() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

struct RuntimeNode {
  FakeActionContext ctx;
  JoinOptions options;
  KubeletConfigView kubelet;

  RuntimeNode() {
    ctx.commands().Answer({"systemctl", "restart", "containerd"}, CommandResult{0});
  }
  void Write(std::string_view path, std::string_view text) { ctx.root().Write(path, text); }
  std::string Read(std::string_view path) { return ctx.root().Read(path); }
  std::unique_ptr<Listener> Listen(std::string_view path) { return std::make_unique<Listener>(ctx.root().Real(path)); }
  std::vector<CheckResult> Check() {
    CheckInputs in{ctx.host(), options, nullptr, kubelet};
    return CheckRuntime(in);
  }
};

const CheckResult& Find(const std::vector<CheckResult>& rs, std::string_view id) {
  for (const auto& r : rs)
    if (r.id == id) return r;
  FAIL("no result " << id);
  static CheckResult none;
  return none;
}

bool Contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// The lines a diff removes and adds, without its headers.
std::vector<std::string> Changed(const FileEdit& e) {
  std::vector<std::string> out;
  for (const auto& line : SplitLines(UnifiedDiff(e.before.value_or(""), e.after, "a", "b"), 100000, nullptr))
    if (!line.empty() && (line[0] == '+' || line[0] == '-') && line.rfind("+++", 0) != 0 && line.rfind("---", 0) != 0)
      out.push_back(line);
  return out;
}

void ApplyAll(RuntimeNode& node, const std::vector<CheckResult>& rs) {
  for (const auto& r : rs) {
    if (!r.fix) continue;
    for (const auto& step : r.fix->steps) {
      Status st = ApplyStep(node.ctx.host(), step);
      INFO(r.id << ": " << step.description);
      REQUIRE(st.ok());
    }
  }
}

constexpr const char* kContainerd1x = R"(# containerd 1.7, edited by hand
version = 2

[plugins]
  # the CRI plugin
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"

  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      BinaryName = ""   # default runc
      SystemdCgroup = false  # keep this comment
      NoPivotRoot = false
)";

TEST_CASE("runtime: containerd 1.x config: one line changes, comments stay, restart follows; then nothing to do", "[runtime]") {
  RuntimeNode node;
  auto sock = node.Listen("/run/containerd/containerd.sock");
  node.Write("/etc/containerd/config.toml", kContainerd1x);
  auto rs = node.Check();
  const auto& cri = Find(rs, "CRI");
  INFO(cri.message);
  CHECK(cri.status == CheckStatus::kPass);
  CHECK(Contains(cri.message, "connect(2) accepted"));
  const auto& cg = Find(rs, "CgroupDriver");
  CHECK(cg.status == CheckStatus::kFail);
  CHECK(Contains(cg.message, "containerd uses cgroupfs (/etc/containerd/config.toml:14) but the kubelet uses systemd"));
  REQUIRE(cg.fix);
  CHECK(cg.fix->id == kFixCgroupDriver);
  REQUIRE(cg.fix->steps.size() == 2);
  CHECK(Changed(cg.fix->steps[0].edit) ==
        std::vector<std::string>{"-      SystemdCgroup = false  # keep this comment",
                                 "+      SystemdCgroup = true  # keep this comment"});
  CHECK(cg.fix->steps[1].argv == std::vector<std::string>{"systemctl", "restart", "containerd"});
  ApplyAll(node, rs);
  CHECK(Contains(node.Read("/etc/containerd/config.toml"), "# the CRI plugin\n"));
  auto again = node.Check();
  const auto& cg2 = Find(again, "CgroupDriver");
  CHECK(cg2.status == CheckStatus::kPass);
  CHECK_FALSE(cg2.fix.has_value());
  auto calls = node.ctx.commands().call_lines();
  CHECK(std::count(calls.begin(), calls.end(), "systemctl restart containerd") == 1);
}

TEST_CASE("runtime: containerd 2.x config: the key is inserted under its header as one line", "[runtime]") {
  RuntimeNode node;
  node.Write("/etc/containerd/config.toml", R"(version = 3
# containerd 2.0
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options] # runc
    BinaryName = ''
)");
  auto rs = node.Check();
  const auto& cg = Find(rs, "CgroupDriver");
  REQUIRE(cg.fix);
  CHECK(Changed(cg.fix->steps[0].edit) == std::vector<std::string>{"+    SystemdCgroup = true"});
  ApplyAll(node, rs);
  auto again = node.Check();
  CHECK(Find(again, "CgroupDriver").status == CheckStatus::kPass);
}

TEST_CASE("runtime: an options table without runc's runtime_type passes, with a note", "[runtime]") {
  RuntimeNode node;
  node.Write("/etc/containerd/config.toml",
             "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n");
  auto rs = node.Check();
  const auto& cg = Find(rs, "CgroupDriver");
  CHECK(cg.status == CheckStatus::kPass);
  CHECK(Contains(cg.message, "sets no runtime_type for runc"));
}

TEST_CASE("runtime: a config without the options table gets the table appended", "[runtime]") {
  RuntimeNode node;
  node.Write("/etc/containerd/config.toml", "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"x\"");
  auto rs = node.Check();
  const auto& cg = Find(rs, "CgroupDriver");
  CHECK(Contains(cg.message, "containerd's default (no SystemdCgroup in"));
  REQUIRE(cg.fix);
  // The last line gains its newline; runc's table with its type, then the options.
  CHECK(Changed(cg.fix->steps[0].edit).size() == 6);
  CHECK(cg.fix->steps[0].edit.after ==
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"x\"\n"
        "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n"
        "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n");
  // With runc's table present, only the options table is added.
  node.Write("/etc/containerd/config.toml",
             "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n");
  auto rs2 = node.Check();
  REQUIRE(Find(rs2, "CgroupDriver").fix);
  CHECK(Changed(Find(rs2, "CgroupDriver").fix->steps[0].edit) ==
        std::vector<std::string>{"+[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]",
                                 "+  SystemdCgroup = true"});
}

TEST_CASE("runtime: an inline options table is edited where the value stands", "[runtime]") {
  RuntimeNode node;
  node.Write("/etc/containerd/config.toml",
             "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
             "  options = { BinaryName = \"\", SystemdCgroup = false }\n");
  auto rs = node.Check();
  const auto& cg = Find(rs, "CgroupDriver");
  REQUIRE(cg.fix);
  CHECK(Changed(cg.fix->steps[0].edit).size() == 2);
  CHECK(Contains(cg.fix->steps[0].edit.after, "SystemdCgroup = true }"));
}

TEST_CASE("runtime: options made by dotted keys cannot take a header: no fix, a hint", "[runtime]") {
  RuntimeNode node;
  node.Write("/etc/containerd/config.toml",
             "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
             "  options.BinaryName = \"/usr/bin/runc\"\n");
  auto rs = node.Check();
  const auto& cg = Find(rs, "CgroupDriver");
  CHECK(cg.status == CheckStatus::kFail);
  CHECK_FALSE(cg.fix.has_value());
  CHECK(Contains(cg.hint, "by hand"));
}

TEST_CASE("runtime: default_runtime_name picks the runtime whose options are edited", "[runtime]") {
  RuntimeNode node;
  node.Write("/etc/containerd/config.toml",
             "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  default_runtime_name = \"crun\"\n"
             "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n"
             "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.crun.options]\n  SystemdCgroup = false\n");
  auto rs = node.Check();
  const auto& cg = Find(rs, "CgroupDriver");
  CHECK(Contains(cg.message, "config.toml:7"));
  REQUIRE(cg.fix);
  CHECK(Changed(cg.fix->steps[0].edit) == std::vector<std::string>{"-  SystemdCgroup = false", "+  SystemdCgroup = true"});
}

TEST_CASE("runtime: a kubelet on cgroupfs gets SystemdCgroup set to false", "[runtime]") {
  RuntimeNode node;
  node.kubelet.known = true;
  node.kubelet.source = "/var/lib/kubelet/config.yaml";
  node.kubelet.cgroup_driver = "cgroupfs";
  node.Write("/etc/containerd/config.toml", kContainerd1x);
  CHECK(Find(node.Check(), "CgroupDriver").status == CheckStatus::kPass);
  node.Write("/etc/containerd/config.toml", "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n");
  auto rs = node.Check();
  const auto& cg = Find(rs, "CgroupDriver");
  CHECK(Contains(cg.message, "the kubelet uses cgroupfs (/var/lib/kubelet/config.yaml)"));
  REQUIRE(cg.fix);
  CHECK(Changed(cg.fix->steps[0].edit).back() == "+  SystemdCgroup = false");
}

TEST_CASE("runtime: no config file means containerd's default, cgroupfs; the fix creates a minimal one", "[runtime]") {
  RuntimeNode node;
  auto sock = node.Listen("/run/containerd/containerd.sock");
  node.ctx.commands().Answer({"containerd", "--version"},
                             CommandResult{0, 0, false, false, "containerd github.com/containerd/containerd/v2 v2.0.2 c507a02\n"});
  auto rs = node.Check();
  const auto& cg = Find(rs, "CgroupDriver");
  CHECK(Contains(cg.message, "containerd uses cgroupfs (containerd's default (no /etc/containerd/config.toml))"));
  REQUIRE(cg.fix);
  CHECK(!cg.fix->steps[0].edit.before.has_value());
  CHECK(cg.fix->steps[0].edit.after ==
        "version = 3\n\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]\n"
        "  runtime_type = 'io.containerd.runc.v2'\n"
        "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n");
  ApplyAll(node, rs);
  auto again = node.Check();
  CHECK(Find(again, "CgroupDriver").status == CheckStatus::kPass);
  CHECK_FALSE(Find(again, "CgroupDriver").fix.has_value());
}

TEST_CASE("runtime: an unparseable config is a finding with file:line:col and no fix", "[runtime]") {
  RuntimeNode node;
  node.Write("/etc/containerd/config.toml", "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\"\n  x = 1\n");
  auto rs = node.Check();
  const auto& cg = Find(rs, "CgroupDriver");
  INFO(cg.message);
  CHECK(cg.status == CheckStatus::kFail);
  CHECK(Contains(cg.message, "/etc/containerd/config.toml:3:"));
  CHECK_FALSE(cg.fix.has_value());
}

TEST_CASE("runtime: Docker's containerd.io config (version 1, CRI disabled) is named, not edited", "[runtime]") {
  RuntimeNode node;
  auto sock = node.Listen("/run/containerd/containerd.sock");
  node.Write("/etc/containerd/config.toml", "#   Copyright 2018-2022 Docker Inc.\n\ndisabled_plugins = [\"cri\"]\n");
  auto rs = node.Check();
  const auto& cri = Find(rs, "CRI");
  CHECK(cri.status == CheckStatus::kFail);
  CHECK(Contains(cri.message, "/etc/containerd/config.toml:3: disabled_plugins lists \"cri\""));
  const auto& cg = Find(rs, "CgroupDriver");
  CHECK(Contains(cg.message, "config version 1"));
  CHECK_FALSE(cg.fix.has_value());
}

TEST_CASE("runtime: CRI-O's cgroup_manager: drop-ins override crio.conf in name order; default systemd", "[runtime]") {
  RuntimeNode node;
  auto sock = node.Listen("/var/run/crio/crio.sock");
  CHECK(Find(node.Check(), "CgroupDriver").status == CheckStatus::kPass);  // default systemd
  node.Write("/etc/crio/crio.conf", "[crio.runtime]\n# comment\ncgroup_manager = \"cgroupfs\"\n");
  auto rs = node.Check();
  CHECK(Find(rs, "CRI").status == CheckStatus::kPass);
  const auto& cg = Find(rs, "CgroupDriver");
  CHECK(Contains(cg.message, "CRI-O uses cgroupfs (/etc/crio/crio.conf:3)"));
  CHECK_FALSE(cg.fix.has_value());
  node.Write("/etc/crio/crio.conf.d/10-systemd.conf", "[crio.runtime]\ncgroup_manager = \"systemd\"\n");
  CHECK(Find(node.Check(), "CgroupDriver").status == CheckStatus::kPass);
  node.Write("/etc/crio/crio.conf.d/20-back.conf", "[crio.runtime]\ncgroup_manager = \"cgroupfs\"\n");
  auto rs3 = node.Check();
  CHECK(Contains(Find(rs3, "CgroupDriver").message, "/etc/crio/crio.conf.d/20-back.conf:2"));
  node.Write("/etc/crio/crio.conf.d/30-bad.conf", "[crio.runtime\n");
  auto rs4 = node.Check();
  CHECK(Contains(Find(rs4, "CgroupDriver").message, "/etc/crio/crio.conf.d/30-bad.conf:1:"));
}

TEST_CASE("runtime: CRI socket found, missing, several, through /var/run, dead", "[runtime]") {
  RuntimeNode node;
  auto none = node.Check();
  CHECK(Find(none, "CRI").status == CheckStatus::kFail);
  CHECK(Contains(Find(none, "CRI").message, "no container runtime socket found"));

  // /var/run is an absolute link to /run: followed inside the root.
  std::filesystem::create_directories(node.ctx.root().Real("/var"));
  std::filesystem::create_symlink("/run", node.ctx.root().Real("/var/run"));
  auto crio = node.Listen("/run/crio/crio.sock");
  auto one = node.Check();
  INFO(Find(one, "CRI").message);
  CHECK(Find(one, "CRI").status == CheckStatus::kPass);
  CHECK(Find(one, "CRI").detail["runtime"] == "cri-o");

  auto containerd = node.Listen("/run/containerd/containerd.sock");
  auto two = node.Check();
  CHECK(Find(two, "CRI").status == CheckStatus::kFail);
  CHECK(Contains(Find(two, "CRI").message,
                 "found multiple CRI endpoints on the host: unix:///run/containerd/containerd.sock, unix:///var/run/crio/crio.sock"));

  node.options.cri_socket = "unix:///run/containerd/containerd.sock";
  CHECK(Find(node.Check(), "CRI").status == CheckStatus::kPass);
  containerd->Stop();
  auto dead = node.Check();
  CHECK(Find(dead, "CRI").status == CheckStatus::kFail);
  CHECK(Contains(Find(dead, "CRI").message, "Connection refused"));

  node.options.cri_socket = "/run/containerd/nothing.sock";
  CHECK(Contains(Find(node.Check(), "CRI").message, "/run/containerd/nothing.sock does not exist"));
  node.Write("/run/containerd/file.sock", "");
  node.options.cri_socket = "/run/containerd/file.sock";
  CHECK(Contains(Find(node.Check(), "CRI").message, "is not a socket"));
}

TEST_CASE("runtime: crictl info, when it runs, decides: RuntimeReady, not ready, failing", "[runtime]") {
  RuntimeNode node;
  auto sock = node.Listen("/run/containerd/containerd.sock");
  std::string endpoint = "unix://" + node.ctx.root().Real("/run/containerd/containerd.sock");
  bool read_only = false;
  node.ctx.commands().AnswerWith({"crictl", "--runtime-endpoint", endpoint}, [&](const CommandSpec& spec) -> Result<CommandResult> {
    read_only = spec.read_only;
    return CommandResult{0, 0, false, false,
                         R"({"status":{"conditions":[{"type":"RuntimeReady","status":true},{"type":"NetworkReady","status":false}]}})"};
  });
  auto rs = node.Check();
  CHECK(Find(rs, "CRI").status == CheckStatus::kPass);
  CHECK(Contains(Find(rs, "CRI").message, "crictl info: RuntimeReady"));
  CHECK(read_only);  // planning runs only read-only commands
  node.ctx.commands().Answer({"crictl"}, CommandResult{0, 0, false, false,
                                                       R"({"status":{"conditions":[{"type":"RuntimeReady","status":false}]}})"});
  CHECK(Contains(Find(node.Check(), "CRI").message, "RuntimeReady false"));
  node.ctx.commands().Answer({"crictl"}, CommandResult{1, 0, false, false, "", "level=fatal msg=\"connect: connection refused\"\n"});
  auto bad = node.Check();
  CHECK(Find(bad, "CRI").status == CheckStatus::kFail);
  CHECK(Contains(Find(bad, "CRI").message, "exited 1: level=fatal msg=\"connect: connection refused\""));
}

TEST_CASE("runtime: link resolution stays inside the root", "[runtime]") {
  RuntimeNode node;
  auto& files = node.ctx.host().files();
  std::filesystem::create_directories(node.ctx.root().Real("/a/b"));
  std::filesystem::create_symlink("../../../../../etc", node.ctx.root().Real("/a/b/up"));
  std::filesystem::create_symlink("loop2", node.ctx.root().Real("/a/loop1"));
  std::filesystem::create_symlink("loop1", node.ctx.root().Real("/a/loop2"));
  CHECK(*ResolveLinks(files, "/a/b/up/x.sock") == "/etc/x.sock");
  CHECK_FALSE(ResolveLinks(files, "/a/loop1/x").ok());
  CHECK(SocketPathOf("unix:///run/x.sock") == "/run/x.sock");
  CHECK(SocketPathOf("tcp://1.2.3.4:1") == "");
  CHECK(SocketPathOf("relative.sock") == "");
}

}  // namespace
}  // namespace nodeagent::join_prep
