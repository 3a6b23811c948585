// The core's hooks for the audit trail (audit/audit_log.h): decorators around
// a run's host (file writes, removals, mode changes, directories, commands not
// marked read_only) and its Kubernetes client (every call but a read) that
// record each change as it happens, with what no plugin can be trusted to
// report: the path with the SHA-256 of the file before and after, the argv
// and exit code, the verb, resource and name with the HTTP status of a
// failure. They sit innermost, under the phase guards, so a refused call is
// not a change and is not recorded, and the core's own calls (events) are.
// What no hook sees (log-cleanup's own unlinkat, an exec plugin's process)
// is recorded from the changes the outcome reports. Every string passes
// through the run's SecretScrubber first.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "nodeagent/action.h"
#include "nodeagent/host.h"
#include "nodeagent/kube.h"
#include "runner/secret_scrubber.h"
#include "runner/forwarding_host.h"

namespace nodeagent {

/// One run's side of the audit log: the identity every entry carries, the
/// clock, the scrubber. Safe from several threads (the log locks).
class RunAuditTrail {
 public:
  /// Called with the error of an append that failed (the run logs it).
  using ErrorReporter = std::function<void(const std::string& message)>;
  /// `log`, `clock` and `scrubber` must outlive this. `identity` gives run_id,
  /// action, task and node.
  RunAuditTrail(AuditLog& log, Clock& clock, const SecretScrubber& scrubber, AuditEntry identity,
                ErrorReporter on_error = {});

  /// Scrubs `detail` and `error`, stamps the time and appends.
  void Record(AuditKind kind, std::string op, nlohmann::json detail, std::string error = "",
              bool reported_by_action = false);
  /// Like Record for changes the action reports after the fact, kind by
  /// kind, appended together with one sync (AuditLog::AppendMany).
  struct Reported {
    AuditKind kind;
    std::string op;
    nlohmann::json detail;
  };
  void RecordReported(std::vector<Reported> changes);
  /// Appends that failed so far.
  int failures() const { return failures_; }
  /// Whether a hook recorded a successful change of `object` (in the forms
  /// of Change::objects: "file:/etc/x", "command:/usr/bin/x", "kube:nodes/n1").
  bool Saw(const std::string& object) const;

 private:
  AuditLog& log_;
  Clock& clock_;
  const SecretScrubber& scrubber_;
  AuditEntry identity_;
  ErrorReporter on_error_;
  std::atomic<int> failures_{0};
  mutable std::mutex mu_;
  std::set<std::string> seen_;
};

/// `inner` with every change recorded in `trail` (both must outlive it).
class AuditingHost : public ForwardingHost {
 public:
  AuditingHost(Host& inner, RunAuditTrail& trail);
  ~AuditingHost() override;

  FileSystem& files() override;
  CommandRunner& commands() override;

 private:
  class Files;
  class Commands;
  std::unique_ptr<Files> files_;
  std::unique_ptr<Commands> commands_;
};

/// `inner` with every call but a read recorded in `trail` (which must
/// outlive it): verb, method, resource, namespace, name, subresource, and
/// the HTTP status when it failed. Access reviews (CheckAccess) ask and
/// change nothing: not recorded. Owns `inner`.
std::unique_ptr<KubeClient> AuditKubeClient(std::unique_ptr<KubeClient> inner, RunAuditTrail& trail);

/// Records, as reported by the action, each change of `changes` that names
/// an object no hook saw change (Saw): its kind, target and objects; the
/// entry's kind is the first object's prefix (file:, command:, kube:).
void RecordReportedChanges(const std::vector<Change>& changes, RunAuditTrail& trail);

/// What a Kubernetes API path names: group, resource, namespace, name,
/// subresource ("/api/v1/namespaces/ns/pods/web/eviction" -> "", "pods",
/// "ns", "web", "eviction"). A path outside /api and /apis gives {"path": ...}.
nlohmann::json KubePathFields(std::string_view path);

}  // namespace nodeagent
