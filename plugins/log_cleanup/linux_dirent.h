// The record the getdents64(2) system call fills a buffer with. glibc 2.36
// (Debian 12) has no wrapper for it, and both the cleanup walk and the
// open-file index read directories with it directly: one getdents64 call
// per 64 KiB of entries, without readdir's per-entry copy and allocation.
#pragma once

#include <cstdint>

namespace nodeagent::logc {

struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

}  // namespace nodeagent::logc
