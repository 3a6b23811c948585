#include "ctl/control_client.h"

#include "host/local_file_system.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nodeagent {

Status CallDaemon(const std::string& socket_path, const nlohmann::json& request,
                  const std::function<bool(const nlohmann::json&)>& on_line) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket", errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    ::close(fd);
    return InvalidArgument("socket path too long: " + socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd);
    std::string why = std::strerror(err);
    std::string hint = err == EACCES ? " (only root and members of the nodeagent group may use the agent)"
                                     : " (is the daemon running? systemctl status nodeagent; or use --local)";
    return Error(ErrorCode::kUnavailable, "cannot reach the agent at " + socket_path + ": " + why + hint);
  }
  if (Status st = WriteAll(fd, request.dump() + "\n", "a request to the agent"); !st.ok()) {
    ::close(fd);
    return Error(ErrorCode::kUnavailable, st.error().message());
  }
  std::string buf;
  char chunk[65536];
  bool go_on = true;
  while (go_on) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while (go_on && (nl = buf.find('\n')) != std::string::npos) {
      auto j = nlohmann::json::parse(buf.substr(0, nl), nullptr, false);
      buf.erase(0, nl + 1);
      if (!j.is_discarded()) go_on = on_line(j);
    }
  }
  ::close(fd);
  return Status::Ok();
}

Result<nlohmann::json> CallDaemonOnce(const std::string& socket_path, const nlohmann::json& request) {
  nlohmann::json first;
  bool got = false;
  Status st = CallDaemon(socket_path, request, [&](const nlohmann::json& j) {
    first = j;
    got = true;
    return false;
  });
  if (!st.ok()) return st.error();
  if (!got) return Error(ErrorCode::kUnavailable, "the agent closed the connection without an answer");
  return first;
}

}  // namespace nodeagent
