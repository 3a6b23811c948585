#include "discovery/http_answer.h"

#include <cctype>
#include <cstdlib>
#include <ctime>

namespace nodeagent::join_prep {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

/// Decodes a chunked body; nullopt when it is cut short or malformed.
std::optional<std::string> Dechunk(std::string_view in, bool* complete) {
  std::string out;
  *complete = false;
  for (int chunks = 0; chunks < 100000; ++chunks) {
    size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) return out;
    std::string_view size_text = in.substr(0, eol);
    if (size_t semi = size_text.find(';'); semi != std::string_view::npos) size_text = size_text.substr(0, semi);
    size_text = Trim(size_text);
    if (size_text.empty() || size_text.size() > 8 ||
        size_text.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos)
      return std::nullopt;
    size_t size = std::strtoul(std::string(size_text).c_str(), nullptr, 16);
    in.remove_prefix(eol + 2);
    if (size == 0) {
      *complete = true;
      return out;
    }
    if (in.size() < size + 2) return out;
    out.append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
  return std::nullopt;
}

struct Head {
  HttpAnswer answer;
  size_t body_start = 0;
};

Result<Head> ParseHead(std::string_view raw) {
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string_view::npos) return InvalidArgument("the HTTP answer ends before its headers do");
  Head head;
  head.body_start = end + 4;
  std::string_view lines = raw.substr(0, end);
  size_t eol = lines.find("\r\n");
  std::string_view status = lines.substr(0, eol);
  // "HTTP/1.1 200 OK"
  if (status.substr(0, 5) != "HTTP/" || status.size() < 12 || status[8] != ' ' ||
      !std::isdigit(static_cast<unsigned char>(status[9])))
    return InvalidArgument("not an HTTP answer: \"" + std::string(status.substr(0, 80)) + "\"");
  head.answer.status = std::atoi(std::string(status.substr(9, 3)).c_str());
  head.answer.reason = std::string(Trim(status.size() > 13 ? status.substr(13) : ""));
  std::string_view rest = eol == std::string_view::npos ? "" : lines.substr(eol + 2);
  for (int n = 0; !rest.empty() && n < 200; ++n) {
    size_t e = rest.find("\r\n");
    std::string_view line = rest.substr(0, e);
    rest = e == std::string_view::npos ? "" : rest.substr(e + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    head.answer.headers[Lower(Trim(line.substr(0, colon)))] = std::string(Trim(line.substr(colon + 1)));
  }
  return head;
}

bool IsChunked(const HttpAnswer& a) {
  auto it = a.headers.find("transfer-encoding");
  return it != a.headers.end() && Lower(it->second).find("chunked") != std::string::npos;
}

std::optional<size_t> ContentLength(const HttpAnswer& a) {
  auto it = a.headers.find("content-length");
  if (it == a.headers.end() || it->second.empty() || it->second.size() > 12 ||
      it->second.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return static_cast<size_t>(std::strtoull(it->second.c_str(), nullptr, 10));
}

}  // namespace

Result<HttpAnswer> ParseHttpAnswer(std::string_view raw) {
  auto head = ParseHead(raw);
  if (!head) return head.error();
  std::string_view body = raw.substr(head->body_start);
  HttpAnswer answer = std::move(head->answer);
  if (IsChunked(answer)) {
    bool complete = false;
    auto decoded = Dechunk(body, &complete);
    if (!decoded) return InvalidArgument("the HTTP answer has a malformed chunked body");
    if (!complete) return InvalidArgument("the HTTP answer's chunked body was cut short");
    answer.body = std::move(*decoded);
  } else if (auto len = ContentLength(answer)) {
    if (body.size() < *len)
      return InvalidArgument("the HTTP answer's body was cut short (" + std::to_string(body.size()) + " of " +
                             std::to_string(*len) + " bytes)");
    answer.body = std::string(body.substr(0, *len));
  } else {
    answer.body = std::string(body);
  }
  return answer;
}

bool HttpAnswerComplete(std::string_view raw) {
  auto head = ParseHead(raw);
  if (!head) return false;
  std::string_view body = raw.substr(head->body_start);
  if (IsChunked(head->answer)) {
    bool complete = false;
    auto decoded = Dechunk(body, &complete);
    return !decoded || complete;  // malformed: stop reading, the parse says why
  }
  if (auto len = ContentLength(head->answer)) return body.size() >= *len;
  return false;  // read to EOF
}

std::optional<std::chrono::system_clock::time_point> ParseHttpDate(std::string_view text) {
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  text = Trim(text);
  if (text.size() != 29 || text[3] != ',' || text.substr(26) != "GMT") return std::nullopt;
  auto num = [&](size_t pos, size_t len, int* out) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
      v = v * 10 + (text[i] - '0');
    }
    *out = v;
    return true;
  };
  std::tm tm{};
  int mon = -1;
  for (int i = 0; i < 12; ++i)
    if (text.substr(8, 3) == kMonths[i]) mon = i;
  if (mon < 0 || !num(5, 2, &tm.tm_mday) || !num(12, 4, &tm.tm_year) || !num(17, 2, &tm.tm_hour) ||
      !num(20, 2, &tm.tm_min) || !num(23, 2, &tm.tm_sec) || text[19] != ':' || text[22] != ':')
    return std::nullopt;
  tm.tm_mon = mon;
  tm.tm_year -= 1900;
  if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) return std::nullopt;
  time_t t = timegm(&tm);
  return std::chrono::system_clock::from_time_t(t);
}

}  // namespace nodeagent::join_prep
