// File names on a node are bytes, not text: a service may create a log whose
// name holds a newline or invalid UTF-8. Everything log-cleanup prints or puts
// into JSON goes through EscapePath so that such a name cannot forge extra
// output lines or break the JSON encoder.
#pragma once

#include <string>
#include <string_view>

namespace nodeagent::logc {

/// Returns `raw` with `\` as `\\`, newline/tab/CR as `\n` `\t` `\r`, other
/// control bytes, DEL and bytes that are not part of valid UTF-8 as `\xNN`.
/// Valid multi-byte UTF-8 passes unchanged. The result is valid UTF-8.
std::string EscapePath(std::string_view raw);

}  // namespace nodeagent::logc
