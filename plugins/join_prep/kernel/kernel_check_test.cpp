#include "kernel/kernel_check.h"

#include <filesystem>

#include <catch2/catch.hpp>

#include "join_options.h"
#include "kernel/conf_dirs.h"
#include "kernel/modules_config.h"
#include "kernel/sysctl_config.h"
#include "testing/fake_action_context.h"

namespace nodeagent::join_prep {
namespace {

// A node in a temp root: /proc and /sys as a fresh kernel shows them (no
// br_netfilter, forwarding off), and a modprobe that "loads" a module the
// way the kernel would (a /proc/modules line, the bridge sysctls at 0).
struct KernelNode {
  FakeActionContext ctx;
  JoinOptions options;

  KernelNode() {
    Write("/proc/modules", "nf_tables 331776 0 - Live 0x0000000000000000\n");
    Write("/proc/sys/kernel/osrelease", "6.1.0-test\n");
    Write("/proc/sys/net/ipv4/ip_forward", "0\n");
    Write("/lib/modules/6.1.0-test/modules.builtin", "kernel/fs/ext4/ext4.ko\n");
    ctx.commands().AnswerWith({"modprobe"}, [this](const CommandSpec& spec) -> Result<CommandResult> {
      std::string m = spec.argv.at(1);
      Write("/proc/modules", Read("/proc/modules") + m + " 32768 0 - Live 0x0000000000000000\n");
      if (m == "br_netfilter") {
        Write("/proc/sys/net/bridge/bridge-nf-call-iptables", "0\n");
        Write("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "0\n");
      }
      CommandResult r;
      r.exit_code = 0;
      return r;
    });
  }
  void Write(std::string_view path, std::string_view text) { ctx.root().Write(path, text); }
  std::string Read(std::string_view path) { return ctx.root().Read(path); }
  void Link(std::string_view path, const std::string& target) {
    std::filesystem::create_directories(std::filesystem::path(ctx.root().Real(path)).parent_path());
    std::filesystem::create_symlink(target, ctx.root().Real(path));
  }
  void LoadAll() {
    Write("/proc/modules", "br_netfilter 32768 0 - Live 0x0\noverlay 151552 0 - Live 0x0\n");
    Write("/proc/sys/net/ipv4/ip_forward", "1\n");
    Write("/proc/sys/net/bridge/bridge-nf-call-iptables", "1\n");
    Write("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "1\n");
  }
  std::vector<CheckResult> Check() {
    CheckInputs in{ctx.host(), options};
    return CheckKernel(in);
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

void ApplyAll(KernelNode& node, const std::vector<CheckResult>& rs) {
  for (const auto& r : rs) {
    if (!r.fix) continue;
    for (const auto& step : r.fix->steps) {
      Status st = ApplyStep(node.ctx.host(), step);
      INFO(r.id << ": " << step.description);
      REQUIRE(st.ok());
    }
  }
}

int DiffLinesChanged(const FileEdit& e) {
  std::string diff = UnifiedDiff(e.before.value_or(""), e.after, "a", "b");
  int n = 0;
  for (const auto& line : SplitLines(diff, 100000, nullptr))
    if ((line[0] == '+' || line[0] == '-') && line.rfind("+++", 0) != 0 && line.rfind("---", 0) != 0) ++n;
  return n;
}

TEST_CASE("kernel: a fresh node fails every check; the fixes make a second check pass and plan nothing", "[kernel]") {
  KernelNode node;
  auto first = node.Check();
  REQUIRE(first.size() == 7);
  for (const auto& r : first) {
    INFO(r.id << ": " << r.message);
    CHECK(r.status == CheckStatus::kFail);
    CHECK(r.fix.has_value());
  }
  CHECK(Find(first, "KernelModule-br_netfilter").fix->steps.at(0).argv == std::vector<std::string>{"modprobe", "br_netfilter"});
  CHECK(Find(first, "KernelModule-br_netfilter").severity == CheckSeverity::kError);
  const auto& bridge = Find(first, "FileContent--proc-sys-net-bridge-bridge-nf-call-iptables");
  CHECK(Contains(bridge.message, "br_netfilter is not loaded"));
  const auto& fwd = Find(first, "FileContent--proc-sys-net-ipv4-ip_forward");
  CHECK(fwd.fix->steps.at(0).kind == FixStep::Kind::kWriteInPlace);
  CHECK(fwd.fix->steps.at(0).path == "/proc/sys/net/ipv4/ip_forward");
  CHECK(fwd.fix->steps.at(0).content == "1\n");
  const auto& persist = Find(first, "SysctlPersist");
  CHECK(Contains(persist.message, "net.ipv4.ip_forward is set by no sysctl.d file"));
  CHECK(persist.fix->steps.at(0).edit.path == kSysctlDropIn);
  CHECK(persist.fix->id == kFixSysctl);
  CHECK(Find(first, "KernelModulesPersist").fix->steps.at(0).edit.path == kModulesDropIn);

  ApplyAll(node, first);
  CHECK(node.ctx.commands().call_lines() == std::vector<std::string>{"modprobe br_netfilter", "modprobe overlay"});
  CHECK(Contains(node.Read(std::string(kModulesDropIn)), "\nbr_netfilter\noverlay\n"));
  CHECK(Contains(node.Read(std::string(kSysctlDropIn)), "net.bridge.bridge-nf-call-ip6tables = 1\n"));
  CHECK(node.Read("/proc/sys/net/bridge/bridge-nf-call-iptables") == "1\n");

  auto second = node.Check();
  for (const auto& r : second) {
    INFO(r.id << ": " << r.message);
    CHECK(r.status == CheckStatus::kPass);
    CHECK_FALSE(r.fix.has_value());
  }
}

TEST_CASE("kernel: without Calico the bridge checks are warnings, as kubeadm >= 1.30 dropped them", "[kernel]") {
  KernelNode node;
  node.options.cni = Cni::kNone;
  auto rs = node.Check();
  CHECK(Find(rs, "KernelModule-br_netfilter").severity == CheckSeverity::kWarning);
  CHECK(Find(rs, "FileContent--proc-sys-net-bridge-bridge-nf-call-iptables").severity == CheckSeverity::kWarning);
  CHECK(Find(rs, "FileContent--proc-sys-net-ipv4-ip_forward").severity == CheckSeverity::kError);
  CHECK(Find(rs, "KernelModule-overlay").severity == CheckSeverity::kError);
}

TEST_CASE("kernel: a same-named file in /etc overrides the one in /usr/lib", "[kernel]") {
  KernelNode node;
  node.LoadAll();
  node.Write("/usr/lib/sysctl.d/50-k8s.conf",
             "net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables=1\nnet.bridge.bridge-nf-call-ip6tables=1\n");
  node.Write("/etc/sysctl.d/50-k8s.conf", "# local\nnet.ipv4.ip_forward = 0\nnet.bridge.bridge-nf-call-iptables=1\n"
                                          "net.bridge.bridge-nf-call-ip6tables=1\n");
  auto rs = node.Check();
  const auto& p = Find(rs, "SysctlPersist");
  CHECK(p.status == CheckStatus::kFail);
  CHECK(Contains(p.message, "net.ipv4.ip_forward = 0 after boot, set by /etc/sysctl.d/50-k8s.conf:2"));
  REQUIRE(p.fix);
  CHECK(p.fix->steps.at(0).edit.after.find("net.ipv4.ip_forward = 1\n") != std::string::npos);
  CHECK(p.fix->steps.at(0).edit.after.find("bridge") == std::string::npos);
}

TEST_CASE("kernel: a /dev/null link masks a vendor file that would reset the value", "[kernel]") {
  KernelNode node;
  node.LoadAll();
  node.Write("/etc/sysctl.d/10-k8s.conf",
             "net/ipv4/ip_forward = 1\n; slash form\nnet.bridge.bridge-nf-call-iptables=1\n"
             "-net.bridge.bridge-nf-call-ip6tables = 1\n");
  node.Write("/usr/lib/sysctl.d/90-vendor.conf", "net.ipv4.ip_forward = 0\n");
  node.Link("/etc/sysctl.d/90-vendor.conf", "/dev/null");
  auto rs = node.Check();
  const auto& p = Find(rs, "SysctlPersist");
  INFO(p.message);
  CHECK(p.status == CheckStatus::kPass);
  CHECK(p.detail["keys"]["net.ipv4.ip_forward"]["set_by"] == "/etc/sysctl.d/10-k8s.conf:1");
}

TEST_CASE("kernel: a file sorting after ours that resets a value is named, and left out of our file", "[kernel]") {
  KernelNode node;
  node.LoadAll();
  node.Write("/usr/lib/sysctl.d/99-zzzz-vendor.conf", "\n\nnet.ipv4.ip_forward = 0\n");
  auto rs = node.Check();
  const auto& p = Find(rs, "SysctlPersist");
  CHECK(p.status == CheckStatus::kFail);
  CHECK(Contains(p.message, "/usr/lib/sysctl.d/99-zzzz-vendor.conf:3 is read after /etc/sysctl.d/99-zz-nodeagent-kubernetes.conf"));
  REQUIRE(p.fix);
  const auto& after = p.fix->steps.at(0).edit.after;
  CHECK(after.find("ip_forward") == std::string::npos);
  CHECK(after.find("net.bridge.bridge-nf-call-iptables = 1") != std::string::npos);
  ApplyAll(node, rs);
  auto again = node.Check();
  const auto& p2 = Find(again, "SysctlPersist");
  CHECK(p2.status == CheckStatus::kFail);  // still reset by the vendor file
  CHECK_FALSE(p2.fix.has_value());         // and nothing more to write
  CHECK(p2.detail["blocked"] == nlohmann::json::array({"net.ipv4.ip_forward"}));
}

TEST_CASE("kernel: Debian's 99-sysctl.conf link reads /etc/sysctl.conf in order; ours sorts after it", "[kernel]") {
  KernelNode node;
  node.LoadAll();
  node.Write("/etc/sysctl.conf", "#net.ipv4.ip_forward=1\nnet.ipv4.ip_forward=0\n");
  node.Link("/etc/sysctl.d/99-sysctl.conf", "../sysctl.conf");
  node.Write("/usr/lib/sysctl.d/50-bridge.conf", "net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n");
  auto rs = node.Check();
  const auto& p = Find(rs, "SysctlPersist");
  CHECK(Contains(p.message, "set by /etc/sysctl.d/99-sysctl.conf:2"));
  CHECK(p.detail["sysctl_conf_linked"] == true);
  REQUIRE(p.fix);
  ApplyAll(node, rs);
  CHECK(node.Read("/etc/sysctl.conf") == "#net.ipv4.ip_forward=1\nnet.ipv4.ip_forward=0\n");  // untouched
  CHECK(Find(node.Check(), "SysctlPersist").status == CheckStatus::kPass);
}

TEST_CASE("kernel: without the link /etc/sysctl.conf is read last and cannot be beaten", "[kernel]") {
  KernelNode node;
  node.LoadAll();
  node.Write("/etc/sysctl.conf", "net.ipv4.ip_forward=0\n");
  auto rs = node.Check();
  const auto& p = Find(rs, "SysctlPersist");
  CHECK(Contains(p.message, "/etc/sysctl.conf:1 is read after"));
  CHECK(p.detail["blocked"] == nlohmann::json::array({"net.ipv4.ip_forward"}));
}

TEST_CASE("kernel: globs apply only where no explicit assignment names the key", "[kernel]") {
  KernelNode node;
  node.LoadAll();
  node.Write("/etc/sysctl.d/10-explicit.conf", "net.ipv4.ip_forward = 1\n");
  node.Write("/etc/sysctl.d/90-glob.conf", "net.ipv4.ip_forw* = 0\nnet.bridge.* = 1\n");
  auto rs = node.Check();
  const auto& p = Find(rs, "SysctlPersist");
  INFO(p.message);
  CHECK(p.status == CheckStatus::kPass);
  CHECK(p.detail["keys"]["net.bridge.bridge-nf-call-iptables"]["set_by"] == "/etc/sysctl.d/90-glob.conf:2");

  node.Write("/etc/sysctl.d/95-exclude.conf", "-net.bridge.bridge-nf-call-iptables\n");
  auto rs2 = node.Check();
  const auto& p2 = Find(rs2, "SysctlPersist");
  CHECK(p2.status == CheckStatus::kFail);
  CHECK(Contains(p2.message, "net.bridge.bridge-nf-call-iptables is set by no sysctl.d file"));
}

TEST_CASE("kernel: modules-load.d order, masking and Debian's /etc/modules", "[kernel]") {
  KernelNode node;
  node.LoadAll();
  node.Write("/usr/lib/modules-load.d/k8s.conf", "br_netfilter\noverlay\n");
  node.Link("/etc/modules-load.d/k8s.conf", "/dev/null");
  node.Write("/etc/modules", "# /etc/modules\nloop\noverlay max_loop=8\n");
  node.Link("/etc/modules-load.d/modules.conf", "../modules");
  node.Write("/run/modules-load.d/other.conf", "br-netfilter\n");
  node.Write("/usr/lib/modules-load.d/other.conf", "# shadowed by /run\n");
  auto rs = node.Check();
  const auto& p = Find(rs, "KernelModulesPersist");
  INFO(p.message);
  CHECK(p.status == CheckStatus::kPass);
  CHECK(p.detail["listed"]["overlay"] == "/etc/modules-load.d/modules.conf:3");
  CHECK(p.detail["listed"]["br_netfilter"] == "/run/modules-load.d/other.conf:1");

  std::filesystem::remove(node.ctx.root().Real("/run/modules-load.d/other.conf"));
  auto rs2 = node.Check();
  const auto& p2 = Find(rs2, "KernelModulesPersist");
  CHECK(p2.status == CheckStatus::kFail);
  CHECK(Contains(p2.message, "br_netfilter not listed"));
  CHECK(Contains(p2.message, "masked by a /dev/null link: /etc/modules-load.d/k8s.conf"));
  REQUIRE(p2.fix);
  CHECK(DiffLinesChanged(p2.fix->steps.at(0).edit) == 2);  // our header and the module: a new file
}

TEST_CASE("kernel: an existing drop-in of ours gets one line added", "[kernel]") {
  KernelNode node;
  node.LoadAll();
  node.Write(std::string(kModulesDropIn), "# mine\noverlay");
  auto rs = node.Check();
  const auto& p = Find(rs, "KernelModulesPersist");
  REQUIRE(p.fix);
  CHECK(p.fix->steps.at(0).edit.after == "# mine\noverlay\nbr_netfilter\n");
}

TEST_CASE("kernel: a built-in module passes now and needs no boot listing", "[kernel]") {
  KernelNode node;
  node.Write("/lib/modules/6.1.0-test/modules.builtin", "kernel/fs/overlayfs/overlay.ko\nkernel/net/bridge/br_netfilter.ko\n");
  auto rs = node.Check();
  CHECK(Find(rs, "KernelModule-overlay").status == CheckStatus::kPass);
  CHECK(Contains(Find(rs, "KernelModule-overlay").message, "built in"));
  CHECK(Find(rs, "KernelModulesPersist").status == CheckStatus::kPass);
  node.Write("/lib/modules/6.1.0-test/modules.builtin", "");
  std::filesystem::create_directories(node.ctx.root().Real("/sys/module/br_netfilter"));
  CHECK(Find(node.Check(), "KernelModule-br_netfilter").status == CheckStatus::kPass);
}

TEST_CASE("kernel: built in without a /sys/module entry: the bridge sysctls, /proc/filesystems", "[kernel]") {
  KernelNode node;
  node.Write("/proc/sys/net/bridge/bridge-nf-call-iptables", "1\n");
  node.Write("/proc/filesystems", "nodev\tsysfs\nnodev\toverlay\n\text4\n");
  auto rs = node.Check();
  CHECK(Find(rs, "KernelModule-br_netfilter").status == CheckStatus::kPass);
  CHECK(Find(rs, "KernelModule-overlay").status == CheckStatus::kPass);
  CHECK(Find(rs, "KernelModulesPersist").status == CheckStatus::kPass);
}

TEST_CASE("kernel: an IPv6 endpoint adds kubeadm's IPv6 forwarding check", "[kernel]") {
  KernelNode node;
  node.LoadAll();
  node.Write("/etc/sysctl.d/50-k8s.conf", "net.ipv4.ip_forward=1\nnet.bridge.bridge-nf-call-iptables=1\n"
                                          "net.bridge.bridge-nf-call-ip6tables=1\n");
  CHECK(node.Check().size() == 7);
  node.options.endpoint = "[fd00::10]:6443";
  node.Write("/proc/sys/net/ipv6/conf/default/forwarding", "0\n");
  auto rs = node.Check();
  REQUIRE(rs.size() == 8);
  const auto& v6 = Find(rs, "FileContent--proc-sys-net-ipv6-conf-default-forwarding");
  CHECK(v6.status == CheckStatus::kFail);
  REQUIRE(v6.fix);
  CHECK(v6.fix->steps.at(0).path == "/proc/sys/net/ipv6/conf/default/forwarding");
  const auto& p = Find(rs, "SysctlPersist");
  REQUIRE(p.fix);
  CHECK(p.fix->steps.at(0).edit.after.find("net.ipv6.conf.default.forwarding = 1\n") != std::string::npos);
  ApplyAll(node, rs);
  for (const auto& r : node.Check()) {
    INFO(r.id << ": " << r.message);
    CHECK(r.status == CheckStatus::kPass);
  }
}

TEST_CASE("kernel: sysctl key forms", "[kernel]") {
  CHECK(NormalizeSysctlKey("net.ipv4.ip_forward") == "net/ipv4/ip_forward");
  CHECK(NormalizeSysctlKey("net/ipv4/ip_forward") == "net/ipv4/ip_forward");
  CHECK(NormalizeSysctlKey("net.ipv4.conf.enp3s0/200.forwarding") == "net/ipv4/conf/enp3s0.200/forwarding");
  CHECK(NormalizeSysctlKey("net/ipv4/conf/enp3s0.200/forwarding") == "net/ipv4/conf/enp3s0.200/forwarding");
}

}  // namespace
}  // namespace nodeagent::join_prep
