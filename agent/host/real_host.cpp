// RealHost in a library of its own (nodeagent_real_host): it is the one part
// of the host seam that needs a shared library (libmnl, for its
// NetlinkNetworkInfo), and agentctl, a static PIE that links the rest of the
// seam, must not pull it in.
#include "host/local_file_system.h"
#include "host/local_host.h"
#include "host/netlink_network_info.h"
#include "host/process_command_runner.h"
#include "host/system_clock.h"

namespace nodeagent {

struct RealHost::Parts {
  Parts(const std::string& root, const bool* cancelled)
      : files(root), commands(std::chrono::seconds(2), cancelled), host(files, commands, clock, network) {}
  LocalFileSystem files;
  ProcessCommandRunner commands;
  SystemClock clock;
  NetlinkNetworkInfo network;
  LocalHost host;
};

RealHost::RealHost(const std::string& root, const bool* cancelled)
    : parts_(std::make_unique<Parts>(root, cancelled)) {}
RealHost::~RealHost() = default;
FileSystem& RealHost::files() { return parts_->files; }
CommandRunner& RealHost::commands() { return parts_->commands; }
Clock& RealHost::clock() { return parts_->clock; }
NetworkInfo& RealHost::network() { return parts_->network; }
Result<std::string> RealHost::BootId() { return parts_->host.BootId(); }
Result<std::string> RealHost::Hostname() { return parts_->host.Hostname(); }

}  // namespace nodeagent
