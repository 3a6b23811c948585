// Where notifications go: one `[[notify]]` table of the config, as data. It
// sits apart from the notifier so the config (linked by the daemon) and the
// worker protocol can carry targets without linking the sending code.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace nodeagent {

/// The body a target gets: generic JSON, Slack's `{"text"}`, or a Microsoft
/// Teams message holding an Adaptive Card (what Teams Workflows and the
/// older incoming webhooks both accept).
enum class NotifyFormat { kJson, kSlack, kTeams };

inline constexpr std::string_view kNotifyFormatNames[] = {"json", "slack", "teams"};

inline std::string_view NotifyFormatName(NotifyFormat f) { return kNotifyFormatNames[static_cast<int>(f)]; }

/// One webhook. `url` is a secret (its path usually holds the token): it is
/// shown only through RedactUrl.
struct NotifyTarget {
  std::string name;  // for logs; "notify[N]" when not configured
  std::string url;   // http:// or https://
  NotifyFormat format = NotifyFormat::kJson;
  std::vector<std::string> events;  // empty or "*": every event
  std::chrono::milliseconds timeout{5000};  // one attempt
  int retries = 3;                          // after the first attempt
};

}  // namespace nodeagent
