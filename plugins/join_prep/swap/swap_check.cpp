#include "swap/swap_check.h"

#include <algorithm>

#include "swap/fstab.h"
#include "swap/proc_swaps.h"
#include "swap/swap_units.h"
#include "swap/zram.h"

namespace nodeagent::join_prep {
namespace {

constexpr size_t kMaxListed = 20;  // items named in one message; the detail has all

CheckSeverity SwapSeverity(const KubeletConfigView& k) {
  return k.fail_swap_on ? CheckSeverity::kError : CheckSeverity::kWarning;
}

/// Why the finding is an error or only a warning.
std::string KubeletNote(const KubeletConfigView& k) {
  std::string where = !k.source.empty() ? k.source : "the kubelet configuration";
  if (!k.fail_swap_on) return " (a warning only: failSwapOn is false in " + where + ")";
  if (!k.known) {
    return " (the kubelet will not start with swap on: failSwapOn defaults to true, " +
           (k.problem.empty() ? std::string("no kubelet configuration found")
                              : "kubelet configuration unreadable: " + k.problem) +
           ")";
  }
  return " (the kubelet will not start with swap on: failSwapOn is true in " + where + ")";
}

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < kMaxListed; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > kMaxListed) out += " and " + std::to_string(items.size() - kMaxListed) + " more";
  return out;
}

CheckResult ReadProblem(std::string_view id, std::string message, std::string hint = "") {
  auto r = CheckResult::Fail(std::string(id), CheckSeverity::kWarning, std::move(message), std::move(hint));
  return r;
}

// --- Swap: active now -------------------------------------------------------

CheckResult CheckActiveSwap(const CheckInputs& in) {
  const std::string id(kCheckSwap);
  auto text = in.host.files().ReadFile("/proc/swaps");
  if (!text && text.error().code() == ErrorCode::kNotFound) {
    // As the kubelet and kubeadm take it: a kernel without swap support.
    return CheckResult::Pass(id, "no /proc/swaps: the kernel has no swap support");
  }
  if (!text) {
    return ReadProblem(id, "cannot read /proc/swaps: " + text.error().message(),
                       "check by hand with `swapon --show`; the kubelet reads the same file");
  }
  auto swaps = ParseProcSwaps(*text);
  if (!swaps) return ReadProblem(id, swaps.error().message());
  if (swaps->empty()) return CheckResult::Pass(id, "no swap is on (/proc/swaps lists none)");

  std::vector<std::string> names;
  Fix fix{std::string(kFixSwapoff), {}, ""};
  nlohmann::json active = nlohmann::json::array();
  std::vector<std::string> deleted;
  for (const auto& s : *swaps) {
    names.push_back(s.path + (s.deleted ? " (deleted)" : "") + " (" + s.type + ", " + s.size_kib + " KiB)");
    active.push_back({{"path", s.path},
                      {"type", s.type},
                      {"size_kib", s.size_kib},
                      {"used_kib", s.used_kib},
                      {"priority", s.priority},
                      {"deleted", s.deleted}});
    if (s.deleted) {
      deleted.push_back(s.path);
      continue;
    }
    fix.steps.push_back(FixStep::Run({"swapoff", s.path}, "swapoff " + s.path));
  }
  auto r = CheckResult::Fail(id, SwapSeverity(in.kubelet), "swap is on: " + JoinList(names) + KubeletNote(in.kubelet));
  r.detail["active"] = std::move(active);
  if (!deleted.empty()) {
    r.hint = "swap file(s) " + JoinList(deleted) +
             " were deleted while in use and no path reaches them: swapoff cannot name them; turn swap off at "
             "boot (the other swap fixes) and reboot";
  }
  if (!fix.steps.empty()) r.fix = std::move(fix);
  return r;
}

// --- SwapFstab: /etc/fstab lines that turn swap on at boot ------------------

std::string LineRef(const FstabLine& l) { return "/etc/fstab:" + std::to_string(l.number); }

