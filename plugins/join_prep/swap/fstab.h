// /etc/fstab as the swap checks see it: which lines name a swap area that
// systemd-fstab-generator (or `swapon -a`) would turn on at boot, which
// swap lines are already off (commented, noauto), and which lines cannot be
// read at all. The fix comments out exactly the swap lines that would come
// back, by inserting a marker at the start of each and keeping every other
// byte as it was (CRLF endings, tabs, trailing blanks, a missing final
// newline), so the plan's diff is one line per swap area and a malformed
// line is never touched.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/result.h"

namespace nodeagent::join_prep {

/// A longer fstab is refused (a real one has tens of lines).
inline constexpr size_t kMaxFstabLines = 10000;

/// Put before a swap line the fix turns off; a line starting with it is a
/// comment like any other, so a second run finds nothing to do.
inline constexpr std::string_view kFstabSwapOffMarker = "# nodeagent: swap off for the kubelet: ";

struct FstabLine {
  enum class Kind { kBlank, kComment, kEntry, kMalformed };
  Kind kind = Kind::kBlank;
  size_t number = 0;  ///< 1-based
  size_t offset = 0;  ///< byte offset of the line's first character in the file
  std::string text;   ///< the line without its "\n" or "\r\n"
  /// kEntry: the fields with octal escapes undone (spec, file, type, options;
  /// options "defaults" when absent). kMalformed: the raw fields.
  std::vector<std::string> fields;
  std::string problem;  ///< kMalformed: why ("2 fields, expected at least 3")

  bool IsSwapEntry() const { return kind == Kind::kEntry && fields.size() >= 3 && fields[2] == "swap"; }
  /// A malformed line whose third field says swap: it may or may not be
  /// one, and is never touched.
  bool MaybeSwap() const { return kind == Kind::kMalformed && fields.size() >= 3 && fields[2] == "swap"; }
  /// An entry whose options list holds `option` ("noauto").
  bool HasOption(std::string_view option) const;
};

/// Splits an fstab into lines and classifies each. Error (InvalidArgument)
/// only beyond kMaxFstabLines; a bad line is a kMalformed line, not an error.
Result<std::vector<FstabLine>> ParseFstab(std::string_view text);

/// The text with kFstabSwapOffMarker inserted at the start of each given
/// line (by offset); all other bytes are kept.
std::string CommentOutLines(std::string_view text, const std::vector<const FstabLine*>& lines);

}  // namespace nodeagent::join_prep
