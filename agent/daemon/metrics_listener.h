// The daemon's optional metrics endpoint (`[metrics] listen`): Prometheus
// scrapes GET /metrics over plain HTTP, for clusters that scrape nodes
// directly instead of through node-exporter's textfile collector. It is a
// socket on the daemon's event loop, not a thread and not an HTTP library:
// one request per connection (Connection: close), its head bounded in size
// and time, a cap on open connections, and no timer armed while nobody
// scrapes, so the idle daemon still never wakes. What the metrics say is
// AgentMetrics' business; this unit only answers the request.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/listen_address.h"
#include "nodeagent/result.h"

namespace boost::asio {
class io_context;
}

namespace nodeagent {

/// Bounds on a scrape (see docs/architecture.md, "Bounds").
struct MetricsListenerLimits {
  size_t max_head_bytes = 8 * 1024;  // request line and headers; more is answered 431
  int head_timeout_ms = 5000;        // to send the head; then the connection is closed
  int write_timeout_ms = 10000;      // to read the answer
  size_t max_connections = 16;       // open at once; one more is closed at once
};

/// The answer to one request head (everything up to and including the blank
/// line): 200 with `render()` for GET or HEAD /metrics (HEAD without the
/// body), 404 for another path, 405 for another method, 400 for a head that
/// is not HTTP/1.x. Always `Connection: close`. `render` runs only for a 200.
std::string AnswerMetricsRequest(std::string_view head, const std::function<std::string()>& render);

class MetricsListener {
 public:
  MetricsListener(boost::asio::io_context& io, std::function<std::string()> render,
                  MetricsListenerLimits limits = {});
  ~MetricsListener();
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  /// Binds and listens on `address`. Fails (kIo) with a message naming the
  /// address and the OS's reason (in use, not an address of this host).
  Status Listen(const ListenAddress& address);
  /// Starts accepting; each request is answered on the loop.
  void Start();
  /// Stops accepting; connections already open finish their answer.
  void Close();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace nodeagent
