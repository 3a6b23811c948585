// Tells people what the node is doing: one POST per phase (drain, reboot,
// uncordon, failure) to a webhook, as generic JSON or as a Slack-compatible
// {"text": ...} body. Best effort: a failed notification is logged, never
// fails the run.
#pragma once

#include <string>

#include "nodeagent/http.h"

namespace nodeagent::drain {

enum class NotifyFormat { kJson, kSlack };

struct Notification {
  std::string event;  // "drain", "reboot", "uncordon", "failure"
  std::string node;
  std::string run_id;
  std::string action;
  std::string message;
};

class Notifier {
 public:
  /// `http` must outlive the notifier. An empty url disables it.
  Notifier(HttpClient* http, std::string url, NotifyFormat format);
  /// The body that would be sent.
  std::string Body(const Notification& n, const std::string& time) const;
  /// Ok when no url is set or the webhook answered 2xx.
  Status Send(const Notification& n, const std::string& time);

 private:
  HttpClient* http_;
  std::string url_;
  NotifyFormat format_;
};

}  // namespace nodeagent::drain
