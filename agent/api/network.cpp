#include "nodeagent/network.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace nodeagent {

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  const std::string s(text);
  IpAddress a;
  if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AddressFamily::kIpv4;
    return a;
  }
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AddressFamily::kIpv6;
    return a;
  }
  return std::nullopt;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family == AddressFamily::kIpv4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpPrefix> IpPrefix::Parse(std::string_view text) {
  const size_t slash = text.find('/');
  auto address = IpAddress::Parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  IpPrefix p{*address, address->bits()};
  if (slash == std::string_view::npos) return p;
  std::string_view len = text.substr(slash + 1);
  auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), p.length);
  if (len.empty() || ec != std::errc() || end != len.data() + len.size() || p.length < 0 ||
      p.length > address->bits())
    return std::nullopt;
  return p;
}

std::string IpPrefix::ToString() const { return address.ToString() + "/" + std::to_string(length); }

bool IpPrefix::Contains(const IpAddress& a) const {
  if (a.family != address.family) return false;
  const int full = length / 8, rest = length % 8;
  if (std::memcmp(a.bytes.data(), address.bytes.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (address.bytes[full] & mask);
}

}  // namespace nodeagent
