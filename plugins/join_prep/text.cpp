#include "text.h"

#include <cctype>

namespace nodeagent::join_prep {

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    start = nl + 1;
  }
  return out;
}

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string LastLine(std::string_view text, size_t max) {
  auto blank = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  size_t nl = text.rfind('\n');
  if (nl != std::string_view::npos) text = text.substr(nl + 1);
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  if (text.size() > max) return std::string(text.substr(0, max)) + "...";
  return std::string(text);
}

std::string ErrorLine(std::string_view stderr_text, size_t max) {
  for (size_t pos = stderr_text.rfind("Error:"); pos != std::string_view::npos;
       pos = pos == 0 ? std::string_view::npos : stderr_text.rfind("Error:", pos - 1)) {
    if (pos == 0 || stderr_text[pos - 1] == '\n') {
      size_t end = stderr_text.find('\n', pos);
      return LastLine(stderr_text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos), max);
    }
  }
  return LastLine(stderr_text, max);
}

}  // namespace nodeagent::join_prep
