// calico_network_interfaces: Calico's interfaces on this host (in this network
// namespace), read live through the real NetlinkNetworkInfo, with the MTU and
// IP pool checks, printed as one JSON object (InterfacesReport::ToJson). For
// the network-namespace test and for looking at a node by hand.
//
//   calico_network_interfaces [--underlying IFACE] [--pools IPPOOLLIST.json]
//   exit 0: reported (problems are in "problems"); 1: the network or the pool
//   file could not be read; 2: bad arguments
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "host/local_file_system.h"
#include "host/netlink_network_info.h"
#include "interfaces/calico_interfaces.h"

using namespace nodeagent;
using namespace nodeagent::calico;

namespace {

int Usage(const std::string& why) {
  std::fprintf(stderr, "calico_network_interfaces: %s\nusage: calico_network_interfaces [--underlying IFACE] "
               "[--pools IPPOOLLIST.json]\n", why.c_str());
  return 2;
}

int Fail(const std::string& why) {
  nlohmann::json out = {{"ok", false}, {"error", why}};
  std::printf("%s\n", out.dump().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  InterfaceReportInputs inputs;
  std::string pools_file;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return Usage(arg + " needs a value");
    std::string value = argv[++i];
    if (arg == "--underlying") {
      inputs.underlying = value;
    } else if (arg == "--pools") {
      pools_file = value;
    } else {
      return Usage("unknown argument " + arg);
    }
  }
  if (!pools_file.empty()) {
    LocalFileSystem fs("");
    std::error_code ec;
    auto path = std::filesystem::absolute(pools_file, ec);
    if (ec) return Fail("--pools " + pools_file + ": " + ec.message());
    auto text = fs.ReadFile(path.string());
    if (!text) return Fail(text.error().message());
    auto json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) return Fail(pools_file + ": not JSON");
    auto pools = ParseIpPools(json);
    if (!pools) return Fail(pools_file + ": " + pools.error().message());
    inputs.pools = std::move(*pools);
  }
  NetlinkNetworkInfo network;
  auto report = ReportCalicoInterfaces(network, inputs);
  if (!report) return Fail(report.error().message());
  nlohmann::json out = report->ToJson();
  out["ok"] = true;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
