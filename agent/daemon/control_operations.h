// The daemon's control protocol as one table: every op agentctl (or a script)
// may send, the access it needs, and the ControlHandlers method that answers
// it. Read ops are open to root and the `nodeagent` group; everything that
// changes the node, runs plugin code (a dry run too: it executes a plugin as
// root with the caller's parameters) or reloads the config is root's alone.
// Adding an op is adding a row and a method.
#pragma once

#include <memory>
#include <vector>

#include "daemon/control_dispatcher.h"

namespace nodeagent {

/// What answers each op; the daemon implements it, tests fake it. Each method
/// answers on `out` as ControlHandler says.
class ControlHandlers {
 public:
  virtual ~ControlHandlers() = default;
  using Out = std::shared_ptr<ReplyStream>;
  virtual void OnPing(const ControlRequest& req, const Out& out) = 0;
  virtual void OnStatus(const ControlRequest& req, const Out& out) = 0;
  virtual void OnList(const ControlRequest& req, const Out& out) = 0;
  virtual void OnDescribe(const ControlRequest& req, const Out& out) = 0;
  virtual void OnHistory(const ControlRequest& req, const Out& out) = 0;
  virtual void OnLogs(const ControlRequest& req, const Out& out) = 0;  // one run's record with its log
  virtual void OnAudit(const ControlRequest& req, const Out& out) = 0;  // the audit trail, filtered
  virtual void OnConfigShow(const ControlRequest& req, const Out& out) = 0;
  virtual void OnReload(const ControlRequest& req, const Out& out) = 0;
  virtual void OnCancel(const ControlRequest& req, const Out& out) = 0;
  virtual void OnRun(const ControlRequest& req, const Out& out) = 0;
};

/// The table, with `handlers` (which must outlive it) behind each row.
std::vector<ControlOperation> ControlOperations(ControlHandlers& handlers);

}  // namespace nodeagent
