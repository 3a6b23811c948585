// SHA-256 (FIPS 180-4) of a byte string, for the audit trail's "hash before
// and after" of each file the agent changes. A small implementation of our
// own keeps libcrypto out of the daemon, which links the runner library but
// must stay small (about 5 MiB of RSS for libcrypto and its TLS stack).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace nodeagent {

/// Incremental SHA-256: Update() any number of times, then Finish() once.
class Sha256 {
 public:
  Sha256();
  void Update(std::string_view bytes);
  /// The 32-byte digest; the object is spent afterwards.
  std::array<uint8_t, 32> Finish();

 private:
  void Block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

/// The lowercase hex SHA-256 of `bytes` (64 characters), as sha256sum prints it.
std::string Sha256Hex(std::string_view bytes);

}  // namespace nodeagent
