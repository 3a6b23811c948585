#include "swap/fstab.h"

#include <algorithm>

#include "swap/proc_swaps.h"

namespace nodeagent::join_prep {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::vector<std::string> SplitFields(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsBlank(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !IsBlank(line[i])) ++i;
    if (i > start) out.emplace_back(line.substr(start, i - start));
  }
  return out;
}

bool IsNumber(std::string_view s) {
  return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// Fields as libmount takes them: spec, file, type required; options,
/// freq and passno optional; freq and passno numbers.
FstabLine ClassifyFields(FstabLine line, std::string_view body) {
  auto raw = SplitFields(body);
  if (raw.size() < 3) {
    line.kind = FstabLine::Kind::kMalformed;
    line.problem = std::to_string(raw.size()) + (raw.size() == 1 ? " field" : " fields") +
                   ", expected at least 3 (device, mount point, type)";
    line.fields = std::move(raw);
    return line;
  }
  if (raw.size() > 6) {
    line.kind = FstabLine::Kind::kMalformed;
    line.problem = std::to_string(raw.size()) + " fields, expected at most 6";
    line.fields = std::move(raw);
    return line;
  }
  for (size_t i = 4; i < raw.size(); ++i) {
    if (!IsNumber(raw[i])) {
      line.kind = FstabLine::Kind::kMalformed;
      line.problem = std::string(i == 4 ? "dump" : "pass") + " field \"" + raw[i] + "\" is not a number";
      line.fields = std::move(raw);
      return line;
    }
  }
  line.kind = FstabLine::Kind::kEntry;
  for (size_t i = 0; i < 4; ++i) line.fields.push_back(i < raw.size() ? UnescapeOctal(raw[i]) : "defaults");
  return line;
}

}  // namespace

bool FstabLine::HasOption(std::string_view option) const {
  if (kind != Kind::kEntry || fields.size() < 4) return false;
  std::string_view opts = fields[3];
  size_t pos = 0;
  while (pos <= opts.size()) {
    size_t comma = opts.find(',', pos);
    auto one = opts.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (one == option) return true;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return false;
}

Result<std::vector<FstabLine>> ParseFstab(std::string_view text) {
  std::vector<FstabLine> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    if (lines.size() >= kMaxFstabLines)
      return InvalidArgument("/etc/fstab: more than " + std::to_string(kMaxFstabLines) + " lines");
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    FstabLine line;
    line.number = lines.size() + 1;
    line.offset = pos;
    std::string_view body = text.substr(pos, end - pos);
    if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
    line.text = std::string(body);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;

    size_t first = body.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
      line.kind = FstabLine::Kind::kBlank;
    } else if (body[first] == '#') {
      line.kind = FstabLine::Kind::kComment;
    } else {
      line = ClassifyFields(std::move(line), body);
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

std::string CommentOutLines(std::string_view text, const std::vector<const FstabLine*>& lines) {
  std::vector<size_t> offsets;
  for (const auto* l : lines) offsets.push_back(l->offset);
  std::sort(offsets.begin(), offsets.end());
  offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());
  std::string out;
  out.reserve(text.size() + offsets.size() * kFstabSwapOffMarker.size());
  size_t copied = 0;
  for (size_t off : offsets) {
    if (off > text.size()) continue;
    out.append(text.substr(copied, off - copied));
    out.append(kFstabSwapOffMarker);
    copied = off;
  }
  out.append(text.substr(copied));
  return out;
}

}  // namespace nodeagent::join_prep
