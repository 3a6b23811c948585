#include "runtime/runtime_check.h"

#include "join_options.h"
#include "runtime/cgroup_driver.h"
#include "runtime/cri_socket.h"

namespace nodeagent::join_prep {
namespace {

struct ChosenSocket {
  std::string path;  ///< host path as named ("" when none)
  RuntimeKind kind = RuntimeKind::kUnknown;
};

bool IsSocketAt(const FileSystem& files, const std::string& path) {
  auto resolved = ResolveLinks(files, path);
  if (!resolved) return false;
  auto st = files.Lstat(*resolved);
  return st && st->type == FileType::kSocket;
}

// kubeadm's choice: the named socket, else the one known socket present.
CheckResult ChooseSocket(const CheckInputs& in, ChosenSocket* chosen) {
  const FileSystem& files = in.host.files();
  if (!in.options.cri_socket.empty()) {
    std::string path = SocketPathOf(in.options.cri_socket);
    if (path.empty())
      return CheckResult::Fail("CRI", CheckSeverity::kError,
                               "cri_socket \"" + in.options.cri_socket + "\" is not a unix:// endpoint or an absolute path");
    chosen->path = path;
    chosen->kind = KindOfSocket(path);
    return CheckResult::Pass("CRI");
  }
  std::vector<const KnownSocket*> found;
  for (const auto& k : kKnownCriSockets)
    if (IsSocketAt(files, std::string(k.path))) found.push_back(&k);
  if (found.empty()) {
    std::string tried;
    for (const auto& k : kKnownCriSockets) tried += (tried.empty() ? "" : ", ") + std::string(k.path);
    return CheckResult::Fail("CRI", CheckSeverity::kError, "no container runtime socket found (looked for " + tried + ")",
                             "install and start containerd or CRI-O, or set cri_socket");
  }
  if (found.size() > 1) {
    std::string list;
    for (auto* k : found) list += (list.empty() ? "unix://" : ", unix://") + std::string(k->path);
    return CheckResult::Fail("CRI", CheckSeverity::kError, "found multiple CRI endpoints on the host: " + list,
                             "set cri_socket to the one the kubelet should use (kubeadm refuses to choose too)");
  }
  chosen->path = std::string(found[0]->path);
  chosen->kind = found[0]->kind;
  return CheckResult::Pass("CRI");
}

CheckResult CheckCri(const CheckInputs& in, ChosenSocket* chosen) {
  CheckResult r = ChooseSocket(in, chosen);
  if (r.status != CheckStatus::kPass) return r;
  const FileSystem& files = in.host.files();
  nlohmann::json detail = {{"socket", chosen->path}, {"runtime", RuntimeKindName(chosen->kind)}};
  auto resolved = ResolveLinks(files, chosen->path);
  if (!resolved) {
    r = CheckResult::Fail("CRI", CheckSeverity::kError, chosen->path + ": " + resolved.error().message());
    r.detail = detail;
    return r;
  }
  auto st = files.Lstat(*resolved);
  if (!st || st->type != FileType::kSocket) {
    std::string what = !st ? (st.error().code() == ErrorCode::kNotFound ? "does not exist" : st.error().message())
                           : "is not a socket";
    r = CheckResult::Fail("CRI", CheckSeverity::kError, chosen->path + " " + what,
                          std::string("start the runtime (systemctl start ") + RuntimeKindName(chosen->kind) + ")");
    r.detail = detail;
    return r;
  }
  SocketAnswer a = AskRuntime(in.host, *resolved, in.options.connect_timeout);
  detail["how"] = a.answered ? a.how : a.problem;
  if (!a.answered) {
    r = CheckResult::Fail("CRI", CheckSeverity::kError, "container runtime is not running: " + a.problem);
    r.detail = detail;
    return r;
  }
  r = CheckResult::Pass("CRI", std::string(RuntimeKindName(chosen->kind)) + " answers on " + chosen->path + " (" + a.how + ")");
  r.detail = detail;
  return r;
}

// containerd 2.x takes config version 3; 1.x only 2. For a config we create.
int ContainerdConfigVersion(Host& host) {
  CommandSpec spec;
  spec.argv = {"containerd", "--version"};
  spec.read_only = true;
  spec.timeout = std::chrono::seconds(10);
  auto r = host.commands().Run(spec);
  if (!r || !r->succeeded()) return 2;
  // "containerd github.com/containerd/containerd/v2 v2.0.2 c507a0257..." / "containerd containerd.io 1.7.24 ..."
  const std::string& out = r->stdout_data;
  for (size_t i = 0; i + 2 < out.size(); ++i) {
    bool start = i == 0 || out[i - 1] == ' ';
    size_t j = i + (out[i] == 'v' ? 1 : 0);
    if (start && j + 1 < out.size() && isdigit(static_cast<unsigned char>(out[j])) && out[j + 1] == '.')
      return out[j] >= '2' ? 3 : 2;
  }
  return 2;
}

CheckResult CheckContainerdCgroup(const CheckInputs& in, const std::string& want) {
  FileSystem& files = in.host.files();
  std::optional<std::string> text;
  auto read = files.ReadFile(kContainerdConfig);
  if (read) {
    text = *read;
  } else if (read.error().code() != ErrorCode::kNotFound) {
    return CheckResult::Fail("CgroupDriver", CheckSeverity::kError,
                             std::string(kContainerdConfig) + ": " + read.error().message());
  }
  RuntimeCgroup rc = ContainerdCgroup(text);
  nlohmann::json detail = {{"runtime", "containerd"}, {"kubelet", want}, {"kubelet_source", in.kubelet.known ? in.kubelet.source : "kubelet default"},
                           {"runtime_driver", rc.driver}, {"runtime_source", rc.source}};
  if (!rc.cri_disabled.empty()) detail["cri_disabled"] = rc.cri_disabled;
  if (!rc.problem.empty()) {
    auto r = CheckResult::Fail("CgroupDriver", CheckSeverity::kError, rc.problem,
                               "set SystemdCgroup = " + std::string(want == "systemd" ? "true" : "false") +
                                   " in the runc options table by hand");
    r.detail = detail;
    return r;
  }
  std::string note = rc.note.empty() ? "" : " (" + rc.note + ")";
  if (rc.driver == want) {
    auto r = CheckResult::Pass("CgroupDriver", "containerd and the kubelet both use " + want + " (" + rc.source + ")" + note);
    r.detail = detail;
    return r;
  }
  auto r = CheckResult::Fail("CgroupDriver", CheckSeverity::kError,
                             "containerd uses " + rc.driver + " (" + rc.source + ") but the kubelet uses " + want +
                                 (in.kubelet.known ? " (" + in.kubelet.source + ")" : " (its default)") + note);
  r.detail = detail;
  int new_version = text ? 0 : ContainerdConfigVersion(in.host);
  std::string why;
  auto edited = EditContainerdCgroup(text, want == "systemd", new_version, &why);
  if (!edited) {
    r.hint = why;
    return r;
  }
  FileEdit edit;
  edit.path = std::string(kContainerdConfig);
  edit.before = text;
  edit.after = *edited;
  edit.mode = 0644;
  std::string value = want == "systemd" ? "true" : "false";
  r.fix = Fix{std::string(kFixCgroupDriver),
              {FixStep::Edit(edit, "SystemdCgroup = " + value), FixStep::Run({"systemctl", "restart", "containerd"},
                                                                               "restart containerd to take the new cgroup driver")},
              ""};
  return r;
}

CheckResult CheckCrioCgroup(const CheckInputs& in, const std::string& want) {
  RuntimeCgroup rc = CrioCgroup(in.host.files());
  nlohmann::json detail = {{"runtime", "cri-o"}, {"kubelet", want}, {"runtime_driver", rc.driver}, {"runtime_source", rc.source}};
  if (!rc.problem.empty()) {
    auto r = CheckResult::Fail("CgroupDriver", CheckSeverity::kError, rc.problem);
    r.detail = detail;
    return r;
  }
  if (rc.driver == want) {
    auto r = CheckResult::Pass("CgroupDriver", "CRI-O and the kubelet both use " + want + " (" + rc.source + ")");
    r.detail = detail;
    return r;
  }
  auto r = CheckResult::Fail("CgroupDriver", CheckSeverity::kError,
                             "CRI-O uses " + rc.driver + " (" + rc.source + ") but the kubelet uses " + want,
                             "set cgroup_manager = \"" + want + "\" under [crio.runtime] in a file of " +
                                 std::string(kCrioConfigDir) + " and restart crio");
  r.detail = detail;
  return r;
}

}  // namespace

std::vector<CheckResult> CheckRuntime(const CheckInputs& in) {
  std::vector<CheckResult> out;
  ChosenSocket chosen;
  out.push_back(CheckCri(in, &chosen));
  std::string want = in.kubelet.cgroup_driver.empty() ? "systemd" : in.kubelet.cgroup_driver;
  RuntimeKind kind = chosen.kind;
  if (kind == RuntimeKind::kUnknown && chosen.path.empty()) {
    // No socket chosen: judge the config of the one runtime installed, if any.
    bool containerd = in.host.files().Exists(kContainerdConfig);
    bool crio = in.host.files().Exists(kCrioConfig) || in.host.files().Exists(kCrioConfigDir);
    if (containerd != crio) kind = containerd ? RuntimeKind::kContainerd : RuntimeKind::kCrio;
  }
  switch (kind) {
    case RuntimeKind::kContainerd: {
      out.push_back(CheckContainerdCgroup(in, want));
      // A containerd that serves no CRI fails the join whatever else passes.
      const auto& d = out.back().detail;
      if (d.contains("cri_disabled") && out.front().status == CheckStatus::kPass) {
        out.front() = CheckResult::Fail("CRI", CheckSeverity::kError, d["cri_disabled"].get<std::string>(),
                                        "remove \"cri\" from disabled_plugins in " + std::string(kContainerdConfig) +
                                            " and restart containerd");
      }
      break;
    }
    case RuntimeKind::kCrio: out.push_back(CheckCrioCgroup(in, want)); break;
    default:
      out.push_back(CheckResult::Pass("CgroupDriver", chosen.path.empty()
                                                          ? std::string("not checked: no runtime socket chosen and no single "
                                                                        "containerd or CRI-O config found")
                                                          : "not checked: the runtime behind " + chosen.path +
                                                                " is neither containerd nor CRI-O"));
      break;
  }
  return out;
}

}  // namespace nodeagent::join_prep
