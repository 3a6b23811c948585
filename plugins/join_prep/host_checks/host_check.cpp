#include "host_checks/host_check.h"

#include <cctype>
#include <cstdlib>

#include "host_checks/node_identity.h"
#include "host_checks/proc_net_tcp.h"
#include "join_options.h"
#include "text.h"

namespace nodeagent::join_prep {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

/// kubeadm's FileAvailable-/DirAvailable- id of a path: '/' becomes '-'.
std::string PathId(const char* prefix, const std::string& path) {
  std::string id = prefix;
  id += '-';
  for (char c : path) id += c == '/' ? '-' : c;
  return id;
}

Result<CommandResult> RunReadOnly(CommandRunner& commands, std::vector<std::string> argv) {
  CommandSpec spec;
  spec.argv = std::move(argv);
  spec.read_only = true;
  spec.timeout = std::chrono::seconds(10);
  return commands.Run(spec);
}

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

/// Why `name` is not a lowercase RFC 1123 subdomain, or "".
std::string NodeNameProblem(const std::string& name) {
  if (name.empty()) return "is empty (no node_name and no hostname)";
  if (name.size() > 253) return "is longer than 253 characters";
  size_t start = 0;
  for (;;) {
    size_t dot = name.find('.', start);
    std::string_view label = std::string_view(name).substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!IsDnsLabel(label))
      return "has the label \"" + std::string(label) +
             "\": each dot-separated part must be 1 to 63 lowercase letters, digits or '-', not starting or ending "
             "with '-'";
    if (dot == std::string::npos) return "";
    start = dot + 1;
  }
}

/// The number of CPUs in a list like "0-3,5,7-8" (/sys/devices/system/cpu/online).
std::optional<int> CountCpuList(std::string text) {
  text = Trim(std::move(text));
  if (text.empty()) return std::nullopt;
  int count = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string part = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (part.empty() || part.find_first_not_of("0123456789-") != std::string::npos) return std::nullopt;
    size_t dash = part.find('-');
    int lo = std::atoi(part.substr(0, dash).c_str());
    int hi = dash == std::string::npos ? lo : std::atoi(part.substr(dash + 1).c_str());
    if (hi < lo || hi - lo > 65536) return std::nullopt;
    count += hi - lo + 1;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return count;
}

Result<int> CountCpus(const FileSystem& files) {
  if (auto online = files.ReadFile("/sys/devices/system/cpu/online")) {
    if (auto n = CountCpuList(*online)) return *n;
    return InvalidArgument(files.Resolve("/sys/devices/system/cpu/online") + ": \"" + Trim(*online) +
                           "\" is not a CPU list");
  }
  auto cpuinfo = files.ReadFile("/proc/cpuinfo");
  if (!cpuinfo) return cpuinfo.error().Wrap("reading " + files.Resolve("/proc/cpuinfo"));
  int n = 0;
  size_t pos = 0;
  for (int lines = 0; pos < cpuinfo->size() && lines < 1000000; ++lines) {
    size_t eol = cpuinfo->find('\n', pos);
    std::string line = cpuinfo->substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? cpuinfo->size() : eol + 1;
    if (line.rfind("processor", 0) == 0 && line.find(':') != std::string::npos) ++n;
  }
  if (n == 0) return InvalidArgument(files.Resolve("/proc/cpuinfo") + " lists no processor");
  return n;
}

Result<long> MemTotalMB(const FileSystem& files) {
  auto meminfo = files.ReadFile("/proc/meminfo");
  if (!meminfo) return meminfo.error().Wrap("reading " + files.Resolve("/proc/meminfo"));
  size_t pos = meminfo->find("MemTotal:");
  if (pos == std::string::npos) return InvalidArgument(files.Resolve("/proc/meminfo") + " has no MemTotal line");
  std::string rest = meminfo->substr(pos + 9, meminfo->find('\n', pos) - pos - 9);
  rest = Trim(rest);
  // "16318288 kB"
  size_t digits = rest.find_first_not_of("0123456789");
  if (digits == 0 || rest.substr(digits == std::string::npos ? rest.size() : digits).find("kB") == std::string::npos)
    return InvalidArgument(files.Resolve("/proc/meminfo") + ": MemTotal \"" + rest + "\" is not a number of kB");
  return std::strtol(rest.c_str(), nullptr, 10) / 1024;
}

}  // namespace

