#include "kernel/kernel_check.h"

#include <algorithm>

#include "join_options.h"
#include "kernel/conf_dirs.h"
#include "kernel/modules_config.h"
#include "kernel/sysctl_config.h"

namespace nodeagent::join_prep {
namespace {

struct RequiredSysctl {
  std::string_view key;      ///< dotted, as operators write it
  std::string_view check_id; ///< kubeadm's id (the bridge ones: kubeadm < v1.30)
  bool bridge;               ///< exists only while br_netfilter is loaded
};

constexpr RequiredSysctl kRequiredSysctls[] = {
    {"net.ipv4.ip_forward", "FileContent--proc-sys-net-ipv4-ip_forward", false},
    {"net.bridge.bridge-nf-call-iptables", "FileContent--proc-sys-net-bridge-bridge-nf-call-iptables", true},
    {"net.bridge.bridge-nf-call-ip6tables", "FileContent--proc-sys-net-bridge-bridge-nf-call-ip6tables", true},
};

constexpr RequiredSysctl kIpv6Forwarding = {"net.ipv6.conf.default.forwarding",
                                           "FileContent--proc-sys-net-ipv6-conf-default-forwarding", false};

// kubeadm adds the IPv6 forwarding check when the API endpoint is IPv6; the
// IPv4 one we ask always (pods' traffic is forwarded whatever the endpoint).
bool EndpointIsIpv6(std::string_view endpoint) {
  if (!endpoint.empty() && endpoint[0] == '[') return true;
  return std::count(endpoint.begin(), endpoint.end(), ':') > 1;
}

std::vector<RequiredSysctl> RequiredSysctls(const CheckInputs& in) {
  std::vector<RequiredSysctl> out(std::begin(kRequiredSysctls), std::end(kRequiredSysctls));
  if (EndpointIsIpv6(in.options.endpoint)) out.push_back(kIpv6Forwarding);
  return out;
}

std::string ProcPath(std::string_view key) { return "/proc/sys/" + NormalizeSysctlKey(key); }

std::string Where(const SysctlAssignment& a) { return a.file + ":" + std::to_string(a.line); }

// Calico filters bridged pod traffic with iptables; without a CNI chosen here
// the operator's CNI decides, so kubeadm's own removal of the check applies.
CheckSeverity BridgeSeverity(const CheckInputs& in) {
  return in.options.cni == Cni::kCalico ? CheckSeverity::kError : CheckSeverity::kWarning;
}

CheckSeverity ModuleSeverity(const CheckInputs& in, std::string_view module) {
  return module == "br_netfilter" ? BridgeSeverity(in) : CheckSeverity::kError;
}

CheckResult ModuleNow(const CheckInputs& in, std::string_view module) {
  std::string id = "KernelModule-" + std::string(module);
  ModuleStatus st = LoadedModule(in.host.files(), module);
  if (st.state != ModuleState::kAbsent) {
    auto r = CheckResult::Pass(id, std::string(module) + (st.state == ModuleState::kBuiltin ? " is built in (" : " is loaded (") +
                                       st.evidence + ")");
    r.detail = {{"module", module}, {"state", st.state == ModuleState::kBuiltin ? "builtin" : "loaded"}};
    return r;
  }
  std::string msg = std::string(module) + " is not loaded (not in /proc/modules, no /sys/module/" +
                    NormalizeModuleName(module) + ", not in modules.builtin)";
  if (!st.problem.empty()) msg += "; " + st.problem;
  auto r = CheckResult::Fail(id, ModuleSeverity(in, module), msg, "modprobe " + std::string(module));
  r.fix = Fix{std::string(kFixModules), {FixStep::Run({"modprobe", std::string(module)}, "load " + std::string(module) + " now")}, ""};
  r.detail = {{"module", module}, {"state", "absent"}};
  return r;
}

// Our modules drop-in with `missing` added (each on its own line).
std::string ModulesDropInWith(const std::optional<std::string>& current, const std::vector<std::string>& missing) {
  std::string out = current.value_or(
      "# Kernel modules a Kubernetes node needs at boot; written by nodeagent join-prep.\n");
  if (!out.empty() && out.back() != '\n') out += '\n';
  for (const auto& m : missing) out += m + "\n";
  return out;
}

CheckResult ModulesPersist(const CheckInputs& in, std::vector<std::string>* not_at_boot) {
  const FileSystem& files = in.host.files();
  BootModules boot = ReadBootModules(files);
  nlohmann::json listed = nlohmann::json::object();
  std::vector<std::string> missing;
  CheckSeverity severity = CheckSeverity::kWarning;
  for (auto module : kRequiredModules) {
    std::string name = NormalizeModuleName(module);
    auto it = boot.listed.find(name);
    if (it != boot.listed.end()) {
      listed[std::string(module)] = it->second.file + ":" + std::to_string(it->second.line);
      continue;
    }
    ModuleStatus st = LoadedModule(files, module);
    if (st.state == ModuleState::kBuiltin) {
      listed[std::string(module)] = "built in";
      continue;
    }
    missing.emplace_back(module);
    if (ModuleSeverity(in, module) == CheckSeverity::kError) severity = CheckSeverity::kError;
  }
  if (not_at_boot) *not_at_boot = missing;
  nlohmann::json detail = {{"listed", listed}, {"files_read", boot.files_read}, {"masked", boot.masked},
                           {"problems", boot.problems}};
  if (missing.empty()) {
    auto r = CheckResult::Pass("KernelModulesPersist", "br_netfilter and overlay are loaded at boot");
    r.detail = detail;
    return r;
  }
  std::string names;
  for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
  std::string msg = names + " not listed in modules-load.d (read: " +
                    (boot.files_read.empty() ? std::string("no files") : std::to_string(boot.files_read.size()) + " files") +
                    "): not loaded after a reboot";
  if (!boot.masked.empty()) {
    msg += "; masked by a /dev/null link:";
    for (const auto& m : boot.masked) msg += " " + m;
  }
  for (const auto& p : boot.problems) msg += "; " + p;
  detail["missing"] = missing;
  auto r = CheckResult::Fail("KernelModulesPersist", severity, msg,
                             "list them, one a line, in " + std::string(kModulesDropIn));
  r.detail = detail;
  if (IsMasked(files, std::string(kModulesDropIn))) {
    r.hint = std::string(kModulesDropIn) + " is masked (a link to /dev/null): remove the link or list the modules in another file";
    return r;
  }
  auto edit = PlanFileEdit(files, std::string(kModulesDropIn), [&](const std::optional<std::string>& cur) -> Result<std::string> {
    return ModulesDropInWith(cur, missing);
  });
  if (!edit) {
    r.hint = "cannot plan the edit of " + std::string(kModulesDropIn) + ": " + edit.error().message();
    return r;
  }
  r.fix = Fix{std::string(kFixModules), {FixStep::Edit(*edit, "load " + names + " at boot")}, ""};
  return r;
}

CheckResult SysctlNow(const CheckInputs& in, const RequiredSysctl& s, bool br_netfilter_loaded) {
  std::string path = ProcPath(s.key);
  CheckSeverity severity = s.bridge ? BridgeSeverity(in) : CheckSeverity::kError;
  auto value = in.host.files().ReadFile(path);
  nlohmann::json detail = {{"key", s.key}, {"path", path}};
  if (!value) {
    std::string msg = path + " does not exist";
    if (s.bridge && value.error().code() == ErrorCode::kNotFound)
      msg += br_netfilter_loaded ? " (br_netfilter is loaded: this kernel lacks the bridge sysctls)"
                                 : ": br_netfilter is not loaded";
    else if (value.error().code() != ErrorCode::kNotFound)
      msg = path + ": " + value.error().message();
    auto r = CheckResult::Fail(std::string(s.check_id), severity, msg);
    r.detail = detail;
    if (s.bridge && !br_netfilter_loaded && value.error().code() == ErrorCode::kNotFound) {
      // The module's own fix (KernelModule-br_netfilter, applied before this
      // one) makes the file appear; then it is set like any other.
      r.fix = Fix{std::string(kFixSysctl),
                  {FixStep::WriteNow(path, "1\n", "set " + std::string(s.key) + " = 1 now (after modprobe br_netfilter)")},
                  ""};
      r.hint = "modprobe br_netfilter, then sysctl -w " + std::string(s.key) + "=1";
    }
    return r;
  }
  std::string v(Trim(*value));
  while (!v.empty() && v.back() == '\n') v.pop_back();
  detail["value"] = v;
  if (v == "1") {
    auto r = CheckResult::Pass(std::string(s.check_id), std::string(s.key) + " = 1");
    r.detail = detail;
    return r;
  }
  auto r = CheckResult::Fail(std::string(s.check_id), severity, path + " contents are not set to 1 (" + v + ")",
                             "sysctl -w " + std::string(s.key) + "=1");
  r.detail = detail;
  r.fix = Fix{std::string(kFixSysctl), {FixStep::WriteNow(path, "1\n", "set " + std::string(s.key) + " = 1 now")}, ""};
  return r;
}

// Our sysctl drop-in with each of `keys` set to 1: a line of ours that
// assigns the key is rewritten, else a line is added.
std::string SysctlDropInWith(const std::optional<std::string>& current, const std::vector<std::string>& keys) {
  std::string header = "# Sysctls a Kubernetes node needs; written by nodeagent join-prep. Named to sort\n"
                       "# after the other sysctl.d files so that it wins at boot.\n";
  std::vector<std::string> lines = current ? SplitLines(*current, kMaxSysctlLinesPerFile, nullptr)
                                           : SplitLines(header, 10, nullptr);
  if (current && !current->empty() && current->back() == '\n' && !lines.empty() && lines.back().empty())
    lines.pop_back();
  for (const auto& key : keys) {
    std::string want = NormalizeSysctlKey(key);
    bool replaced = false;
    for (auto& line : lines) {
      std::string_view t = Trim(line);
      if (t.empty() || t[0] == '#' || t[0] == ';') continue;
      size_t eq = t.find('=');
      if (eq == std::string_view::npos) continue;
      std::string_view k = Trim(t.substr(0, eq));
      if (!k.empty() && k[0] == '-') k = Trim(k.substr(1));
      if (NormalizeSysctlKey(k) != want) continue;
      line = key + " = 1";
      replaced = true;
    }
    if (!replaced) lines.push_back(key + " = 1");
  }
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

CheckResult SysctlPersist(const CheckInputs& in, const std::vector<std::string>& modules_not_at_boot) {
  const FileSystem& files = in.host.files();
  SysctlConfig config = ReadSysctlConfig(files);
  nlohmann::json keys = nlohmann::json::object();
  std::vector<std::string> to_write;
  std::vector<std::string> findings;
  std::vector<std::string> blocked;
  CheckSeverity severity = CheckSeverity::kWarning;
  bool br_at_boot = std::find(modules_not_at_boot.begin(), modules_not_at_boot.end(), "br_netfilter") ==
                    modules_not_at_boot.end();
  for (const auto& s : RequiredSysctls(in)) {
    SysctlBootValue bv = BootValue(config, s.key);
    nlohmann::json k = {{"value", bv.winner ? nlohmann::json(bv.winner->value) : nlohmann::json(nullptr)}};
    if (bv.winner) k["set_by"] = Where(*bv.winner);
    keys[std::string(s.key)] = k;
    if (bv.winner && bv.winner->value == "1") {
      if (s.bridge && !br_at_boot)
        findings.push_back(std::string(s.key) + " = 1 at " + Where(*bv.winner) +
                           " takes effect only if br_netfilter is loaded at boot (see KernelModulesPersist)");
      continue;
    }
    if ((s.bridge ? BridgeSeverity(in) : CheckSeverity::kError) == CheckSeverity::kError) severity = CheckSeverity::kError;
    findings.push_back(bv.winner ? std::string(s.key) + " = " + bv.winner->value + " after boot, set by " + Where(*bv.winner)
                                 : std::string(s.key) + " is set by no sysctl.d file (kernel default 0 after boot)");
    // An explicit assignment beats every glob, so only explicit ones that
    // the boot reads after our file can undo it.
    std::optional<SysctlAssignment> later_reset;
    for (const auto& a : bv.applying)
      if (!a.glob && a.value != "1" && (a.order_name > kSysctlDropInName || a.file == "/etc/sysctl.conf"))
        later_reset = a;
    if (later_reset && later_reset->file != kSysctlDropIn) {
      blocked.push_back(std::string(s.key));
      findings.push_back(Where(*later_reset) + " is read after " + std::string(kSysctlDropIn) + " and sets " +
                         std::string(s.key) + " = " + later_reset->value + ": change that line to 1 or remove it");
      continue;
    }
    to_write.emplace_back(s.key);
  }
  nlohmann::json detail = {{"keys", keys}, {"files_read", config.files_read}, {"problems", config.problems},
                           {"sysctl_conf_linked", config.sysctl_conf_linked}};
  std::string msg;
  for (const auto& f : findings) msg += (msg.empty() ? "" : "; ") + f;
  if (to_write.empty() && blocked.empty()) {
    auto r = CheckResult::Pass("SysctlPersist", msg.empty() ? "every required sysctl is 1 after boot" : msg);
    r.detail = detail;
    return r;
  }
  for (const auto& p : config.problems) msg += "; " + p;
  auto r = CheckResult::Fail("SysctlPersist", severity, msg);
  r.detail = detail;
  r.detail["to_write"] = to_write;
  r.detail["blocked"] = blocked;
  if (!blocked.empty()) r.hint = "a file read after ours resets the value: edit the file named above";
  if (to_write.empty()) return r;
  if (IsMasked(files, std::string(kSysctlDropIn))) {
    r.hint = std::string(kSysctlDropIn) + " is masked (a link to /dev/null): remove the link";
    return r;
  }
  auto edit = PlanFileEdit(files, std::string(kSysctlDropIn), [&](const std::optional<std::string>& cur) -> Result<std::string> {
    return SysctlDropInWith(cur, to_write);
  });
  if (!edit) {
    r.hint = "cannot plan the edit of " + std::string(kSysctlDropIn) + ": " + edit.error().message();
    return r;
  }
  std::string names;
  for (const auto& k : to_write) names += (names.empty() ? "" : ", ") + k;
  r.fix = Fix{std::string(kFixSysctl), {FixStep::Edit(*edit, "set " + names + " = 1 at boot")},
              blocked.empty() ? "" : "not persisted (a later file resets them): " + nlohmann::json(blocked).dump()};
  return r;
}

}  // namespace

std::vector<CheckResult> CheckKernel(const CheckInputs& in) {
  std::vector<CheckResult> out;
  bool br_loaded = false;
  for (auto module : kRequiredModules) {
    out.push_back(ModuleNow(in, module));
    if (module == "br_netfilter") br_loaded = out.back().status == CheckStatus::kPass;
  }
  std::vector<std::string> not_at_boot;
  out.push_back(ModulesPersist(in, &not_at_boot));
  for (const auto& s : RequiredSysctls(in)) out.push_back(SysctlNow(in, s, br_loaded));
  out.push_back(SysctlPersist(in, not_at_boot));
  return out;
}

}  // namespace nodeagent::join_prep
