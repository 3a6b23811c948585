/* Keeps packaged binaries within RHEL 9's glibc (2.34). Debian 12's static
 * libstdc++ (GCC 12, built against glibc 2.36) calls arc4random() from
 * std::random_device, which would make every binary need GLIBC_2.36. This
 * definition, linked into each executable and plugin by packaging.cmake when
 * NODEAGENT_PORTABLE_LINK is on, satisfies that reference with getrandom(2)
 * (GLIBC_2.25). Hidden: never exported from a plugin. */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include <unistd.h>

__attribute__((visibility("hidden"))) uint32_t arc4random(void) {
  uint32_t value;
  size_t got = 0;
  while (got < sizeof value) {
    ssize_t n = getrandom((char*)&value + got, sizeof value - got, 0);
    if (n > 0) {
      got += (size_t)n;
    } else if (n < 0 && errno != EINTR) {
      /* getrandom exists since Linux 3.17; arc4random must not fail. */
      _exit(127);
    }
  }
  return value;
}
