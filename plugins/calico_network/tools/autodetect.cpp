// calico_network_autodetect: the address Calico's IP autodetection would pick
// on this host (in this network namespace), read live through the real
// NetlinkNetworkInfo, printed as one JSON object. With --internal-ip it also
// compares the pick with that InternalIP and prints the suggestion. For the
// network-namespace test and for trying a method on a node by hand.
//
//   calico_network_autodetect [--method VALUE] [--family 4|6] [--internal-ip IP]...
//   exit 0: picked; 1: Calico would find nothing (the reason is in "error"); 2: bad arguments
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "autodetect/autodetect.h"
#include "autodetect/system_resolver.h"
#include "host/netlink_network_info.h"

using namespace nodeagent;
using namespace nodeagent::calico;

namespace {

int Usage(const std::string& why) {
  std::fprintf(stderr, "calico_network_autodetect: %s\nusage: calico_network_autodetect [--method VALUE] "
               "[--family 4|6] [--internal-ip IP]...\n", why.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string method_text = "first-found";
  AddressFamily family = AddressFamily::kIpv4;
  AutodetectInputs inputs;
  SystemNameResolver resolver;
  inputs.resolver = &resolver;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return Usage(arg + " needs a value");
    std::string value = argv[++i];
    if (arg == "--method") {
      method_text = value;
    } else if (arg == "--family") {
      if (value != "4" && value != "6") return Usage("--family must be 4 or 6");
      family = value == "4" ? AddressFamily::kIpv4 : AddressFamily::kIpv6;
    } else if (arg == "--internal-ip") {
      inputs.node_known = true;
      inputs.node_addresses.push_back({"InternalIP", value});
    } else {
      return Usage("unknown argument " + arg);
    }
  }
  auto method = ParseAutodetectionMethod(method_text);
  if (!method) return Usage(method.error().message());

  NetlinkNetworkInfo network;
  nlohmann::json out = {{"method", method_text}, {"family", family == AddressFamily::kIpv4 ? 4 : 6}};
  auto pick = Autodetect(*method, network, family, inputs);
  if (!pick) {
    out["ok"] = false;
    out["error"] = pick.error().message();
    std::printf("%s\n", out.dump().c_str());
    return 1;
  }
  out["ok"] = true;
  out["interface"] = pick->interface;
  out["address"] = pick->address.ToString();
  out["why"] = pick->why;
  if (inputs.node_known) {
    auto c = CompareWithInternalIp(*method, *pick, network, family, inputs);
    if (!c) {
      out["comparison_error"] = c.error().message();
    } else {
      out["matches_internal_ip"] = c->matches;
      out["internal_ip_interface"] = c->internal_ip_interface;
      out["suggestion"] = c->suggestion;
    }
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
