// calico_network_nm: the NetworkManager part of calico-network on this host,
// without the agent: reads NetworkManager's configuration (nm_config.h),
// plans the conf.d drop-in (PlanNmFix), and with --apply writes it
// (ApplyFileEdit, backup kept), runs `nmcli general reload conf` when the
// file changed, and waits until every present Calico device is `unmanaged`
// (nm_devices.h). Prints one JSON object. For tests/system/calico_nm.sh and
// for trying the fix on a node by hand.
//
//   calico_network_nm [--apply] [--file NAME] [--spec SPEC]... [--root DIR] [--wait-ms N]
//   exit 0: NetworkManager absent, or every present Calico device unmanaged
//        (after --apply) / nothing to change (without it); 1: something left
//        to do or a step failed ("error"); 2: bad arguments
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "host/local_host.h"
#include "network_manager/nm_config.h"
#include "network_manager/nm_devices.h"
#include "nodeagent/file_edit.h"

using namespace nodeagent;
using namespace nodeagent::calico;

namespace {

int Usage(const std::string& why) {
  std::fprintf(stderr,
               "calico_network_nm: %s\nusage: calico_network_nm [--apply] [--file NAME] [--spec SPEC]... "
               "[--root DIR] [--wait-ms N]\n",
               why.c_str());
  return 2;
}

nlohmann::json DevicesJson(const std::vector<NmDevice>& devices) {
  auto out = nlohmann::json::array();
  for (const auto& d : devices) out.push_back({{"device", d.device}, {"type", d.type}, {"state", d.state}});
  return out;
}

int Print(const nlohmann::json& out, int code) {
  std::printf("%s\n", out.dump(2).c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  bool apply = false;
  std::string root = "/";
  long wait_ms = 10000;
  NmFixOptions options;
  bool specs_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--apply") {
      apply = true;
      continue;
    }
    if (i + 1 >= argc) return Usage(arg + " needs a value");
    std::string value = argv[++i];
    if (arg == "--file") {
      options.file_name = value;
    } else if (arg == "--spec") {
      if (!specs_given) options.specs.clear();
      specs_given = true;
      options.specs.push_back(value);
    } else if (arg == "--root") {
      root = value;
    } else if (arg == "--wait-ms") {
      try {
        wait_ms = std::stol(value);
      } catch (...) {
        return Usage("--wait-ms needs a number");
      }
    } else {
      return Usage("unknown argument " + arg);
    }
  }

  RealHost host(root);
  nlohmann::json out;
  NmState state = ProbeNetworkManager(host);
  out["network_manager"] = {
      {"installed", state.installed}, {"running", state.running}, {"version", state.version}, {"why", state.why}};
  if (!state.running) return Print(out, 0);  // nothing to keep off: not an error

  NmConfig config = ReadNmConfig(host.files(), options.layout);
  out["effective_unmanaged"] = config.unmanaged_devices ? nlohmann::json(*config.unmanaged_devices) : nlohmann::json();
  out["files_read"] = config.files_read;
  auto missing = nlohmann::json::array();
  for (const auto& c : CheckCoverage(config, options.specs))
    if (!c.covered) missing.push_back(c.spec);
  out["missing"] = missing;

  auto before = ReadNmDevices(host);
  if (!before) {
    out["error"] = before.error().ToString();
    return Print(out, 1);
  }
  out["devices_before"] = DevicesJson(*before);
  out["managed_before"] = DevicesJson(ManagedCalicoDevices(*before, options.specs));
  out["taken_down_by_unmanage"] = DevicesJson(DevicesTakenDownByUnmanage(*before, options.specs));

  auto plan = PlanNmFix(host.files(), options);
  if (!plan) {
    out["error"] = plan.error().ToString();
    return Print(out, 1);
  }
  out["file"] = plan->path;
  out["plan"] = {{"notes", plan->notes}, {"changes", nlohmann::json::array()}};
  if (plan->edit) {
    Change change = FileEditChange(*plan->edit, "keep NetworkManager off Calico's interfaces");
    out["plan"]["changes"].push_back({{"kind", change.kind}, {"target", change.target}, {"diff", change.diff}});
    std::string reload;
    for (const auto& a : ReloadCommand()) reload += (reload.empty() ? "" : " ") + a;
    out["plan"]["changes"].push_back({{"kind", "run"}, {"target", reload}, {"diff", ""}});
  }
  if (!apply) {
    bool clean = !plan->edit && ManagedCalicoDevices(*before, options.specs).empty();
    return Print(out, clean ? 0 : 1);
  }

  out["applied"] = false;
  out["reloaded"] = false;
  if (plan->edit) {
    if (auto st = ApplyFileEdit(host.files(), *plan->edit); !st) {
      out["error"] = st.error().ToString();
      return Print(out, 1);
    }
    out["applied"] = true;
    if (auto st = ReloadNetworkManager(host); !st) {
      out["error"] = st.error().ToString();
      return Print(out, 1);
    }
    out["reloaded"] = true;
  }
  auto waited = WaitUnmanaged(host, options.specs, std::chrono::milliseconds(wait_ms));
  if (!waited) {
    out["error"] = waited.error().ToString();
    return Print(out, 1);
  }
  out["devices_after"] = DevicesJson(waited->devices);
  out["still_managed"] = DevicesJson(waited->still_managed);
  out["waited_ms"] = waited->waited.count();
  return Print(out, waited->still_managed.empty() ? 0 : 1);
}
