#include "host_checks/proc_net_tcp.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace nodeagent::join_prep {
namespace {

bool IsHex(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
}

/// The kernel prints each 32-bit word of the address in host byte order.
std::string AddressText(std::string_view hex, bool ipv6) {
  unsigned char bytes[16];
  size_t words = ipv6 ? 4 : 1;
  for (size_t w = 0; w < words; ++w) {
    uint32_t v = static_cast<uint32_t>(std::strtoul(std::string(hex.substr(w * 8, 8)).c_str(), nullptr, 16));
    std::memcpy(bytes + w * 4, &v, 4);
  }
  char out[INET6_ADDRSTRLEN] = {0};
  inet_ntop(ipv6 ? AF_INET6 : AF_INET, bytes, out, sizeof out);
  return out;
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size() && out.size() < 6) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

Result<Listeners> ParseProcNetTcp(std::string_view text, bool ipv6, const std::string& source) {
  Listeners out;
  size_t pos = 0;
  const size_t addr_len = ipv6 ? 32 : 8;
  for (size_t n = 1; pos < text.size(); ++n) {
    if (n > kMaxProcNetTcpLines)
      return Error(ErrorCode::kTooLarge, source + ": more than " + std::to_string(kMaxProcNetTcpLines) + " lines");
    size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    auto f = Fields(line);
    if (f.empty() || (n == 1 && f[0] == "sl")) continue;
    // "  0: 0100007F:1F90 00000000:0000 0A ..."
    auto bad = [&](const std::string& why) {
      return InvalidArgument(source + ":" + std::to_string(n) + ": " + why + ": \"" + std::string(line.substr(0, 120)) +
                             "\"");
    };
    if (f.size() < 4) return bad("fewer than 4 fields");
    std::string_view local = f[1];
    size_t colon = local.find(':');
    if (colon != addr_len || !IsHex(local.substr(0, colon)) || local.size() - colon - 1 != 4 ||
        !IsHex(local.substr(colon + 1)))
      return bad("local address is not " + std::string(ipv6 ? "32" : "8") + " hex digits:4 hex digits");
    if (f[3].size() != 2 || !IsHex(f[3])) return bad("state is not 2 hex digits");
    if (f[3] != "0A") continue;  // TCP_LISTEN
    int port = static_cast<int>(std::strtoul(std::string(local.substr(colon + 1)).c_str(), nullptr, 16));
    auto& addrs = out[port];
    std::string addr = AddressText(local.substr(0, colon), ipv6);
    if (addrs.size() < 16 && std::find(addrs.begin(), addrs.end(), addr) == addrs.end()) addrs.push_back(addr);
  }
  return out;
}

Result<Listeners> ReadListeners(const FileSystem& files) {
  auto v4 = files.ReadFile("/proc/net/tcp");
  if (!v4) return v4.error().Wrap("reading " + files.Resolve("/proc/net/tcp"));
  auto listeners = ParseProcNetTcp(*v4, false, "/proc/net/tcp");
  if (!listeners) return listeners.error();
  auto v6 = files.ReadFile("/proc/net/tcp6");
  if (!v6) {
    if (v6.error().code() == ErrorCode::kNotFound) return listeners;
    return v6.error().Wrap("reading " + files.Resolve("/proc/net/tcp6"));
  }
  auto more = ParseProcNetTcp(*v6, true, "/proc/net/tcp6");
  if (!more) return more.error();
  for (auto& [port, addrs] : *more)
    for (auto& a : addrs) (*listeners)[port].push_back(std::move(a));
  return listeners;
}

}  // namespace nodeagent::join_prep
