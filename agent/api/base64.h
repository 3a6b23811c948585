// Base64 encoding for the core (not part of the plugin API): exec credential
// requests carry a CA as base64, and the secret scrubber looks for a secret's
// base64 and base64url forms. One encoder for both, with the alphabet and the
// padding as arguments.
#pragma once

#include <string>
#include <string_view>

namespace nodeagent {

enum class Base64Alphabet { kStandard, kUrl };  // "+/" or "-_" (RFC 4648 sections 4 and 5)

/// `in` encoded; with `pad`, "=" fills the last group of four.
std::string EncodeBase64(std::string_view in, Base64Alphabet alphabet = Base64Alphabet::kStandard, bool pad = true);

}  // namespace nodeagent
