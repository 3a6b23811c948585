#include "cleanup_plan.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <algorithm>

namespace nodeagent::logc {

const char* FileActionName(FileAction action) {
  return action == FileAction::kDelete ? "delete" : "compress";
}

CleanupPlan::~CleanupPlan() {
  for (TopPath& t : tops) {
    if (t.fd >= 0) ::close(t.fd);
  }
}

std::string CleanupPlan::DirPath(uint32_t dir) const {
  std::vector<uint32_t> chain;
  for (uint32_t d = dir; d != kNoDir && dirs[d].parent != kNoDir; d = dirs[d].parent) chain.push_back(d);
  std::string path = tops[dirs[dir].top].host_path;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    path += '/';
    path.append(Name(dirs[*it].name_off, dirs[*it].name_len));
  }
  return path;
}

namespace {

constexpr size_t kSpoolWriteChunk = 256 * 1024;  // one buffer, filled by the walk
constexpr size_t kSpoolReadChunk = 64 * 1024;    // per reading thread (apply runs up to 16)

int OpenSpoolFile() {
  std::vector<std::string> dirs;
  if (const char* tmp = ::getenv("TMPDIR"); tmp && *tmp == '/') dirs.emplace_back(tmp);
  dirs.emplace_back("/var/tmp");
  dirs.emplace_back("/tmp");
  for (const std::string& d : dirs) {
    int fd = ::open(d.c_str(), O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
  }
  return -1;
}

}  // namespace

FileSpool::FileSpool() : fd_(OpenSpoolFile()) {}

FileSpool::~FileSpool() {
  if (fd_ >= 0) ::close(fd_);
}

uint64_t FileSpool::Append(const PlannedFile& f, std::string_view name) {
  uint64_t offset = size();
  std::string& to = fd_ >= 0 ? pending_ : memory_;
  to.append(reinterpret_cast<const char*>(&f), sizeof f);
  to.append(name.data(), f.name_len);
  if (fd_ >= 0 && pending_.size() >= kSpoolWriteChunk) Seal();
  return offset;
}

void FileSpool::Seal() {
  if (fd_ < 0 || pending_.empty()) return;
  size_t done = 0;
  while (done < pending_.size()) {
    ssize_t n = ::pwrite(fd_, pending_.data() + done, pending_.size() - done, static_cast<off_t>(written_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  if (done < pending_.size()) {
    // The disk refused (full?): the records move to memory, all of them.
    std::string all(written_, '\0');
    bool read = written_ == 0 || ReadAt(0, all.data(), written_);
    ::close(fd_);
    fd_ = -1;
    memory_ = read ? std::move(all) : std::string();
    memory_ += pending_;
    written_ = 0;
  } else {
    written_ += done;
  }
  pending_.clear();
}

bool FileSpool::ReadAt(uint64_t off, char* out, size_t len) const {
  if (fd_ < 0) {
    if (off + len > memory_.size()) return false;
    std::memcpy(out, memory_.data() + off, len);
    return true;
  }
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd_, out + got, len - got, static_cast<off_t>(off + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

bool FileSpool::ForEach(uint64_t off, uint64_t bytes,
                        const std::function<void(uint64_t, const PlannedFile&, std::string_view)>& each) const {
  const uint64_t end = off + bytes;
  if (fd_ < 0) {
    while (off < end) {
      PlannedFile f;
      if (off + sizeof f > memory_.size()) return false;
      std::memcpy(&f, memory_.data() + off, sizeof f);
      if (off + sizeof f + f.name_len > memory_.size()) return false;
      each(off, f, std::string_view(memory_.data() + off + sizeof f, f.name_len));
      off += sizeof f + f.name_len;
    }
    return true;
  }
  std::vector<char> buffer;
  while (off < end) {
    size_t len = static_cast<size_t>(std::min<uint64_t>(end - off, kSpoolReadChunk));
    buffer.resize(len);
    if (!ReadAt(off, buffer.data(), len)) return false;
    size_t pos = 0;
    while (pos + sizeof(PlannedFile) <= len) {
      PlannedFile f;
      std::memcpy(&f, buffer.data() + pos, sizeof f);
      if (pos + sizeof f + f.name_len > len) break;  // the rest comes with the next read
      each(off + pos, f, std::string_view(buffer.data() + pos + sizeof f, f.name_len));
      pos += sizeof f + f.name_len;
    }
    if (pos == 0) return false;  // a record longer than a chunk: cannot be
    off += pos;
  }
  return true;
}

void FileSpool::MarkOpen(uint64_t offset) {
  PlannedFile f;
  if (!ReadAt(offset, reinterpret_cast<char*>(&f), sizeof f)) return;
  f.open = true;
  if (fd_ < 0) {
    std::memcpy(memory_.data() + offset, &f, sizeof f);
    return;
  }
  ssize_t n = ::pwrite(fd_, &f, sizeof f, static_cast<off_t>(offset));
  (void)n;
}

void CleanupPlan::AddIssue(std::string escaped_path, std::string message, IssueLevel level) {
  if (level != IssueLevel::kInfo) ++issue_count;
  if (issues.size() < kMaxIssues) issues.push_back({std::move(escaped_path), std::move(message), level});
}

}  // namespace nodeagent::logc