std::vector<CheckResult> CheckFstab(const CheckInputs& in) {
  const std::string id(kCheckSwapFstab);
  auto text = in.host.files().ReadFile("/etc/fstab");
  if (!text) {
    if (text.error().code() == ErrorCode::kNotFound) return {CheckResult::Pass(id, "no /etc/fstab")};
    return {ReadProblem(id, "cannot read /etc/fstab: " + text.error().message())};
  }
  auto lines = ParseFstab(*text);
  if (!lines) return {ReadProblem(id, lines.error().message(), "/etc/fstab was not changed")};

  std::vector<const FstabLine*> at_boot;
  nlohmann::json swap_lines = nlohmann::json::array(), noauto = nlohmann::json::array(),
                 malformed = nlohmann::json::array();
  std::vector<std::string> malformed_refs;
  bool malformed_may_be_swap = false;
  for (const auto& l : *lines) {
    if (l.IsSwapEntry()) {
      nlohmann::json j = {{"line", l.number}, {"device", l.fields[0]}, {"options", l.fields[3]}};
      if (l.HasOption("noauto")) {
        noauto.push_back(std::move(j));
      } else {
        swap_lines.push_back(std::move(j));
        at_boot.push_back(&l);
      }
    } else if (l.kind == FstabLine::Kind::kMalformed) {
      malformed.push_back({{"line", l.number}, {"problem", l.problem}, {"text", l.text.substr(0, 200)}});
      malformed_refs.push_back(LineRef(l) + ": " + l.problem);
      malformed_may_be_swap = malformed_may_be_swap || l.MaybeSwap();
    }
  }

  std::vector<CheckResult> out;
  if (at_boot.empty()) {
    out.push_back(CheckResult::Pass(id, noauto.empty()
                                            ? "no swap line in /etc/fstab turns swap on at boot"
                                            : "the swap lines in /etc/fstab are noauto (not turned on at boot)"));
  } else {
    std::vector<std::string> refs;
    for (const auto* l : at_boot) refs.push_back(LineRef(*l) + " (" + l->fields[0] + ")");
    auto r = CheckResult::Fail(id, SwapSeverity(in.kubelet),
                               "/etc/fstab turns swap on at boot: " + JoinList(refs) + KubeletNote(in.kubelet));
    auto edit = PlanFileEdit(in.host.files(), "/etc/fstab",
                             [](const std::optional<std::string>& current) -> Result<std::string> {
                               if (!current) return NotFound("/etc/fstab is gone");
                               auto again = ParseFstab(*current);
                               if (!again) return again.error();
                               std::vector<const FstabLine*> off;
                               for (const auto& l : *again)
                                 if (l.IsSwapEntry() && !l.HasOption("noauto")) off.push_back(&l);
                               return CommentOutLines(*current, off);
                             });
    if (!edit) {
      r.hint = "no fix: " + edit.error().message();
    } else {
      Fix fix{std::string(kFixFstabSwap), {}, ""};
      fix.steps.push_back(FixStep::Edit(
          std::move(*edit), "comment out " + std::to_string(at_boot.size()) + " swap line(s) in /etc/fstab"));
      r.fix = std::move(fix);
    }
    out.push_back(std::move(r));
  }
  out.back().detail["swap_lines"] = std::move(swap_lines);
  out.back().detail["noauto"] = std::move(noauto);
  if (!malformed_refs.empty()) {
    auto r = CheckResult::Fail(
        id, malformed_may_be_swap ? SwapSeverity(in.kubelet) : CheckSeverity::kWarning,
        "/etc/fstab has lines that cannot be read: " + JoinList(malformed_refs) + "; they were left as they are",
        malformed_may_be_swap ? "a line that cannot be read says swap: fix or remove it by hand; whether "
                                "swapon -a or systemd-fstab-generator would use it is not certain"
                              : "");
    r.detail["malformed"] = std::move(malformed);
    out.push_back(std::move(r));
  }
  return out;
}

// --- SwapUnits: systemd swap units -----------------------------------------

std::vector<CheckResult> CheckUnits(const CheckInputs& in) {
  const std::string id(kCheckSwapUnits);
  auto scan = ScanSwapUnits(in.host);
  std::vector<std::string> refs;
  nlohmann::json units = nlohmann::json::array(), without_unit_file = nlohmann::json::array();
  Fix fix{std::string(kFixSwapUnits), {}, ""};
  for (const auto& u : scan.units) {
    bool boot = u.StartsAtBoot();
    bool now = u.ActiveNow() && !u.IsMasked();
    if (!boot && !now) continue;
    nlohmann::json j = {{"unit", u.name},
                        {"fragment", u.fragment},
                        {"wanted_by", u.wanted_by},
                        {"unit_file_state", u.unit_file_state},
                        {"active_state", u.active_state}};
    if (!u.HasUnitFile()) {  // a runtime unit for an active device (the swapoff fix's job), or a dangling link
      without_unit_file.push_back(std::move(j));
      continue;
    }
    std::string why = boot ? (u.wanted_by.empty() ? u.unit_file_state : "wanted by " + u.wanted_by.front()) : "";
    if (now) why += std::string(why.empty() ? "" : ", ") + "active";
    refs.push_back(u.name + " (" + why + ")");
    units.push_back(std::move(j));
    // `mask` refuses to replace a unit file in /etc ("already exists"): disable that one.
    std::vector<std::string> argv = {"systemctl", u.DefinedInEtc() ? "disable" : "mask", "--now"};
    if (u.name.front() == '-') argv.push_back("--");  // a name systemctl must not read as an option
    argv.push_back(u.name);
    fix.steps.push_back(FixStep::Run(argv, std::string(u.DefinedInEtc() ? "disable " : "mask ") + u.name));
  }
  std::vector<CheckResult> out;
  if (refs.empty()) {
    out.push_back(CheckResult::Pass(id, "no systemd swap unit starts at boot"));
  } else {
    auto r = CheckResult::Fail(id, SwapSeverity(in.kubelet),
                               "systemd swap units turn swap on: " + JoinList(refs) + KubeletNote(in.kubelet));
    r.fix = std::move(fix);
    out.push_back(std::move(r));
  }
  out.back().detail["units"] = std::move(units);
  out.back().detail["without_unit_file"] = std::move(without_unit_file);
  if (!scan.problems.empty()) {
    auto r =
        ReadProblem(id, "could not read every systemd swap unit: " + JoinList(scan.problems),
                    "the unit directories were still read; check `systemctl list-units --type swap --all` by hand");
    r.detail["problems"] = scan.problems;
    out.push_back(std::move(r));
  }
  return out;
}

