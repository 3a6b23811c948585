// Host put together from its parts: a FileSystem under the root prefix, a
// CommandRunner, a Clock and a NetworkInfo. The daemon builds one with the real parts; tests
// build one over a temp root with FakeCommandRunner and FakeClock.
#pragma once

#include <memory>

#include "nodeagent/host.h"

namespace nodeagent {

class LocalHost : public Host {
 public:
  /// Does not take ownership of the parts; they must outlive the host.
  LocalHost(FileSystem& files, CommandRunner& commands, Clock& clock, NetworkInfo& network)
      : files_(files), commands_(commands), clock_(clock), network_(&network) {}
  /// Without a network view: network() answers every call with Unavailable.
  LocalHost(FileSystem& files, CommandRunner& commands, Clock& clock);

  FileSystem& files() override { return files_; }
  CommandRunner& commands() override { return commands_; }
  Clock& clock() override { return clock_; }
  NetworkInfo& network() override { return *network_; }
  Result<std::string> BootId() override;
  Result<std::string> Hostname() override;

 private:
  FileSystem& files_;
  CommandRunner& commands_;
  Clock& clock_;
  NetworkInfo* network_;
};

/// The real host under `root`, owning its parts. With `cancelled` (a run's
/// cancel flag), its commands are stopped once the run is cancelled.
/// Defined in real_host.cpp: link nodeagent_real_host (it needs libmnl).
class RealHost : public Host {
 public:
  explicit RealHost(const std::string& root, const bool* cancelled = nullptr);
  ~RealHost() override;
  FileSystem& files() override;
  CommandRunner& commands() override;
  Clock& clock() override;
  NetworkInfo& network() override;
  Result<std::string> BootId() override;
  Result<std::string> Hostname() override;

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

/// Trims whitespace at both ends.
std::string Trim(std::string_view s);

}  // namespace nodeagent
