#include "runner/apply_phase_guard.h"

#include "runner/forwarding_file_system.h"
#include "runner/forwarding_kube_client.h"

namespace nodeagent {

void PlanContract::Enforce(PlanObjects objects) {
  objects_ = std::move(objects);
  enforcing_ = true;
}

Status PlanContract::Check(const std::string& object, const std::string& doing) {
  if (!enforcing_ || objects_.Covers(object)) return Status::Ok();
  ++refusals_;
  std::string message = "not in the plan: " + object + " (" + doing +
                        "; in the apply phase an action may change only what its plan's changes name in "
                        "Change::objects)";
  if (report_) report_(message);
  return Error(ErrorCode::kPermissionDenied, message);
}

class ApplyPhaseHost::Files : public ForwardingFileSystem {
 public:
  Files(FileSystem& inner, PlanContract& contract) : ForwardingFileSystem(inner), contract_(contract) {}
  Status Chmod(std::string_view p, mode_t mode) override {
    if (Status st = contract_.Check(FileObject(p), "changing the mode of " + std::string(p)); !st.ok()) return st;
    return inner().Chmod(p, mode);
  }
  Status WriteInPlace(std::string_view p, std::string_view content) override {
    if (Status st = contract_.Check(FileObject(p), "writing " + std::string(p) + " in place"); !st.ok()) return st;
    return inner().WriteInPlace(p, content);
  }
  // The backup a write keeps and the parents it creates come with the planned file.
  Status WriteFileAtomic(std::string_view p, std::string_view content, mode_t mode,
                         std::optional<std::string> backup_suffix) override {
    if (Status st = contract_.Check(FileObject(p), "writing " + std::string(p)); !st.ok()) return st;
    return inner().WriteFileAtomic(p, content, mode, std::move(backup_suffix));
  }
  Status MakeDirs(std::string_view p, mode_t mode) override {
    if (Status st = contract_.Check(FileObject(p), "creating directory " + std::string(p)); !st.ok()) return st;
    return inner().MakeDirs(p, mode);
  }
  Status Remove(std::string_view p) override {
    if (Status st = contract_.Check(FileObject(p), "removing " + std::string(p)); !st.ok()) return st;
    return inner().Remove(p);
  }

 private:
  PlanContract& contract_;
};

class ApplyPhaseHost::Commands : public CommandRunner {
 public:
  Commands(CommandRunner& inner, PlanContract& contract) : inner_(inner), contract_(contract) {}
  Result<CommandResult> Run(const CommandSpec& spec) override {
    if (!spec.read_only) {
      std::string program = spec.argv.empty() ? "" : spec.argv[0];
      if (Status st = contract_.Check(CommandObject(program), "running " + program + ", not marked read_only");
          !st.ok())
        return st.error();
    }
    return inner_.Run(spec);
  }

 private:
  CommandRunner& inner_;
  PlanContract& contract_;
};

ApplyPhaseHost::ApplyPhaseHost(Host& inner, PlanContract& contract)
    : ForwardingHost(inner), files_(std::make_unique<Files>(inner.files(), contract)),
      commands_(std::make_unique<Commands>(inner.commands(), contract)) {}
ApplyPhaseHost::~ApplyPhaseHost() = default;
FileSystem& ApplyPhaseHost::files() { return *files_; }
CommandRunner& ApplyPhaseHost::commands() { return *commands_; }

namespace {

std::string LeaseName(const nlohmann::json& lease) {
  const auto* name = lease.is_object() && lease.contains("metadata") && lease["metadata"].is_object()
                         ? &lease["metadata"]
                         : nullptr;
  return name && name->contains("name") && (*name)["name"].is_string() ? (*name)["name"].get<std::string>() : "";
}

// Reads pass, and so do Events: they report on the run (like its log) and
// change nothing.
class ContractKube : public ForwardingKubeClient {
 public:
  ContractKube(std::unique_ptr<KubeClient> inner, PlanContract& contract)
      : ForwardingKubeClient(std::move(inner)), contract_(contract) {}

  // Any resource: reads pass; a write is checked by the object its path
  // names (KubeObjectForRequest). Events are reports, as CreateEvent.
  KubeResult<nlohmann::json> Request(const KubeRequest& r) override {
    if (!IsReadOnlyMethod(r.method)) {
      std::string object = KubeObjectForRequest(r.path, r.body);
      if (object.rfind("kube:events/", 0) != 0) {
        if (Status st = contract_.Check(object, r.method + " " + r.path); !st.ok()) return st.error();
      }
    }
    return inner().Request(r);
  }
  KubeResult<nlohmann::json> PatchNode(const std::string& name, const nlohmann::json& patch, PatchType t) override {
    if (Status st = contract_.Check(KubeObject("nodes", "", name), "patching node " + name); !st.ok())
      return st.error();
    return inner().PatchNode(name, patch, t);
  }
  KubeResult<nlohmann::json> DeletePod(const std::string& ns, const std::string& name,
                                       const DeleteOptions& o) override {
    if (Status st = contract_.Check(KubeObject("pods", ns, name), "deleting pod " + ns + "/" + name); !st.ok())
      return st.error();
    return inner().DeletePod(ns, name, o);
  }
  KubeResult<nlohmann::json> EvictPod(const std::string& ns, const std::string& name,
                                      const DeleteOptions& o) override {
    if (Status st = contract_.Check(KubeObject("pods", ns, name), "evicting pod " + ns + "/" + name); !st.ok())
      return st.error();
    return inner().EvictPod(ns, name, o);
  }
  KubeResult<nlohmann::json> CreateLease(const std::string& ns, const nlohmann::json& lease) override {
    std::string name = LeaseName(lease);
    if (Status st = contract_.Check(KubeObject("leases", ns, name), "creating lease " + ns + "/" + name); !st.ok())
      return st.error();
    return inner().CreateLease(ns, lease);
  }
  KubeResult<nlohmann::json> UpdateLease(const std::string& ns, const nlohmann::json& lease) override {
    std::string name = LeaseName(lease);
    if (Status st = contract_.Check(KubeObject("leases", ns, name), "updating lease " + ns + "/" + name); !st.ok())
      return st.error();
    return inner().UpdateLease(ns, lease);
  }
  KubeResult<nlohmann::json> DeleteLease(const std::string& ns, const std::string& name,
                                         const std::string& rv) override {
    if (Status st = contract_.Check(KubeObject("leases", ns, name), "deleting lease " + ns + "/" + name); !st.ok())
      return st.error();
    return inner().DeleteLease(ns, name, rv);
  }
  KubeResult<nlohmann::json> PatchDaemonSet(const std::string& ns, const std::string& name,
                                            const nlohmann::json& patch, PatchType t) override {
    if (Status st = contract_.Check(KubeObject("daemonsets", ns, name), "patching daemonset " + ns + "/" + name);
        !st.ok())
      return st.error();
    return inner().PatchDaemonSet(ns, name, patch, t);
  }

 private:
  PlanContract& contract_;
};

}  // namespace

std::unique_ptr<KubeClient> ApplyGuardKubeClient(std::unique_ptr<KubeClient> inner, PlanContract& contract) {
  return std::make_unique<ContractKube>(std::move(inner), contract);
}

}  // namespace nodeagent
