#include "scheduler/jitter.h"

#include <cstdint>

namespace nodeagent {

namespace {

// FNV-1a over the bytes, then the splitmix64 finalizer to spread the low bits.
uint64_t Fnv1a(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::chrono::milliseconds Jitter(std::string_view task, std::string_view node, TimePoint due,
                                 std::chrono::milliseconds max_jitter) {
  if (max_jitter.count() <= 0) return std::chrono::milliseconds(0);
  uint64_t h = 0xcbf29ce484222325ULL;
  h = Fnv1a(h, task);
  h = Fnv1a(h, std::string_view("\0", 1));
  h = Fnv1a(h, node);
  h = Fnv1a(h, std::string_view("\0", 1));
  uint64_t secs = static_cast<uint64_t>(std::chrono::floor<std::chrono::seconds>(due).time_since_epoch().count());
  char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<char>((secs >> (8 * i)) & 0xff);
  h = Fnv1a(h, std::string_view(le, 8));
  return std::chrono::milliseconds(static_cast<int64_t>(Mix(h) % static_cast<uint64_t>(max_jitter.count())));
}

}  // namespace nodeagent
