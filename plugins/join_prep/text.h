// Small text helpers every check unit needs when it reads a command's output
// or a config file: split into lines, trim blanks, and quote the one line of
// a failed command's stderr that a message can carry. One copy for the
// plugin, so each unit's messages are cut and trimmed the same way.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace nodeagent::join_prep {

/// The lines of `text` without their "\n" (and a trailing "\r"); a last line
/// without a newline counts; no line for an empty text.
std::vector<std::string_view> Lines(std::string_view text);

/// `s` without leading blanks (space, tab) and trailing blanks and line ends
/// (space, tab, CR, LF).
std::string_view TrimView(std::string_view s);

/// The last non-blank line of a command's output, trimmed, cut to `max`
/// bytes (then "..." is added): what an error message quotes.
std::string LastLine(std::string_view text, size_t max = 300);

/// The line of a failed command's stderr that says what went wrong: the
/// last one starting "Error:" (nft puts the rule and a caret line after it),
/// else LastLine; cut like LastLine.
std::string ErrorLine(std::string_view stderr_text, size_t max = 300);

}  // namespace nodeagent::join_prep
