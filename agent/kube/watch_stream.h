// Reading a watch answer: the API server streams one JSON event per line
// ({"type":"ADDED","object":{...}}), in chunks that cut lines anywhere. This
// unit turns those bytes into WatchEvents for the caller's callback, keeps the
// last resourceVersion seen (where a reconnect resumes), and notices what ends
// a stream: an ERROR event (410 Gone: relist), a malformed line, a line over
// the event cap, or the callback saying stop. Kept apart from the HTTP code so
// the parsing is tested with plain strings.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "http/curl_transport.h"
#include "nodeagent/kube.h"

namespace nodeagent::kube {

class WatchStreamParser : public curl::BodyStream {
 public:
  /// `callback` and `resource_version` must outlive the parser;
  /// `resource_version` is updated with every event that carries one.
  WatchStreamParser(const WatchCallback& callback, std::string& resource_version, size_t max_event_bytes);

  /// Feeds the next chunk. False once the stream must end (see below).
  bool OnData(std::string_view chunk) override;

  /// The server said the resourceVersion is too old (ERROR with code 410).
  bool gone() const { return gone_; }
  /// The callback returned false.
  bool callback_stopped() const { return callback_stopped_; }
  /// A malformed line, an ERROR event other than 410, or an event over the cap.
  bool stream_error() const { return stream_error_; }
  const std::string& stream_error_message() const { return stream_error_message_; }
  /// Events handed to the callback (ADDED, MODIFIED, DELETED, BOOKMARK).
  int events() const { return events_; }

 private:
  bool HandleLine(std::string_view line);
  bool Fail(std::string message);

  const WatchCallback& callback_;
  std::string& resource_version_;
  size_t max_event_bytes_;
  std::string buffer_;
  bool gone_ = false;
  bool callback_stopped_ = false;
  bool stream_error_ = false;
  std::string stream_error_message_;
  int events_ = 0;
};

}  // namespace nodeagent::kube
