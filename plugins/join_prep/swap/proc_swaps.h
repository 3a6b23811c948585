// The swap areas the kernel has active now, as <root>/proc/swaps lists them.
// The kubelet (failSwapOn) and kubeadm's `Swap` preflight both look at this
// file; we parse it the same way but keep each area's path exactly (the
// kernel writes a space, tab, newline or backslash in a path as an octal
// escape like \040, and appends " (deleted)" to a swap file unlinked while
// in use), so that a swapoff fix names the right file or refuses to guess.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/result.h"

namespace nodeagent::join_prep {

/// At most this many areas are read (the kernel allows 32, MAX_SWAPFILES).
inline constexpr size_t kMaxProcSwapsEntries = 256;

struct ActiveSwap {
  std::string path;      ///< unescaped, without the " (deleted)" suffix
  std::string type;      ///< "partition" or "file"
  std::string size_kib;  ///< as printed
  std::string used_kib;
  std::string priority;
  bool deleted = false;  ///< a swap file removed while active: no path reaches it any more
};

/// Parses the whole text of /proc/swaps (header line first). An unexpected
/// header, a line with fewer than 5 fields or more than kMaxProcSwapsEntries
/// lines is InvalidArgument naming /proc/swaps:LINE.
Result<std::vector<ActiveSwap>> ParseProcSwaps(std::string_view text);

/// Undoes the kernel's (and fstab's) octal escapes: "\040" -> " ". A
/// backslash not followed by three octal digits is kept as it is.
std::string UnescapeOctal(std::string_view s);

}  // namespace nodeagent::join_prep