// --- SwapZram: zram-generator and zram-tools --------------------------------

std::vector<CheckResult> CheckZram(const CheckInputs& in) {
  const std::string id(kCheckSwapZram);
  auto gen = ReadZramGenerator(in.host.files());
  auto tools = ReadZramTools(in.host.files());
  std::vector<std::string> problems = gen.problems;
  problems.insert(problems.end(), tools.problems.begin(), tools.problems.end());

  std::vector<std::string> refs, to_disable;
  for (const auto* d : gen.SwapAtBoot()) {
    bool ours = std::find(gen.already_off.begin(), gen.already_off.end(), d->name) != gen.already_off.end();
    refs.push_back(d->name + " (zram-generator, from " + JoinList(d->set_in) + ")");
    if (ours) {
      problems.push_back(d->name + ": " + std::string(kZramNoSwapDropIn) +
                         " turns it off, but a later configuration file turns it on again: " + JoinList(d->set_in));
    } else {
      to_disable.push_back(d->name);
    }
  }
  if (tools.StartsAtBoot()) refs.push_back("zramswap.service (zram-tools, wanted by " + tools.wanted_by.front() + ")");

  nlohmann::json devices = nlohmann::json::array();
  for (const auto& d : gen.devices)
    devices.push_back(
        {{"name", d.name}, {"swap", d.swap}, {"created", d.created}, {"why_not", d.why_not}, {"set_in", d.set_in}});
  std::vector<CheckResult> out;
  if (refs.empty()) {
    out.push_back(CheckResult::Pass(id, "no zram swap is set up at boot"));
  } else {
    auto r = CheckResult::Fail(id, SwapSeverity(in.kubelet),
                               "zram swap is set up at boot: " + JoinList(refs) + KubeletNote(in.kubelet));
    Fix fix{std::string(kFixZram), {}, ""};
    if (!to_disable.empty()) {
      auto names = to_disable;
      names.insert(names.end(), gen.already_off.begin(), gen.already_off.end());
      auto edit = PlanFileEdit(
          in.host.files(), std::string(kZramNoSwapDropIn),
          [&](const std::optional<std::string>&) -> Result<std::string> { return ZramNoSwapDropInContent(names); });
      if (edit)
        fix.steps.push_back(FixStep::Edit(std::move(*edit), "zram-generator: no swap on " + JoinList(to_disable)));
      else
        problems.push_back(edit.error().message());
    }
    if (tools.StartsAtBoot())
      fix.steps.push_back(FixStep::Run({"systemctl", "disable", "zramswap.service"}, "disable zramswap.service"));
    if (!fix.steps.empty()) r.fix = std::move(fix);
    out.push_back(std::move(r));
  }
  auto& d = out.back().detail;
  d["generator"] = gen.generator;
  d["generator_masked"] = gen.generator_masked;
  d["kernel_setting"] = gen.kernel_setting;
  d["config_files"] = gen.files;
  d["devices"] = std::move(devices);
  d["zram_tools"] = {{"config", tools.config_present},
                     {"unit", tools.fragment},
                     {"masked", tools.masked},
                     {"wanted_by", tools.wanted_by}};
  if (!problems.empty()) {
    auto r = ReadProblem(id, "zram configuration: " + JoinList(problems));
    r.detail["problems"] = problems;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::vector<CheckResult> CheckSwap(const CheckInputs& in) {
  std::vector<CheckResult> out;
  out.push_back(CheckActiveSwap(in));
  for (auto& r : CheckFstab(in)) out.push_back(std::move(r));
  for (auto& r : CheckUnits(in)) out.push_back(std::move(r));
  for (auto& r : CheckZram(in)) out.push_back(std::move(r));
  return out;
}

}  // namespace nodeagent::join_prep
