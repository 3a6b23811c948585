// UnifiedDiff of two files as a program, for the benchmark against GNU diff
// (bench/file_diff.sh): prints what `diff -u OLD NEW` prints, with the paths
// as labels, and exits as diff does (0: same, 1: different, 2: trouble).
//   file_diff_bench_driver OLD NEW
// Each file is read into a buffer of its exact size, so peak RSS is the two
// texts, the diff's own memory and its output.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "nodeagent/file_edit.h"

namespace {

bool ReadExactly(const char* path, std::string& out) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0;
  if (ok) {
    out.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (ok && done < out.size()) {
      ssize_t n = ::read(fd, out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ok = false;
      else if (n == 0) out.resize(done);  // the file shrank while being read
      else done += static_cast<size_t>(n);
    }
  }
  int err = errno;
  ::close(fd);
  errno = err;
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s OLD NEW\n", argv[0]);
    return 2;
  }
  std::string before, after;
  for (auto [path, text] : {std::pair{argv[1], &before}, std::pair{argv[2], &after}}) {
    if (!ReadExactly(path, *text)) {
      std::fprintf(stderr, "%s: %s\n", path, std::strerror(errno));
      return 2;
    }
  }
  const std::string diff = nodeagent::UnifiedDiff(before, after, argv[1], argv[2]);
  for (size_t done = 0; done < diff.size();) {
    ssize_t n = ::write(STDOUT_FILENO, diff.data() + done, diff.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::perror("writing the diff");
      return 2;
    }
    done += static_cast<size_t>(n);
  }
  return diff.empty() ? 0 : 1;
}
