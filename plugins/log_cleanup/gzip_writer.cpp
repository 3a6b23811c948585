#include "gzip_writer.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <random>
#include <vector>

namespace nodeagent::logc {

namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { if (fd_ >= 0) ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Close() { int r = ::close(fd_); fd_ = -1; return r; }

 private:
  int fd_;
};

Status WriteAll(int fd, const unsigned char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("writing the compressed file", errno);
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

/// Streams `in` into `out` as gzip.
Result<GzipResult> Deflate(int in, int out) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Internal("zlib deflateInit2 failed");
  std::vector<unsigned char> ibuf(128 * 1024), obuf(128 * 1024);
  GzipResult r;
  Status st;
  for (bool eof = false; !eof && st.ok();) {
    ssize_t n = ::read(in, ibuf.data(), ibuf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      st = ErrnoError("reading the file to compress", errno);
      break;
    }
    eof = n == 0;
    r.bytes_in += n;
    z.next_in = ibuf.data();
    z.avail_in = static_cast<uInt>(n);
    do {
      z.next_out = obuf.data();
      z.avail_out = static_cast<uInt>(obuf.size());
      deflate(&z, eof ? Z_FINISH : Z_NO_FLUSH);
      size_t have = obuf.size() - z.avail_out;
      r.bytes_out += static_cast<int64_t>(have);
      st = WriteAll(out, obuf.data(), have);
    } while (st.ok() && z.avail_out == 0);
  }
  deflateEnd(&z);
  if (!st.ok()) return st.error();
  return r;
}

}  // namespace

Result<GzipResult> GzipFileAt(int dir_fd, const std::string& name, const struct stat& expected) {
  int in_fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (in_fd < 0 && errno == EPERM) in_fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  Fd in(in_fd);
  if (in.get() < 0) return ErrnoError("opening " + name + " to compress it", errno);
  struct stat st;
  if (::fstat(in.get(), &st) != 0) return ErrnoError("fstat " + name, errno);
  if (!S_ISREG(st.st_mode) || st.st_dev != expected.st_dev || st.st_ino != expected.st_ino)
    return Error(ErrorCode::kConflict, name + " was replaced before it could be compressed");

  const std::string gz = name + ".gz";
  struct stat existing;
  if (::fstatat(dir_fd, gz.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0)
    return Error(ErrorCode::kAlreadyExists, gz + " already exists; not compressing " + name);

  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::string tmp = "." + gz + ".tmp-nodeagent-" + std::to_string(rng() % 100000000);
  Fd out(::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (out.get() < 0) return ErrnoError("creating " + tmp, errno);
  auto fail = [&](Error e) -> Result<GzipResult> {
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return e;
  };
  Result<GzipResult> r = Deflate(in.get(), out.get());
  if (!r.ok()) return fail(r.error().Wrap("compressing " + name));
  struct stat after;
  if (::fstat(in.get(), &after) != 0 || after.st_size != r->bytes_in || after.st_mtim.tv_sec != st.st_mtim.tv_sec ||
      after.st_mtim.tv_nsec != st.st_mtim.tv_nsec)
    return fail(Error(ErrorCode::kConflict, name + " changed while it was being compressed; kept as is"));
  // Same owner, mode and times as the original.
  if (::fchown(out.get(), st.st_uid, st.st_gid) != 0 && errno != EPERM) return fail(ErrnoError("chown " + tmp, errno));
  if (::fchmod(out.get(), st.st_mode & 07777) != 0) return fail(ErrnoError("chmod " + tmp, errno));
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(out.get(), times) != 0) return fail(ErrnoError("setting the mtime of " + tmp, errno));
  if (::fsync(out.get()) != 0) return fail(ErrnoError("fsync " + tmp, errno));
  if (out.Close() != 0) return fail(ErrnoError("closing " + tmp, errno));
  if (::renameat2(dir_fd, tmp.c_str(), dir_fd, gz.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    if (err == EEXIST) return fail(Error(ErrorCode::kAlreadyExists, gz + " appeared meanwhile; not compressing " + name));
    return fail(ErrnoError("renaming " + tmp + " to " + gz, err));
  }
  if (::fsync(dir_fd) != 0) return ErrnoError("fsync of the directory of " + gz, errno);
  // Only now, with the .gz durable, the original goes - if it is still the same file.
  struct stat now;
  if (::fstatat(dir_fd, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0 || now.st_ino != st.st_ino ||
      now.st_dev != st.st_dev)
    return Error(ErrorCode::kConflict, name + " was replaced after compressing; both kept");
  if (::unlinkat(dir_fd, name.c_str(), 0) != 0) return ErrnoError("removing " + name + " after compressing", errno);
  return r;
}

}  // namespace nodeagent::logc
