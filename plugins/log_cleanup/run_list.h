// The run's full list (`agentctl logs RUN --all`) holds one row per file: what
// a dry run would delete or compress, what a real run did. Both write the same
// row, built here, so that a script reads either: KIND TAB BYTES TAB MTIME TAB
// PATH, the path escaped (EscapePath) so that a row is always one line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nodeagent::logc {

/// Appends "2026-11-10T10:00:00Z" (UTC, whole seconds) without gmtime and
/// strftime: it runs once per listed file.
void AppendIsoTime(std::string& out, int64_t ns);

/// Appends one row: KIND TAB BYTES TAB MTIME TAB DIR/NAME newline. `dir` and
/// `name` are already escaped.
void AppendListRow(std::string& out, std::string_view kind, int64_t bytes, int64_t mtime_ns, std::string_view dir,
                   std::string_view name);

/// Appends the row of a removed (or, in a dry run, removable) directory:
/// "rmdir TAB 0 TAB - TAB DIR" newline, `dir` escaped.
void AppendRmdirRow(std::string& out, std::string_view dir);

}  // namespace nodeagent::logc
