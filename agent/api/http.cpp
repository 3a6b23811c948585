#include "nodeagent/http.h"

namespace nodeagent {

std::string RedactUrl(std::string_view url) {
  size_t scheme_end = url.find("://");
  size_t host_begin = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  size_t host_end = url.find_first_of("/?#", host_begin);
  if (host_end == std::string_view::npos) host_end = url.size();
  std::string_view authority = url.substr(host_begin, host_end - host_begin);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  std::string out(url.substr(0, host_begin));
  out += authority;
  std::string_view rest = url.substr(host_end);
  if (!rest.empty() && rest != "/") out += "/...";
  return out;
}

}  // namespace nodeagent
