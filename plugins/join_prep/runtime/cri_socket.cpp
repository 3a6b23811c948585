#include "runtime/cri_socket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "text.h"

namespace nodeagent::join_prep {

const char* RuntimeKindName(RuntimeKind k) {
  switch (k) {
    case RuntimeKind::kContainerd: return "containerd";
    case RuntimeKind::kCrio: return "cri-o";
    case RuntimeKind::kCriDockerd: return "cri-dockerd";
    case RuntimeKind::kUnknown: return "unknown";
  }
  return "unknown";
}

std::string SocketPathOf(std::string_view endpoint) {
  constexpr std::string_view kUnix = "unix://";
  if (endpoint.rfind(kUnix, 0) == 0) endpoint.remove_prefix(kUnix.size());
  else if (endpoint.find("://") != std::string_view::npos) return "";
  if (endpoint.empty() || endpoint[0] != '/') return "";
  return std::string(endpoint);
}

RuntimeKind KindOfSocket(std::string_view path) {
  if (path.find("cri-dockerd") != std::string_view::npos) return RuntimeKind::kCriDockerd;
  if (path.find("containerd") != std::string_view::npos) return RuntimeKind::kContainerd;
  if (path.find("crio") != std::string_view::npos) return RuntimeKind::kCrio;
  return RuntimeKind::kUnknown;
}

namespace {

std::vector<std::string> Components(std::string_view path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    std::string_view part = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (!part.empty() && part != ".") out.emplace_back(part);
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

}  // namespace

Result<std::string> ResolveLinks(const FileSystem& files, std::string_view host_path) {
  std::vector<std::string> done;                 // resolved, no links
  std::vector<std::string> todo = Components(host_path);
  std::reverse(todo.begin(), todo.end());        // a stack: back() is next
  int links = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.back());
    todo.pop_back();
    if (part == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    done.push_back(part);
    std::string here = Join(done);
    auto st = files.Lstat(here);
    if (!st) {
      if (st.error().code() == ErrorCode::kNotFound) continue;  // kept as named
      return st.error().Wrap(here);
    }
    if (st->type != FileType::kSymlink) continue;
    if (++links > 40) return Error(ErrorCode::kInvalidArgument, std::string(host_path) + ": more than 40 symlinks (a loop?)");
    auto target = files.ReadLink(here);
    if (!target) return target.error().Wrap(here);
    done.pop_back();
    if (!target->empty() && (*target)[0] == '/') done.clear();
    auto parts = Components(*target);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.push_back(*it);
  }
  return Join(done);
}

std::string ConnectUnixSocket(const std::string& real_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (real_path.size() >= sizeof(addr.sun_path))
    return real_path + ": longer than a unix socket path may be (" + std::to_string(sizeof(addr.sun_path) - 1) + " bytes)";
  memcpy(addr.sun_path, real_path.c_str(), real_path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return std::string("socket(AF_UNIX): ") + strerror(errno);
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  close(fd);
  if (rc == 0) return "";
  if (err == EAGAIN) return "connect(2) " + real_path + ": the listener's backlog is full (EAGAIN)";
  return "connect(2) " + real_path + ": " + strerror(err);
}

namespace {

// crictl info prints {"status": {"conditions": [{"type": "RuntimeReady", "status": true}...]}}.
std::optional<bool> RuntimeReady(const std::string& json_text) {
  auto j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto status = j.find("status");
  if (status == j.end() || !status->is_object()) return std::nullopt;
  auto conds = status->find("conditions");
  if (conds == status->end() || !conds->is_array()) return std::nullopt;
  for (const auto& c : *conds)
    if (c.is_object() && c.value("type", "") == "RuntimeReady") return c.value("status", false);
  return std::nullopt;
}

}  // namespace

SocketAnswer AskRuntime(Host& host, const std::string& host_path, std::chrono::milliseconds timeout) {
  SocketAnswer a;
  std::string real = host.files().Resolve(host_path);
  CommandSpec spec;
  auto secs = std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
  spec.argv = {"crictl", "--runtime-endpoint", "unix://" + real, "--timeout", std::to_string(secs) + "s", "info"};
  spec.timeout = timeout + std::chrono::seconds(2);
  spec.read_only = true;
  auto r = host.commands().Run(spec);
  if (r) {
    if (!r->succeeded()) {
      a.problem = "crictl info on unix://" + real + " " +
                  (r->timed_out ? std::string("timed out") : "exited " + std::to_string(r->exit_code)) + ": " +
                  LastLine(r->stderr_data.empty() ? r->stdout_data : r->stderr_data);
      return a;
    }
    auto ready = RuntimeReady(r->stdout_data);
    if (ready && !*ready) {
      a.problem = "crictl info on unix://" + real + ": the runtime answers but reports RuntimeReady false";
      return a;
    }
    a.answered = true;
    a.how = ready ? "crictl info: RuntimeReady" : "crictl info answered";
    return a;
  }
  // crictl cannot be started (not installed): a connect proves a listener.
  std::string why = ConnectUnixSocket(real);
  if (!why.empty()) {
    a.problem = why + " (crictl not available: " + r.error().message() + ")";
    return a;
  }
  a.answered = true;
  a.how = "connect(2) accepted (crictl not available, so the CRI API itself was not asked)";
  return a;
}

}  // namespace nodeagent::join_prep
