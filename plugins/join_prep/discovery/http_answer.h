// Reading the one HTTP/1.1 answer the discovery check asks the API server
// for (over an unverified TLS connection, so no HTTP library is involved):
// the status line, the headers, a body by Content-Length, chunks or EOF, and
// the Date header's IMF-fixdate, which the clock-skew check compares with the
// node's clock.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "discovery/endpoint_probe.h"

namespace nodeagent::join_prep {

/// Parses a whole answer as read up to EOF. InvalidArgument saying what is
/// malformed (no status line, a bad chunk size).
Result<HttpAnswer> ParseHttpAnswer(std::string_view raw);

/// True once `raw` holds the headers and the whole body they announce
/// (Content-Length reached, or the last chunk of a chunked body).
bool HttpAnswerComplete(std::string_view raw);

/// "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 IMF-fixdate) as a time point;
/// nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> ParseHttpDate(std::string_view text);

}  // namespace nodeagent::join_prep
