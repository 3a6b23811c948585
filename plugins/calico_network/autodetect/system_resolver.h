// can-reach=NAME needs the name's addresses the way calico-node gets them:
// Go's resolver dialling "udp4"/"udp6", which on a node means the system's
// getaddrinfo (nsswitch, /etc/hosts, DNS). This is that resolver for the
// action and the tools; tests give Autodetect a table instead. It only asks,
// it sends nothing to the destination.
#pragma once

#include "autodetect.h"

namespace nodeagent::calico {

class SystemNameResolver : public NameResolver {
 public:
  /// At most 32 addresses, in getaddrinfo's order. NotFound naming the
  /// name and getaddrinfo's reason when it does not resolve.
  Result<std::vector<IpAddress>> Resolve(const std::string& name, AddressFamily family) override;
};

}  // namespace nodeagent::calico
