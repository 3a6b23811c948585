// A Host that hands the clock, the network, the boot id and the hostname to
// another one. The run's host decorators (refused while planning, held to the
// plan while applying, audited) differ only in their files and commands:
// deriving from this, each says just those, and what none of them checks is
// forwarded in one place.
#pragma once

#include <string>

#include "nodeagent/host.h"

namespace nodeagent {

class ForwardingHost : public Host {
 public:
  /// `inner` must outlive this.
  explicit ForwardingHost(Host& inner) : inner_(inner) {}

  Clock& clock() override { return inner_.clock(); }
  NetworkInfo& network() override { return inner_.network(); }  // only reads
  Result<std::string> BootId() override { return inner_.BootId(); }
  Result<std::string> Hostname() override { return inner_.Hostname(); }

 protected:
  Host& inner_;
};

}  // namespace nodeagent
