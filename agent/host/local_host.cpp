#include "host/local_host.h"

namespace nodeagent {

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

static Result<std::string> ReadTrimmed(FileSystem& files, std::string_view path) {
  auto text = files.ReadFile(path);
  if (!text) return text.error();
  std::string v = Trim(*text);
  if (v.empty()) return Error(ErrorCode::kInvalidArgument, files.Resolve(path) + " is empty");
  return v;
}

namespace {

/// network() of a host built without one.
class NoNetworkInfo : public NetworkInfo {
 public:
  Result<std::vector<NetworkInterface>> Interfaces() override { return Missing(); }
  Result<std::vector<InterfaceAddress>> Addresses() override { return Missing(); }
  Result<std::vector<Route>> Routes() override { return Missing(); }
  Result<RouteLookup> LookupRoute(const IpAddress&) override { return Missing(); }

 private:
  static Error Missing() { return Error(ErrorCode::kUnavailable, "this host was built without a network view"); }
};

}  // namespace

LocalHost::LocalHost(FileSystem& files, CommandRunner& commands, Clock& clock)
    : files_(files), commands_(commands), clock_(clock) {
  static NoNetworkInfo none;
  network_ = &none;
}

Result<std::string> LocalHost::BootId() { return ReadTrimmed(files_, "/proc/sys/kernel/random/boot_id"); }
Result<std::string> LocalHost::Hostname() { return ReadTrimmed(files_, "/proc/sys/kernel/hostname"); }

}  // namespace nodeagent
