#include "base64.h"

#include <catch2/catch.hpp>

using namespace nodeagent;

TEST_CASE("EncodeBase64 follows RFC 4648's test vectors, padded or not, in both alphabets") {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [in, out] : vectors) {
    INFO(in);
    CHECK(EncodeBase64(in) == out);
    std::string unpadded(out);
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
    CHECK(EncodeBase64(in, Base64Alphabet::kStandard, false) == unpadded);
  }
  CHECK(EncodeBase64("\xfb\xff\xbf") == "+/+/");
  CHECK(EncodeBase64("\xfb\xff\xbf", Base64Alphabet::kUrl) == "-_-_");
}
