#include "kube/watch_stream.h"

#include <cctype>

namespace nodeagent::kube {

namespace {

using json = nlohmann::json;

bool IsBlank(std::string_view s) {
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

WatchStreamParser::WatchStreamParser(const WatchCallback& callback, std::string& resource_version,
                                     size_t max_event_bytes)
    : callback_(callback), resource_version_(resource_version), max_event_bytes_(max_event_bytes) {}

bool WatchStreamParser::Fail(std::string message) {
  stream_error_ = true;
  stream_error_message_ = std::move(message);
  return false;
}

bool WatchStreamParser::OnData(std::string_view chunk) {
  buffer_.append(chunk);
  size_t start = 0;
  for (;;) {
    size_t nl = buffer_.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(buffer_.data() + start, nl - start);
    start = nl + 1;
    if (IsBlank(line)) continue;
    if (!HandleLine(line)) {
      buffer_.erase(0, start);
      return false;
    }
  }
  buffer_.erase(0, start);
  if (buffer_.size() > max_event_bytes_) {  // an event this long is not one we could use
    buffer_.clear();
    return Fail("watch event larger than " + std::to_string(max_event_bytes_ >> 20) + " MiB (the client's limit)");
  }
  return true;
}

bool WatchStreamParser::HandleLine(std::string_view line) {
  json ev = json::parse(line, nullptr, false);
  if (ev.is_discarded() || !ev.is_object() || !ev.contains("type")) return Fail("malformed watch event");
  std::string type = ev.value("type", "");
  json object = ev.contains("object") ? ev["object"] : json::object();
  if (type == "ERROR") {
    if (object.value("code", 0) == 410) {
      gone_ = true;
      return false;
    }
    return Fail("watch error: " + object.value("message", object.dump()));
  }
  WatchEvent we;
  if (type == "ADDED") we.type = WatchEventType::kAdded;
  else if (type == "MODIFIED") we.type = WatchEventType::kModified;
  else if (type == "DELETED") we.type = WatchEventType::kDeleted;
  else if (type == "BOOKMARK") we.type = WatchEventType::kBookmark;
  else return true;  // unknown types are skipped
  std::string rv = object.value("/metadata/resourceVersion"_json_pointer, "");
  if (!rv.empty()) resource_version_ = rv;
  ++events_;
  we.object = std::move(object);
  if (!callback_(we)) {
    callback_stopped_ = true;
    return false;
  }
  return true;
}

}  // namespace nodeagent::kube
