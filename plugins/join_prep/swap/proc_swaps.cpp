#include "swap/proc_swaps.h"

namespace nodeagent::join_prep {
namespace {

bool IsOctal(char c) { return c >= '0' && c <= '7'; }

std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

constexpr std::string_view kDeletedSuffix = " (deleted)";

}  // namespace

std::string UnescapeOctal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && IsOctal(s[i + 1]) && IsOctal(s[i + 2]) && IsOctal(s[i + 3])) {
      int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      if (v <= 0xff) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

Result<std::vector<ActiveSwap>> ParseProcSwaps(std::string_view text) {
  std::vector<ActiveSwap> swaps;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    auto where = "/proc/swaps:" + std::to_string(line_no);
    auto fields = SplitFields(line);
    if (line_no == 1) {
      if (fields.empty() || fields[0] != "Filename")
        return InvalidArgument(where + ": expected the header line starting with \"Filename\", got \"" +
                               std::string(line.substr(0, 80)) + "\"");
      continue;
    }
    if (fields.empty()) continue;
    if (swaps.size() >= kMaxProcSwapsEntries)
      return InvalidArgument(where + ": more than " + std::to_string(kMaxProcSwapsEntries) + " swap areas");
    if (fields.size() < 5)
      return InvalidArgument(where + ": expected 5 fields (Filename Type Size Used Priority), got " +
                             std::to_string(fields.size()));
    ActiveSwap s;
    s.path = UnescapeOctal(fields[0]);
    if (s.path.size() > kDeletedSuffix.size() &&
        s.path.compare(s.path.size() - kDeletedSuffix.size(), kDeletedSuffix.size(), kDeletedSuffix) == 0) {
      s.deleted = true;
      s.path.resize(s.path.size() - kDeletedSuffix.size());
    }
    s.type = fields[1];
    s.size_kib = fields[2];
    s.used_kib = fields[3];
    s.priority = fields[4];
    swaps.push_back(std::move(s));
  }
  if (line_no == 0) return InvalidArgument("/proc/swaps: empty (no header line)");
  return swaps;
}

}  // namespace nodeagent::join_prep
