#include "runner/plan_phase_guard.h"

#include "runner/forwarding_file_system.h"
#include "runner/forwarding_kube_client.h"

namespace nodeagent {

namespace {

Error Refused(const std::string& what) {
  return Error(ErrorCode::kPermissionDenied,
               "refused while planning: " + what +
                   " (a plan only looks; dry runs and demo mode must change nothing, so this belongs in Apply)");
}

std::string Argv(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

class PlanPhaseHost::Files : public ForwardingFileSystem {
 public:
  Files(FileSystem& inner, const PlanPhaseFlag& planning) : ForwardingFileSystem(inner), planning_(planning) {}
  Status WriteFileAtomic(std::string_view p, std::string_view content, mode_t mode,
                         std::optional<std::string> backup_suffix) override {
    if (planning_) return Refused("writing " + std::string(p));
    return inner().WriteFileAtomic(p, content, mode, std::move(backup_suffix));
  }
  Status MakeDirs(std::string_view p, mode_t mode) override {
    if (planning_) return Refused("creating directory " + std::string(p));
    return inner().MakeDirs(p, mode);
  }
  Status Remove(std::string_view p) override {
    if (planning_) return Refused("removing " + std::string(p));
    return inner().Remove(p);
  }
  Status Chmod(std::string_view p, mode_t mode) override {
    if (planning_) return Refused("chmod " + std::string(p));
    return inner().Chmod(p, mode);
  }
  Status WriteInPlace(std::string_view p, std::string_view content) override {
    if (planning_) return Refused("writing " + std::string(p) + " in place");
    return inner().WriteInPlace(p, content);
  }

 private:
  const PlanPhaseFlag& planning_;
};

class PlanPhaseHost::Commands : public CommandRunner {
 public:
  Commands(CommandRunner& inner, const PlanPhaseFlag& planning) : inner_(inner), planning_(planning) {}
  Result<CommandResult> Run(const CommandSpec& spec) override {
    if (planning_ && !spec.read_only)
      return Refused("running `" + Argv(spec.argv) + "`, which is not marked read_only");
    return inner_.Run(spec);
  }

 private:
  CommandRunner& inner_;
  const PlanPhaseFlag& planning_;
};

PlanPhaseHost::PlanPhaseHost(Host& inner, const PlanPhaseFlag& planning)
    : ForwardingHost(inner), files_(std::make_unique<Files>(inner.files(), planning)),
      commands_(std::make_unique<Commands>(inner.commands(), planning)) {}
PlanPhaseHost::~PlanPhaseHost() = default;
FileSystem& PlanPhaseHost::files() { return *files_; }
CommandRunner& PlanPhaseHost::commands() { return *commands_; }

namespace {

// Reads, watches and access reviews (a question; nothing stays) pass.
class GuardedKube : public ForwardingKubeClient {
 public:
  GuardedKube(std::unique_ptr<KubeClient> inner, const PlanPhaseFlag& planning)
      : ForwardingKubeClient(std::move(inner)), planning_(planning) {}

  // Only GET reads; the method and path name what was refused (the body,
  // which may hold a Secret's data, does not).
  KubeResult<nlohmann::json> Request(const KubeRequest& r) override {
    if (planning_ && !IsReadOnlyMethod(r.method)) return Refused(r.method + " " + r.path);
    return inner().Request(r);
  }
  KubeResult<nlohmann::json> PatchNode(const std::string& name, const nlohmann::json& patch, PatchType t) override {
    if (planning_) return Refused("patching node/" + name);
    return inner().PatchNode(name, patch, t);
  }
  KubeResult<nlohmann::json> DeletePod(const std::string& ns, const std::string& name,
                                       const DeleteOptions& o) override {
    if (planning_) return Refused("deleting pod/" + ns + "/" + name);
    return inner().DeletePod(ns, name, o);
  }
  KubeResult<nlohmann::json> EvictPod(const std::string& ns, const std::string& name,
                                      const DeleteOptions& o) override {
    if (planning_) return Refused("evicting pod/" + ns + "/" + name);
    return inner().EvictPod(ns, name, o);
  }
  KubeResult<nlohmann::json> CreateLease(const std::string& ns, const nlohmann::json& lease) override {
    if (planning_) return Refused("creating a lease in " + ns);
    return inner().CreateLease(ns, lease);
  }
  KubeResult<nlohmann::json> UpdateLease(const std::string& ns, const nlohmann::json& lease) override {
    if (planning_) return Refused("updating a lease in " + ns);
    return inner().UpdateLease(ns, lease);
  }
  KubeResult<nlohmann::json> DeleteLease(const std::string& ns, const std::string& name,
                                         const std::string& rv) override {
    if (planning_) return Refused("deleting lease/" + ns + "/" + name);
    return inner().DeleteLease(ns, name, rv);
  }
  KubeResult<nlohmann::json> CreateEvent(const EventSpec& e) override {
    if (planning_) return Refused("creating event " + e.reason);
    return inner().CreateEvent(e);
  }
  KubeResult<nlohmann::json> PatchDaemonSet(const std::string& ns, const std::string& name,
                                            const nlohmann::json& patch, PatchType t) override {
    if (planning_) return Refused("patching daemonset/" + ns + "/" + name);
    return inner().PatchDaemonSet(ns, name, patch, t);
  }

 private:
  const PlanPhaseFlag& planning_;
};

class GuardedHttp : public HttpClient {
 public:
  GuardedHttp(std::unique_ptr<HttpClient> inner, const PlanPhaseFlag& planning)
      : inner_(std::move(inner)), planning_(planning) {}
  Result<HttpResponse> Send(const HttpRequest& r) override {
    if (planning_ && r.method != "GET") return Refused(r.method + " to " + RedactUrl(r.url));
    return inner_->Send(r);
  }

 private:
  std::unique_ptr<HttpClient> inner_;
  const PlanPhaseFlag& planning_;
};

}  // namespace

std::unique_ptr<KubeClient> GuardKubeClient(std::unique_ptr<KubeClient> inner, const PlanPhaseFlag& planning) {
  return std::make_unique<GuardedKube>(std::move(inner), planning);
}
std::unique_ptr<HttpClient> GuardHttpClient(std::unique_ptr<HttpClient> inner, const PlanPhaseFlag& planning) {
  return std::make_unique<GuardedHttp>(std::move(inner), planning);
}

}  // namespace nodeagent
