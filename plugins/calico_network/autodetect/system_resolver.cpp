#include "system_resolver.h"

#include <netdb.h>
#include <sys/socket.h>

namespace nodeagent::calico {

Result<std::vector<IpAddress>> SystemNameResolver::Resolve(const std::string& name, AddressFamily family) {
  addrinfo hints{};
  hints.ai_family = family == AddressFamily::kIpv4 ? AF_INET : AF_INET6;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* list = nullptr;
  int rc = getaddrinfo(name.c_str(), nullptr, &hints, &list);
  if (rc != 0) return NotFound("resolving " + name + ": " + gai_strerror(rc));
  std::vector<IpAddress> out;
  for (addrinfo* a = list; a && out.size() < 32; a = a->ai_next) {
    char text[64] = {};
    if (getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) != 0) continue;
    if (auto ip = IpAddress::Parse(text)) out.push_back(*ip);
  }
  freeaddrinfo(list);
  return out;
}

}  // namespace nodeagent::calico
