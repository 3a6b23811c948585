#include "runner/secret_scrubber.h"

#include <catch2/catch.hpp>

namespace nodeagent {
namespace {

const ParamSpec kSpecs[] = {
    {.name = "token", .type = ParamType::kString, .doc = "t", .secret = true},
    {.name = "urls", .type = ParamType::kStringList, .doc = "u", .secret = true},
    {.name = "plain", .type = ParamType::kString, .doc = "p"},
    {.name = "headers", .type = ParamType::kStringMap, .doc = "h", .secret = true},
};

TEST_CASE("secret scrubber replaces every secret parameter and its encoded forms") {
  Params p;
  p.Set("token", std::string("abc/def+ghi jkl=="));
  p.Set("urls", std::vector<std::string>{"https://hooks.slack.example/T0/B0/XyZ"});
  p.Set("plain", std::string("visible"));
  SecretScrubber s(kSpecs, p);
  CHECK(s.Scrub("token abc/def+ghi jkl== here") == "token <redacted> here");
  CHECK(s.Scrub("q=abc%2Fdef%2Bghi%20jkl%3D%3D") == "q=<redacted>");
  CHECK(s.Scrub("q=abc%2fdef%2bghi%20jkl%3d%3d") == "q=<redacted>");
  CHECK(s.Scrub("form=abc%2Fdef%2Bghi+jkl%3D%3D") == "form=<redacted>");
  CHECK(s.Scrub("b64 YWJjL2RlZitnaGkgamtsPT0=") == "b64 <redacted>=");
  CHECK(s.Scrub("url https://hooks.slack.example/T0/B0/XyZ done") == "url <redacted> done");
  CHECK(s.Scrub("visible stays") == "visible stays");
}

TEST_CASE("secret scrubber hides the values of a secret string map, not its keys") {
  Params p;
  p.Set("headers", StringMap{{"Authorization", "Bearer tok-0123456789"}, {"X-Api-Key", "k3y-abcdef"}});
  SecretScrubber s(kSpecs, p);
  CHECK(s.Scrub("Authorization: Bearer tok-0123456789") == "Authorization: <redacted>");
  CHECK(s.Scrub("X-Api-Key=k3y-abcdef") == "X-Api-Key=<redacted>");
}

TEST_CASE("secret scrubber finds base64 of a secret inside a longer encoding at any offset") {
  Params p;
  p.Set("token", std::string("s3cr3t-join-token-0123"));
  SecretScrubber s(kSpecs, p);
  // base64("admin:" + secret) and base64("Bearer! " + secret): offsets 0 and 2 mod 3.
  for (std::string prefix : {"admin:", "Bearer ", "x"}) {
    std::string plain = prefix + "s3cr3t-join-token-0123";
    // Encode with the same routine a tool would use (standard alphabet, padded).
    static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string enc;
    size_t i = 0;
    for (; i < plain.size(); i += 3) {
      size_t n = std::min<size_t>(3, plain.size() - i);
      uint32_t v = uint8_t(plain[i]) << 16;
      if (n > 1) v |= uint8_t(plain[i + 1]) << 8;
      if (n > 2) v |= uint8_t(plain[i + 2]);
      for (size_t k = 0; k < 4; ++k) enc += k <= n ? abc[(v >> (18 - 6 * k)) & 63] : '=';
    }
    std::string scrubbed = s.Scrub("Authorization: Basic " + enc);
    INFO(prefix << " -> " << enc << " -> " << scrubbed);
    CHECK(scrubbed.find("<redacted>") != std::string::npos);
  }
}

TEST_CASE("secret scrubber cleans a run record and JSON keys") {
  Params p;
  p.Set("token", std::string("tok-123456"));
  SecretScrubber s(kSpecs, p);
  RunRecord r;
  r.summary = "used tok-123456";
  r.findings.push_back({Severity::kWarning, "tok-123456", "leaked tok-123456"});
  r.changes.push_back({"edit", "/etc/x", "set tok-123456", "+tok-123456\n", 0});
  r.data = {{"tok-123456", {"a", "tok-123456"}}, {"n", 3}};
  r.logs.push_back({0, LogLevel::kInfo, "stderr: tok-123456"});
  s.Scrub(r);
  std::string all = ToJson(r).dump();
  CHECK(all.find("tok-123456") == std::string::npos);
  CHECK(r.data["n"] == 3);
  CHECK(r.summary == "used <redacted>");
}

TEST_CASE("no secret set: nothing is changed") {
  Params p;
  p.Set("plain", std::string("value"));
  SecretScrubber s(kSpecs, p);
  CHECK(s.empty());
  CHECK(s.Scrub("value") == "value");
}

}  // namespace
}  // namespace nodeagent
