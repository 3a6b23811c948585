#include "config/listen_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace nodeagent {

namespace {

bool ParsePort(std::string_view text, int& port) {
  if (text.empty() || text.size() > 5) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && end == text.data() + text.size() && port >= 1 && port <= 65535;
}

bool IsAddress(int family, const std::string& ip) {
  unsigned char buf[16];
  return ::inet_pton(family, ip.c_str(), buf) == 1;
}

}  // namespace

std::string ListenAddress::ToString() const {
  return (ipv6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("\"" + std::string(text) + "\": " + why +
                           "; expected \"PORT\" (loopback), \"IPv4:PORT\" or \"[IPv6]:PORT\", e.g. \"9779\", "
                           "\"0.0.0.0:9779\", \"[::1]:9779\"");
  };
  ListenAddress a;
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    if (!ParsePort(text, a.port)) return bad("not a port between 1 and 65535");
    a.ip = "127.0.0.1";
    return a;
  }
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || text.back() == ']') return bad("no port");
  if (!ParsePort(text.substr(colon + 1), a.port)) return bad("not a port between 1 and 65535");
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    a.ip = std::string(host.substr(1, host.size() - 2));
    a.ipv6 = true;
    if (!IsAddress(AF_INET6, a.ip)) return bad("not an IPv6 address");
    return a;
  }
  a.ip = std::string(host);
  if (!IsAddress(AF_INET, a.ip))
    return bad(a.ip.find(':') != std::string::npos ? "an IPv6 address needs brackets" : "not an IPv4 address");
  return a;
}

}  // namespace nodeagent
