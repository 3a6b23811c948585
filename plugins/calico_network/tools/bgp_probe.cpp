// calico_network_bgp_probe: SocketTcpProbe on the real network, for the
// network-namespace test (bgp_probe_netns_test.py) and for trying a peer by
// hand. Prints the results as a JSON array.
//
//   calico_network_bgp_probe [--port 179] [--timeout-ms 2000] ADDRESS...
//   exit 0: probed; 2: bad arguments
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cluster/bgp_probe.h"

using namespace nodeagent;
using namespace nodeagent::calico;

int main(int argc, char** argv) {
  int port = 179;
  int timeout_ms = 2000;
  std::vector<IpAddress> targets;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--port" || a == "--timeout-ms") && i + 1 < argc) {
      (a == "--port" ? port : timeout_ms) = std::atoi(argv[++i]);
    } else if (auto ip = IpAddress::Parse(a)) {
      targets.push_back(*ip);
    } else {
      std::fprintf(stderr, "calico_network_bgp_probe: not an address: %s\n"
                   "usage: calico_network_bgp_probe [--port N] [--timeout-ms N] ADDRESS...\n", a.c_str());
      return 2;
    }
  }
  if (port <= 0 || port > 65535 || timeout_ms <= 0 || timeout_ms > 60000) {
    std::fprintf(stderr, "calico_network_bgp_probe: bad --port or --timeout-ms\n");
    return 2;
  }
  SocketTcpProbe probe;
  std::cout << ToJson(probe.Probe(targets, static_cast<uint16_t>(port), std::chrono::milliseconds(timeout_ms))).dump(2)
            << "\n";
  return 0;
}
