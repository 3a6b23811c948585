#include "nm_section.h"

#include "nm_config.h"
#include "nm_devices.h"
#include "nodeagent/plan_objects.h"

namespace nodeagent::calico {

namespace {

constexpr const char* kSubject = "NetworkManager";

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::string DeviceNames(const std::vector<NmDevice>& devices) {
  std::vector<std::string> names;
  for (const auto& d : devices) names.push_back(d.device + " (" + d.state + ")");
  return Join(names);
}

nlohmann::json DevicesJson(const std::vector<NmDevice>& devices) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& d : devices) out.push_back({{"device", d.device}, {"type", d.type}, {"state", d.state}});
  return out;
}

Change ReloadChange() {
  Change c;
  c.kind = "run";
  c.target = "nmcli general reload conf";
  c.description = "make NetworkManager apply unmanaged-devices without a restart";
  c.objects = {CommandObject(ReloadCommand()[0])};
  return c;
}

}  // namespace

NmSectionPlan PlanNmSection(Host& host, const NmSectionOptions& options) {
  NmSectionPlan plan;
  NmState state = ProbeNetworkManager(host);
  plan.data = {{"installed", state.installed}, {"running", state.running}, {"version", state.version},
               {"effective_unmanaged", nlohmann::json::array()}, {"missing", nlohmann::json::array()},
               {"file", nullptr}};
  if (!state.installed || !state.running) {
    plan.findings.push_back({Severity::kInfo, kSubject,
                             state.installed ? "NetworkManager is not running (" + state.why +
                                                   "): it manages no interface, nothing to do"
                                             : "NetworkManager is not installed: nothing to keep off Calico's "
                                               "interfaces"});
    return plan;
  }

  NmConfig config = ReadNmConfig(host.files());
  plan.data["files_read"] = config.files_read;
  plan.data["effective_unmanaged"] = config.unmanaged_devices.value_or(std::vector<std::string>{});
  plan.checks.Ran("nm-config-parse");
  for (const auto& e : config.errors)
    plan.checks.Add(plan.findings, "nm-config-parse",
                    {Severity::kError, e.path + ":" + std::to_string(e.line),
                     "NetworkManager cannot load this file (" + e.message + "); it is left as it is"});
  for (const auto& problem : config.problems)
    plan.checks.Add(plan.findings, "nm-config-parse", {Severity::kWarning, kSubject, problem});

  std::vector<std::string> missing;
  for (const auto& c : CheckCoverage(config, options.specs))
    if (!c.covered) missing.push_back(c.spec);
  plan.data["missing"] = missing;

  auto devices = ReadNmDevices(host);
  std::vector<NmDevice> managed;
  if (devices) {
    managed = ManagedCalicoDevices(*devices, options.specs);
    plan.data["devices"] = DevicesJson(*devices);
    plan.data["managed"] = DevicesJson(managed);
  } else {
    plan.checks.Add(plan.findings, "nm-device-managed",
                    {Severity::kWarning, kSubject, "cannot list NetworkManager's devices: " + devices.error().message()});
  }
  if (!config.ok()) return plan;

  NmFixOptions fix_options;
  fix_options.file_name = options.file_name;
  fix_options.specs = options.specs;
  auto fix = PlanNmFix(host.files(), fix_options);
  if (!fix) {
    plan.checks.Add(plan.findings, "nm-unmanaged-specs", {Severity::kError, kSubject, fix.error().message()});
    return plan;
  }
  plan.data["file"] = fix->path;
  for (const auto& n : fix->notes) plan.findings.push_back({Severity::kInfo, fix->path, n});

  const std::string not_fixed = options.fix ? "" : "; fix_network_manager = false: not fixed";
  plan.checks.Ran("nm-unmanaged-specs");
  if (!missing.empty())
    plan.checks.Add(plan.findings, "nm-unmanaged-specs",
                    {Severity::kError, kSubject,
                     "NetworkManager would manage Calico's interfaces (" + Join(missing) + ")" + not_fixed});
  if (devices) plan.checks.Ran("nm-device-managed");
  if (!managed.empty())
    plan.checks.Add(plan.findings, "nm-device-managed",
                    {Severity::kError, kSubject,
                     "NetworkManager manages Calico's devices now: " + DeviceNames(managed) + not_fixed});
  if (!options.fix) return plan;

  if (fix->edit) {
    plan.edit = fix->edit;
    plan.changes.push_back(FileEditChange(*fix->edit, "keep NetworkManager off Calico's interfaces"));
  }
  // Reload when the file changes, or when the files already say so and
  // NetworkManager has not taken them yet.
  if (fix->edit || !managed.empty()) {
    plan.reload = true;
    plan.changes.push_back(ReloadChange());
    if (devices) {
      auto down = DevicesTakenDownByUnmanage(*devices, options.specs);
      if (!down.empty())
        plan.findings.push_back({Severity::kWarning, kSubject,  // a consequence of the fix, not a check
                                 "NetworkManager configured " + DeviceNames(down) +
                                     " itself: when it lets go it removes their addresses and sets them down; "
                                     "calico-node (or the pod's recreation) brings them back"});
    }
  }
  return plan;
}

void ApplyNmSection(Host& host, const NmSectionOptions& options, const NmSectionPlan& plan, Outcome& out,
                    const bool* cancelled) {
  if (plan.edit) {
    Status st = ApplyFileEdit(host.files(), *plan.edit);
    if (!st.ok()) {
      out.findings.push_back({Severity::kError, plan.edit->path, "not written: " + st.error().message()});
      return;
    }
    out.changes.push_back(FileEditChange(*plan.edit, "keep NetworkManager off Calico's interfaces"));
  }
  if (!plan.reload) return;
  if (Status st = ReloadNetworkManager(host); !st.ok()) {
    out.findings.push_back({Severity::kError, kSubject,
                            "the drop-in is written but the reload failed: " + st.error().message() +
                                "; run `nmcli general reload conf` or restart NetworkManager"});
    return;
  }
  out.changes.push_back(ReloadChange());
  auto waited = WaitUnmanaged(host, options.specs, options.settle_timeout, std::chrono::milliseconds(200), cancelled);
  if (!waited) {
    out.findings.push_back({Severity::kError, kSubject, "after the reload: " + waited.error().message()});
  } else if (!waited->still_managed.empty()) {
    out.findings.push_back({Severity::kError, kSubject,
                            "after the reload NetworkManager still manages " + DeviceNames(waited->still_managed) +
                                " (waited " + std::to_string(waited->waited.count()) +
                                " ms); restart NetworkManager to apply it"});
  }
}

}  // namespace nodeagent::calico