std::vector<int> PortsToBeFree(bool control_plane) {
  if (!control_plane) return {10250};
  return {10250, 6443, 10259, 10257, 2379, 2380};
}

std::string EffectiveNodeName(Host& host, const std::string& configured) {
  if (!configured.empty()) return configured;
  auto hostname = host.Hostname();
  if (!hostname) return "";
  std::string name = Trim(*hostname);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::vector<CheckResult> CheckExecutables(const FileSystem& files) {
  std::vector<CheckResult> out;
  for (const RequiredExecutable& exe : kRequiredExecutables) {
    std::string id = std::string("FileExisting-") + exe.name;
    std::string found;
    std::string not_executable;
    for (const char* dir : kExecutableDirs) {
      std::string path = std::string(dir) + "/" + exe.name;
      auto info = files.Stat(path);
      if (!info || info->type != FileType::kRegular) continue;
      if ((info->mode & 0111) == 0) {
        if (not_executable.empty()) not_executable = path;
        continue;
      }
      found = path;
      break;
    }
    if (!found.empty()) {
      CheckResult r = CheckResult::Pass(id, found);
      r.severity = exe.severity;
      r.detail = {{"path", found}};
      out.push_back(std::move(r));
      continue;
    }
    std::string msg = std::string(exe.name) + " not found in system path";
    if (!not_executable.empty()) msg += " (" + files.Resolve(not_executable) + " exists but is not executable)";
    out.push_back(CheckResult::Fail(id, exe.severity, msg,
                                    "install the package that provides " + std::string(exe.name)));
  }
  return out;
}

CheckResult CheckKubeletService(CommandRunner& commands) {
  const char* id = "Service-Kubelet";
  auto r = RunReadOnly(commands, {"systemctl", "is-enabled", "kubelet.service"});
  if (!r) return CheckResult::Fail(id, CheckSeverity::kWarning, "cannot check: " + r.error().message());
  std::string state = LastLine(r->stdout_data);
  if (r->succeeded()) return CheckResult::Pass(id, "kubelet.service is " + (state.empty() ? "enabled" : state));
  if (r->timed_out) return CheckResult::Fail(id, CheckSeverity::kWarning, "cannot check: systemctl is-enabled timed out");
  std::string err = LastLine(r->stderr_data);
  if (state == "not-found" || err.find("No such file") != std::string::npos ||
      err.find("not found") != std::string::npos)
    return CheckResult::Fail(id, CheckSeverity::kWarning, "kubelet service does not exist",
                             "install the kubelet package");
  CheckResult out = CheckResult::Fail(
      id, CheckSeverity::kWarning,
      "kubelet service is not enabled" + (state.empty() ? std::string() : " (" + state + ")") +
          ", please run 'systemctl enable kubelet.service'");
  out.detail = {{"state", state}};
  return out;
}

std::vector<CheckResult> CheckPorts(const FileSystem& files, const std::vector<int>& ports) {
  std::vector<CheckResult> out;
  auto listeners = ReadListeners(files);
  for (int port : ports) {
    std::string id = "Port-" + std::to_string(port);
    if (!listeners) {
      out.push_back(CheckResult::Fail(id, CheckSeverity::kError, "cannot check: " + listeners.error().message()));
      continue;
    }
    auto it = listeners->find(port);
    if (it == listeners->end()) {
      out.push_back(CheckResult::Pass(id, "nothing listens on port " + std::to_string(port)));
      continue;
    }
    std::string addrs;
    for (const auto& a : it->second) addrs += (addrs.empty() ? "" : ", ") + a;
    CheckResult r = CheckResult::Fail(id, CheckSeverity::kError,
                                      "Port " + std::to_string(port) + " is in use (listening on " + addrs + ")",
                                      "ss -ltnp 'sport = :" + std::to_string(port) + "' shows which process");
    r.detail = {{"addresses", it->second}};
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<CheckResult> CheckNodeName(const std::string& node_name, EndpointProbe& probe) {
  std::vector<CheckResult> out;
  std::string problem = NodeNameProblem(node_name);
  if (!problem.empty()) {
    out.push_back(CheckResult::Fail("NodeName", CheckSeverity::kError, "node name \"" + node_name + "\" " + problem,
                                    "set node_name, or a lowercase hostname (hostnamectl set-hostname)"));
    return out;
  }
  out.push_back(CheckResult::Pass("NodeName", node_name));
  auto addrs = probe.Resolve(node_name);
  if (!addrs) {
    out.push_back(CheckResult::Fail("Hostname", CheckSeverity::kWarning,
                                    "hostname \"" + node_name + "\" could not be reached: " + addrs.error().message(),
                                    "add it to /etc/hosts or DNS"));
    return out;
  }
  std::string list;
  for (const auto& a : *addrs) list += (list.empty() ? "" : ", ") + a;
  CheckResult r = CheckResult::Pass("Hostname", node_name + " resolves to " + list);
  r.detail = {{"addresses", *addrs}};
  out.push_back(std::move(r));
  return out;
}

CheckResult CheckTimeSync(CommandRunner& commands) {
  const char* id = "TimeSync";
  const char* hint = "enable time synchronisation (systemctl enable --now systemd-timesyncd, or chronyd)";
  std::string tried;
  auto td = RunReadOnly(commands, {"timedatectl", "show", "-p", "NTPSynchronized", "--value"});
  if (td && td->succeeded()) {
    std::string v = LastLine(td->stdout_data);
    if (v == "yes") return CheckResult::Pass(id, "synchronised (timedatectl: NTPSynchronized=yes)");
    if (v == "no")
      return CheckResult::Fail(id, CheckSeverity::kWarning, "the clock is not synchronised (timedatectl: NTPSynchronized=no)",
                               hint);
    tried = "timedatectl said \"" + v + "\"";
  } else {
    tried = "timedatectl: " + (td ? (td->timed_out ? "timed out" : LastLine(td->stderr_data)) : td.error().message());
  }
  auto ch = RunReadOnly(commands, {"chronyc", "-n", "tracking"});
  if (ch && ch->succeeded()) {
    const std::string& o = ch->stdout_data;
    size_t leap = o.find("Leap status");
    std::string status = leap == std::string::npos ? "" : Trim(o.substr(o.find(':', leap) + 1, o.find('\n', leap) - o.find(':', leap) - 1));
    if (status == "Normal") return CheckResult::Pass(id, "synchronised (chronyc tracking: Leap status Normal)");
    return CheckResult::Fail(id, CheckSeverity::kWarning,
                             "the clock is not synchronised (chronyc tracking: Leap status " +
                                 (status.empty() ? std::string("missing") : status) + ")",
                             hint);
  }
  tried += "; chronyc: " + (ch ? (ch->timed_out ? "timed out" : LastLine(ch->stderr_data)) : ch.error().message());
  return CheckResult::Fail(id, CheckSeverity::kWarning, "cannot tell whether the clock is synchronised (" + tried + ")",
                           hint);
}

std::vector<CheckResult> CheckControlPlaneResources(const FileSystem& files) {
  std::vector<CheckResult> out;
  if (auto cpus = CountCpus(files)) {
    if (*cpus >= kControlPlaneMinCpus)
      out.push_back(CheckResult::Pass("NumCPU", std::to_string(*cpus) + " CPUs"));
    else
      out.push_back(CheckResult::Fail("NumCPU", CheckSeverity::kError,
                                      "the number of available CPUs " + std::to_string(*cpus) +
                                          " is less than the required " + std::to_string(kControlPlaneMinCpus)));
  } else {
    out.push_back(CheckResult::Fail("NumCPU", CheckSeverity::kError, "cannot check: " + cpus.error().message()));
  }
  if (auto mb = MemTotalMB(files)) {
    if (*mb >= kControlPlaneMinMemoryMB)
      out.push_back(CheckResult::Pass("Mem", std::to_string(*mb) + " MB"));
    else
      out.push_back(CheckResult::Fail("Mem", CheckSeverity::kError,
                                      "the system RAM (" + std::to_string(*mb) + " MB) is less than the minimum " +
                                          std::to_string(kControlPlaneMinMemoryMB) + " MB"));
  } else {
    out.push_back(CheckResult::Fail("Mem", CheckSeverity::kError, "cannot check: " + mb.error().message()));
  }
  return out;
}

std::vector<CheckResult> CheckLeftovers(const FileSystem& files, bool control_plane) {
  std::vector<std::string> must_be_absent = {"/etc/kubernetes/kubelet.conf", "/etc/kubernetes/bootstrap-kubelet.conf"};
  if (control_plane) {
    for (const char* m : {"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"})
      must_be_absent.push_back(std::string("/etc/kubernetes/manifests/") + m + ".yaml");
  } else {
    must_be_absent.push_back("/etc/kubernetes/pki/ca.crt");
  }
  const std::string hint = "left from an earlier join or init: `kubeadm reset` cleans up";
  std::vector<CheckResult> out;
  for (const auto& path : must_be_absent) {
    std::string id = PathId("FileAvailable", path);
    auto info = files.Stat(path);
    if (info) out.push_back(CheckResult::Fail(id, CheckSeverity::kError, path + " already exists", hint));
    else if (info.error().code() == ErrorCode::kNotFound) out.push_back(CheckResult::Pass(id, path + " is absent"));
    else out.push_back(CheckResult::Fail(id, CheckSeverity::kError, "cannot check: " + info.error().message()));
  }
  if (control_plane) {
    const std::string dir = "/var/lib/etcd";
    std::string id = PathId("DirAvailable", dir);
    auto names = files.ListDir(dir);
    if (!names && names.error().code() == ErrorCode::kNotFound)
      out.push_back(CheckResult::Pass(id, dir + " is absent"));
    else if (!names)
      out.push_back(CheckResult::Fail(id, CheckSeverity::kError, "unable to check if " + dir + " is empty: " +
                                                                     names.error().message()));
    else if (names->empty())
      out.push_back(CheckResult::Pass(id, dir + " is empty"));
    else
      out.push_back(CheckResult::Fail(id, CheckSeverity::kError, dir + " is not empty", hint));
  }
  return out;
}

std::vector<CheckResult> CheckHost(const CheckInputs& in, EndpointProbe& probe) {
  const bool control_plane = in.options.role == Role::kControlPlane;
  FileSystem& files = in.host.files();
  std::vector<CheckResult> out;
  auto append = [&out](std::vector<CheckResult> more) {
    for (auto& r : more) out.push_back(std::move(r));
  };
  append(CheckExecutables(files));
  out.push_back(CheckKubeletService(in.host.commands()));
  append(CheckPorts(files, PortsToBeFree(control_plane)));
  const std::string node_name = EffectiveNodeName(in.host, in.options.node_name);
  append(CheckNodeName(node_name, probe));
  out.push_back(CheckTimeSync(in.host.commands()));
  if (control_plane) append(CheckControlPlaneResources(files));
  append(CheckLeftovers(files, control_plane));
  append(CheckLocalIdentity(files));
  if (in.kube != nullptr) {
    auto uuid = ReadProductUuid(files);
    append(CheckClusterIdentity(*in.kube, node_name, uuid ? *uuid : ""));
  }
  return out;
}

std::vector<CheckResult> CheckHost(const CheckInputs& in) {
  auto probe = MakeSocketEndpointProbe();
  return CheckHost(in, *probe);
}

}  // namespace nodeagent::join_prep
