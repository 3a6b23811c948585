// Which container runtime socket the kubelet will use, and whether a runtime
// answers on it. kubeadm picks the one known socket that exists and refuses
// when it finds several without --cri-socket; we do the same before the join
// so the operator hears it while planning. The socket's path is resolved
// link by link through the host seam (inside the root prefix: /var/run is a
// link to /run on most systems), never by the kernel's own lookup, so a
// root prefix is honoured and no link leads outside it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/host.h"

namespace nodeagent::join_prep {

enum class RuntimeKind { kContainerd, kCrio, kCriDockerd, kUnknown };
const char* RuntimeKindName(RuntimeKind k);  // "containerd", "cri-o", "cri-dockerd", "unknown"

struct KnownSocket {
  std::string_view path;
  RuntimeKind kind;
};
/// The sockets kubeadm looks for, in its order.
inline constexpr KnownSocket kKnownCriSockets[] = {
    {"/run/containerd/containerd.sock", RuntimeKind::kContainerd},
    {"/var/run/crio/crio.sock", RuntimeKind::kCrio},
    {"/var/run/cri-dockerd.sock", RuntimeKind::kCriDockerd},
};

/// "unix:///run/x.sock" or "/run/x.sock" -> "/run/x.sock"; "" for another scheme.
std::string SocketPathOf(std::string_view endpoint);
/// What the path says of the runtime behind it ("containerd" in it...).
RuntimeKind KindOfSocket(std::string_view path);

/// The host path with every symlink on the way followed inside the root
/// (an absolute target starts again at the root, ".." stops at it), looked
/// at with Lstat/ReadLink. An error for a loop (over 40 links) or a link
/// that cannot be read; a missing component is kept as named.
Result<std::string> ResolveLinks(const FileSystem& files, std::string_view host_path);

/// How the socket answered.
struct SocketAnswer {
  bool answered = false;
  std::string how;      ///< "crictl info: RuntimeReady", "connect(2) accepted"
  std::string problem;  ///< what failed, with stderr or errno text
};

/// Asks the runtime at `host_path` (already resolved): `crictl info` when
/// crictl can be started (read-only), else a connect(2) to the socket's real
/// path, which proves only that something listens.
SocketAnswer AskRuntime(Host& host, const std::string& host_path, std::chrono::milliseconds timeout);

/// connect(2) to a unix socket at a real path, non-blocking: "" when
/// accepted, else why not.
std::string ConnectUnixSocket(const std::string& real_path);

}  // namespace nodeagent::join_prep
