// join-prep as the core runs it: plan, apply the allowed fixes, check again;
// and a second run right after plans nothing. The node is a temp root whose
// fake swapoff, modprobe and systemctl change it the way the real ones would.
#include <catch2/catch.hpp>

#include <filesystem>

#include "check.h"
#include "testing/fake_action_context.h"
#include "join_prep_actions.h"

using namespace nodeagent;
using namespace nodeagent::join_prep;
namespace fs = std::filesystem;

namespace {

CommandResult Exit(int code, std::string out = "", std::string err = "") {
  CommandResult r;
  r.exit_code = code;
  r.stdout_data = std::move(out);
  r.stderr_data = std::move(err);
  return r;
}

const ActionSpec& Spec(std::string_view name) {
  for (const auto& s : JoinPrepActionSpecs())
    if (s.name == name) return s;
  FAIL("no action " << name);
  throw 0;
}

constexpr const char* kSwapsHeader = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";

struct Node {
  FakeActionContext ctx;
  bool swap_on = true;
  bool br_netfilter = false;

  Node() {
    auto& root = ctx.root();
    root.Write("/etc/fstab", "UUID=1111 / ext4 defaults 0 1\r\nUUID=2222 none swap sw 0 0\r\n/dev/sr0 /media udf noauto 0 0");
    root.Write("/proc/modules", "overlay 151552 0 - Live 0x0000000000000000\n");
    root.Write("/proc/sys/net/ipv4/ip_forward", "0\n");
    root.Write("/proc/sys/kernel/hostname", "node-1\n");
    root.Write("/proc/net/tcp", "  sl  local_address rem_address   st\n");
    WriteSwaps();
    ctx.commands().AnswerWith({"swapoff"}, [this](const CommandSpec& s) {
      REQUIRE_FALSE(s.read_only);
      swap_on = false;
      WriteSwaps();
      return Result<CommandResult>(Exit(0));
    });
    ctx.commands().AnswerWith({"modprobe"}, [this](const CommandSpec& s) {
      REQUIRE_FALSE(s.read_only);
      if (s.argv.back() == "br_netfilter") {
        br_netfilter = true;
        ctx.root().Write("/proc/modules", "br_netfilter 32768 0 - Live 0x0\noverlay 151552 0 - Live 0x0\n");
        ctx.root().Write("/proc/sys/net/bridge/bridge-nf-call-iptables", "0\n");
        ctx.root().Write("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "0\n");
      }
      return Result<CommandResult>(Exit(0));
    });
    ctx.commands().AnswerWith({"systemctl", "list-unit-files"}, [](const CommandSpec&) {
      return Result<CommandResult>(Exit(1));  // systemd 252: no swap unit files
    });
    ctx.commands().AnswerWith({"systemctl", "list-units"}, [](const CommandSpec&) {
      return Result<CommandResult>(Exit(0));
    });
    Params& p = ctx.mutable_params();
    std::vector<std::string> all;
    for (auto id : kFixIds) all.emplace_back(id);
    p.Set("fix", all);
    p.Set("connect_timeout", Duration(std::chrono::milliseconds(200)));
  }

  void WriteSwaps() {
    ctx.root().Write("/proc/swaps",
                     std::string(kSwapsHeader) + (swap_on ? "/dev/sda2 partition\t2097148\t0\t-2\n" : ""));
  }
};

const nlohmann::json* CheckById(const nlohmann::json& checks, std::string_view id) {
  for (const auto& c : checks)
    if (c["id"] == id) return &c;
  return nullptr;
}

bool Plans(const Plan& plan, std::string_view kind, std::string_view target) {
  return std::any_of(plan.changes.begin(), plan.changes.end(),
                     [&](const Change& c) { return c.kind == kind && c.target.find(target) != std::string::npos; });
}

}  // namespace

TEST_CASE("join-prep: the plan lists each allowed fix; apply fixes them; a second run plans nothing",
          "[join-prep-action]") {
  Node node;
  auto action = Spec("join-prep").create();
  auto plan = action->MakePlan(node.ctx);
  REQUIRE(plan);
  CHECK(Plans(*plan, "run", "swapoff /dev/sda2"));
  CHECK(Plans(*plan, "edit", "/etc/fstab"));
  CHECK(Plans(*plan, "run", "modprobe br_netfilter"));
  CHECK(Plans(*plan, "create", "/etc/sysctl.d/"));
  CHECK(Plans(*plan, "write", "/proc/sys/net/ipv4/ip_forward"));
  // Planning changed nothing.
  CHECK(node.swap_on);
  CHECK(node.ctx.root().Read("/proc/sys/net/ipv4/ip_forward") == "0\n");
  const auto& checks = plan->data["checks"];
  REQUIRE(CheckById(checks, "Swap"));
  CHECK((*CheckById(checks, "Swap"))["status"] == "fail");
  CHECK((*CheckById(checks, "Swap"))["fix"]["id"] == "swapoff");
  CHECK(plan->data["firewall"].contains("ports"));
  auto swap_finding = std::find_if(plan->findings.begin(), plan->findings.end(),
                                   [](const Finding& f) { return f.subject == "Swap"; });
  REQUIRE(swap_finding != plan->findings.end());
  CHECK(swap_finding->severity == Severity::kError);
  CHECK(swap_finding->condition == "NodeAgentSwapEnabled");  // join-prep's swap condition, not the general one

  auto out = action->Apply(node.ctx, *plan);
  REQUIRE(out);
  CHECK_FALSE(node.swap_on);
  CHECK(node.br_netfilter);
  CHECK(node.ctx.root().Read("/proc/sys/net/ipv4/ip_forward") == "1\n");
  CHECK(node.ctx.root().Read("/etc/fstab").find("\r\n# nodeagent: swap off for the kubelet: UUID=2222 none swap") !=
        std::string::npos);
  CHECK((*CheckById(out->data["checks"], "Swap"))["status"] == "fixed");
  CHECK((*CheckById(out->data["checks"], "SwapFstab"))["status"] == "fixed");
  CHECK((*CheckById(out->data["checks"], "FileContent--proc-sys-net-ipv4-ip_forward"))["status"] == "fixed");
  CHECK(std::none_of(out->findings.begin(), out->findings.end(),
                     [](const Finding& f) { return f.subject == "Swap" || f.subject == "SwapFstab"; }));

  auto again = Spec("join-prep").create()->MakePlan(node.ctx);
  REQUIRE(again);
  for (const auto& c : again->changes) INFO(c.kind << " " << c.target);
  CHECK(again->changes.empty());
}

TEST_CASE("join-prep: fixes not in the fix list are reported, not planned; ignored errors become warnings",
          "[join-prep-action]") {
  Node node;
  node.ctx.mutable_params().Set("fix", std::vector<std::string>{"sysctl"});
  node.ctx.mutable_params().Set("ignore", std::vector<std::string>{"swap"});
  auto plan = Spec("join-prep").create()->MakePlan(node.ctx);
  REQUIRE(plan);
  CHECK_FALSE(Plans(*plan, "run", "swapoff"));
  CHECK(Plans(*plan, "write", "/proc/sys/net/ipv4/ip_forward"));
  const auto* swap = CheckById(plan->data["checks"], "Swap");
  REQUIRE(swap);
  CHECK((*swap)["status"] == "ignored");
  CHECK((*swap)["fix"]["allowed"] == false);
  auto f = std::find_if(plan->findings.begin(), plan->findings.end(), [](const Finding& f) { return f.subject == "Swap"; });
  REQUIRE(f != plan->findings.end());
  CHECK(f->severity == Severity::kWarning);
}

TEST_CASE("join: the plan needs the token and says the join will not run without kubeadm", "[join-prep-action]") {
  Node node;
  Params& p = node.ctx.mutable_params();
  p.Set("endpoint", std::string("127.0.0.1:1"));
  p.Set("token", std::string("abcdef.0123456789abcdef"));
  p.Set("ca_cert_hashes", std::vector<std::string>{"sha256:" + std::string(64, 'a')});
  auto plan = Spec("join").create()->MakePlan(node.ctx);
  REQUIRE(plan);
  auto kubeadm = std::find_if(plan->findings.begin(), plan->findings.end(),
                              [](const Finding& f) { return f.subject == "kubeadm"; });
  REQUIRE(kubeadm != plan->findings.end());
  CHECK(plan->summary.find("the join will not run") != std::string::npos);
  nlohmann::json everything = {{"summary", plan->summary}, {"data", plan->data}};
  for (const auto& f : plan->findings) everything["f"].push_back(f.message);
  for (const auto& c : plan->changes) everything["c"].push_back(c.target + c.description);
  CHECK(everything.dump().find("0123456789abcdef") == std::string::npos);
}

TEST_CASE("join-prep on a joined node: its kubelet.conf and the kubelet's port are signs of the join, not errors; "
          "join still refuses them",
          "[join-prep-action]") {
  Node node;
  node.ctx.root().Write("/etc/kubernetes/kubelet.conf", "apiVersion: v1\nkind: Config\n");
  // The kubelet listens on 10250 (0A = LISTEN, port 0x280A).
  node.ctx.root().Write("/proc/net/tcp",
                        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
                        "   0: 00000000:280A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0\n");
  auto prep = Spec("join-prep").create()->MakePlan(node.ctx);
  REQUIRE(prep);
  for (const char* id : {"FileAvailable--etc-kubernetes-kubelet.conf", "Port-10250"}) {
    const auto* c = CheckById(prep->data["checks"], id);
    REQUIRE(c);
    CHECK((*c)["status"] == "pass");
    CHECK((*c)["message"].get<std::string>().find("expected on a joined node") != std::string::npos);
  }
  Params& p = node.ctx.mutable_params();
  p.Set("endpoint", std::string("127.0.0.1:1"));
  p.Set("token", std::string("abcdef.0123456789abcdef"));
  p.Set("ca_cert_hashes", std::vector<std::string>{"sha256:" + std::string(64, 'a')});
  auto join = Spec("join").create()->MakePlan(node.ctx);
  REQUIRE(join);
  const auto* conf = CheckById(join->data["checks"], "FileAvailable--etc-kubernetes-kubelet.conf");
  REQUIRE(conf);
  CHECK((*conf)["status"] == "fail");
  CHECK((*CheckById(join->data["checks"], "Port-10250"))["status"] == "fail");
}
