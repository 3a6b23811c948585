#include "daemon/control_operations.h"

namespace nodeagent {

std::vector<ControlOperation> ControlOperations(ControlHandlers& h) {
  using M = void (ControlHandlers::*)(const ControlRequest&, const ControlHandlers::Out&);
  auto row = [&h](const char* op, Access access, M method) {
    return ControlOperation{op, access, [&h, method](const ControlRequest& req, const ControlHandlers::Out& out) {
                              (h.*method)(req, out);
                            }};
  };
  return {
      row("ping", Access::kRead, &ControlHandlers::OnPing),
      row("status", Access::kRead, &ControlHandlers::OnStatus),
      row("list", Access::kRead, &ControlHandlers::OnList),
      row("describe", Access::kRead, &ControlHandlers::OnDescribe),
      row("history", Access::kRead, &ControlHandlers::OnHistory),
      row("logs", Access::kRead, &ControlHandlers::OnLogs),
      // Read like history: the trail holds no secret (scrubbed before it is written).
      row("audit", Access::kRead, &ControlHandlers::OnAudit),
      // `logs` under another name; it was never in the read list, so it stays root's.
      row("get", Access::kChange, &ControlHandlers::OnLogs),
      row("config-show", Access::kRead, &ControlHandlers::OnConfigShow),
      row("reload", Access::kChange, &ControlHandlers::OnReload),
      row("cancel", Access::kChange, &ControlHandlers::OnCancel),
      row("run", Access::kChange, &ControlHandlers::OnRun),
  };
}

}  // namespace nodeagent
