// The NetworkManager part of calico-network, from question to outcome: is
// NetworkManager running (nm_devices.h), which Calico interfaces would it
// manage under its merged configuration (nm_config.h), which devices does it
// manage now; then the plan (our drop-in's diff, the reload) and, in Apply,
// the write, the reload and the wait until every present Calico device is
// unmanaged. Findings and the `data.network_manager` object of -o json come
// from here, so the action only strings the parts together.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calico_checks.h"
#include "nodeagent/action.h"
#include "nodeagent/file_edit.h"

namespace nodeagent::calico {

struct NmSectionOptions {
  std::vector<std::string> specs;
  std::string file_name = "calico.conf";
  bool fix = true;
  std::chrono::milliseconds settle_timeout{std::chrono::seconds(15)};
};

/// What MakePlan found, kept for Apply.
struct NmSectionPlan {
  std::vector<Finding> findings;
  std::vector<Change> changes;
  nlohmann::json data = nlohmann::json::object();
  std::optional<FileEdit> edit;  ///< the drop-in, when it must change
  bool reload = false;           ///< `nmcli general reload conf` after it
  CheckTally checks;             ///< nm-config-parse, nm-unmanaged-specs, nm-device-managed (as far as they ran)
};

/// Read-only. data: {installed, running, version, effective_unmanaged,
/// missing, file, files_read, devices: [{device,type,state}], managed: [...]}.
/// A missing spec or a managed Calico device is an error (fixed by the plan
/// when `fix`); NetworkManager absent or stopped is an info and nothing else.
NmSectionPlan PlanNmSection(Host& host, const NmSectionOptions& options);

/// Writes the drop-in (atomically, with a backup), reloads, waits for the
/// devices. Appends what it changed and any failure to `out`.
void ApplyNmSection(Host& host, const NmSectionOptions& options, const NmSectionPlan& plan, Outcome& out,
                    const bool* cancelled);

}  // namespace nodeagent::calico
