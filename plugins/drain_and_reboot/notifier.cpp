#include "notifier.h"

#include <nlohmann/json.hpp>

namespace nodeagent::drain {

Notifier::Notifier(HttpClient* http, std::string url, NotifyFormat format)
    : http_(http), url_(std::move(url)), format_(format) {}

std::string Notifier::Body(const Notification& n, const std::string& time) const {
  if (format_ == NotifyFormat::kSlack)
    return nlohmann::json{{"text", "nodeagent " + n.action + " on " + n.node + ": " + n.event + ": " + n.message +
                                       " (run " + n.run_id + ")"}}
        .dump();
  return nlohmann::json{{"source", "nodeagent"}, {"event", n.event},     {"node", n.node},  {"run_id", n.run_id},
                        {"action", n.action},    {"message", n.message}, {"time", time}}
      .dump();
}

Status Notifier::Send(const Notification& n, const std::string& time) {
  if (url_.empty() || !http_) return Status::Ok();
  auto r = http_->Post(url_, Body(n, time), "application/json", std::chrono::seconds(10));
  if (!r) return r.error().Wrap("notifying " + RedactUrl(url_));
  if (r->status < 200 || r->status >= 300)
    return Error(ErrorCode::kUnavailable, "notifying " + RedactUrl(url_) + ": HTTP " + std::to_string(r->status));
  return Status::Ok();
}

}  // namespace nodeagent::drain
