// An EndpointProbe for unit tests: names resolve from a table, connections
// and HTTPS exchanges answer from tables keyed by "host:port", and every
// call is recorded. Anything not in a table is an error saying so.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "discovery/endpoint_probe.h"

namespace nodeagent::join_prep {

class FakeEndpointProbe : public EndpointProbe {
 public:
  std::map<std::string, Result<std::vector<std::string>>> names;  ///< host -> addresses or error
  std::map<std::string, Result<std::string>> connects;            ///< "host:port" -> address or error
  std::map<std::string, Result<TlsExchange>> exchanges;           ///< "host:port" -> exchange or error
  std::vector<std::string> calls;                                 ///< "resolve h", "connect h:p", "get h:p/path"

  Result<std::vector<std::string>> Resolve(const std::string& host) override {
    calls.push_back("resolve " + host);
    auto it = names.find(host);
    if (it == names.end()) return NotFound("resolving " + host + ": Name or service not known");
    return it->second;
  }
  Result<std::string> Connect(const std::string& host, int port, std::chrono::milliseconds) override {
    std::string key = host + ":" + std::to_string(port);
    calls.push_back("connect " + key);
    auto it = connects.find(key);
    if (it == connects.end()) return Error(ErrorCode::kUnavailable, key + ": connect: Connection refused");
    return it->second;
  }
  Result<TlsExchange> HttpsGet(const std::string& host, int port, const std::string& path,
                               std::chrono::milliseconds) override {
    std::string key = host + ":" + std::to_string(port);
    calls.push_back("get " + key + path);
    auto it = exchanges.find(key);
    if (it == exchanges.end()) return Error(ErrorCode::kUnavailable, key + ": connect: Connection refused");
    return it->second;
  }
};

}  // namespace nodeagent::join_prep
