#include "base64.h"

#include <algorithm>
#include <cstdint>

namespace nodeagent {

std::string EncodeBase64(std::string_view in, Base64Alphabet alphabet, bool pad) {
  const char* abc = alphabet == Base64Alphabet::kUrl
                        ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                        : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    const size_t n = std::min<size_t>(3, in.size() - i);  // bytes in this group
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (n > 1) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    if (n > 2) v |= uint8_t(in[i + 2]);
    for (size_t k = 0; k <= n; ++k) out.push_back(abc[(v >> (18 - 6 * k)) & 63]);  // n bytes make n+1 chars
    if (pad)
      for (size_t k = n; k < 3; ++k) out.push_back('=');
  }
  return out;
}

}  // namespace nodeagent
