// What a log-cleanup walk found: the directories it entered (as a tree of
// names, each with the device and inode it had), the files to delete or
// compress (with the identity, size and mtime they had), per-path totals and
// the problems met. Apply re-opens exactly these directories through their
// parents' descriptors and re-checks each file against what is recorded here.
// Storage is compact on purpose: the directories are fixed-size rows plus one
// name arena; the planned files (one fixed-size row and the name each, about
// 60 bytes) go to a spool, an unlinked temp file, so that the plan's memory
// grows with the directories and not with the files to act on.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nodeagent::logc {

enum class FileAction : uint8_t { kDelete, kCompress };
const char* FileActionName(FileAction action);  // "delete", "compress"

inline constexpr uint32_t kNoDir = UINT32_MAX;
inline constexpr uint64_t kUnknownMountId = UINT64_MAX;  // the kernel told no mount id

struct PlannedFile {
  uint32_t dir;       // index into CleanupPlan::dirs
  uint32_t name_off;  // unused in the spool (the name follows the row)
  uint16_t name_len;
  FileAction action;
  bool open = false;  // found open after the walk: not acted on
  dev_t dev;
  ino_t ino;
  int64_t size;
  int64_t mtime_ns;
};

struct PlannedDir {
  uint32_t parent = kNoDir;  // kNoDir for a top path's own directory
  uint32_t top = 0;
  uint32_t name_off = 0;
  uint16_t name_len = 0;
  uint16_t depth = 0;  // 0 for the top directory
  dev_t dev = 0;
  ino_t ino = 0;
  uint64_t mount_id = kUnknownMountId;  // the mount it was reached through
  uint64_t spool_off = 0;    // its files are the spool's records in [spool_off, spool_off + spool_bytes)
  uint64_t spool_bytes = 0;
  uint32_t file_count = 0;   // of them, those to act on (not open)
  uint32_t entries = 0;          // every entry read (files, dirs, links...)
  uint32_t deletes = 0;          // planned deletions in this directory
  uint32_t subtree_deletes = 0;  // planned deletions in removable subdirectories
  uint32_t removable_children = 0;
  bool remove_if_emptied = false;
};

/// Totals of one top path (a configured path, or one match of its glob).
struct TopTotals {
  int64_t scanned = 0;  // directory entries read
  int64_t matched = 0;  // regular files matching patterns, not excluded
  int64_t delete_files = 0, delete_bytes = 0;
  int64_t compress_files = 0, compress_bytes = 0;
  int64_t skipped_open = 0;
  int64_t kept_newest = 0;
  int64_t excluded = 0;
  int64_t symlinks = 0;    // symlinks seen (never followed)
  int64_t special = 0;     // sockets, FIFOs, devices
  int64_t mount_points = 0;      // subdirectories not entered: another mount (one_file_system)
  int64_t other_filesystem = 0;  // those of them on another device
  int64_t errors = 0;
};

struct TopPath {
  std::string configured;  // as in `paths`
  std::string host_path;   // the directory (glob expanded), unescaped
  int fd = -1;             // open for the plan's lifetime; Apply starts here
  uint32_t dir = kNoDir;
  TopTotals totals;
};

enum class IssueLevel {
  kInfo,        // noteworthy, not a problem (a mount point not entered)
  kWarning,     // part of the tree or a file could not be handled
  kPathFailed,  // a configured path could not be cleaned at all
};

struct Issue {
  std::string path;  // escaped host path
  std::string message;
  IssueLevel level = IssueLevel::kWarning;
};

/// The planned files, appended in walk order (each directory's files are one
/// range) and read back by range. An unlinked temp file (O_TMPFILE in $TMPDIR,
/// else /var/tmp, else /tmp): it vanishes with the process. Where none can be
/// made the records stay in memory, which only costs the memory. Append and
/// MarkOpen are for one thread at a time; after Seal(), ForEach may run on
/// several threads at once.
class FileSpool {
 public:
  FileSpool();
  ~FileSpool();
  FileSpool(const FileSpool&) = delete;
  FileSpool& operator=(const FileSpool&) = delete;

  /// Appends one file and its name; returns the record's offset.
  uint64_t Append(const PlannedFile& f, std::string_view name);
  /// Writes out what is buffered; ForEach reads only what was sealed.
  void Seal();
  uint64_t size() const { return written_ + pending_.size(); }
  bool on_disk() const { return fd_ >= 0; }
  /// Calls each(offset, file, name) for every record in [off, off + bytes),
  /// reading at most 64 KiB at a time. Returns false when reading failed.
  bool ForEach(uint64_t off, uint64_t bytes,
               const std::function<void(uint64_t, const PlannedFile&, std::string_view)>& each) const;
  /// Marks the record at `offset` (sealed) as open.
  void MarkOpen(uint64_t offset);

 private:
  bool ReadAt(uint64_t off, char* out, size_t len) const;

  int fd_ = -1;
  uint64_t written_ = 0;
  std::string pending_;
  std::string memory_;  // every record, when no file could be made
};

class CleanupPlan {
 public:
  CleanupPlan() = default;
  ~CleanupPlan();
  CleanupPlan(const CleanupPlan&) = delete;
  CleanupPlan& operator=(const CleanupPlan&) = delete;

  std::chrono::system_clock::time_point start;
  int64_t delete_cutoff_ns = 0;  // files with mtime strictly below are deleted
  std::optional<int64_t> compress_cutoff_ns;

  std::vector<TopPath> tops;
  std::vector<PlannedDir> dirs;
  FileSpool files;         // the planned files (see FileSpool)
  int64_t file_total = 0;  // files to act on (not counting those found open)
  std::vector<dev_t> file_devices;  // the devices the planned files are on
  std::string names;       // directory names
  std::vector<Issue> issues;  // the first kMaxIssues
  int64_t issue_count = 0;    // warnings and failed paths (not info), all of them
  int64_t scanned = 0;
  double walk_seconds = 0;
  /// The open-file check: whether the fd tables were read (only when the
  /// walk found files to act on), how many descriptors, how long the plan
  /// waited for the check after the walk (the read runs beside the walk, so
  /// this is what it adds to the run), and how long the read itself took.
  bool open_files_read = false;
  int64_t open_descriptors = 0;
  double open_files_seconds = 0;
  double open_files_read_seconds = 0;

  static constexpr size_t kMaxIssues = 1000;

  std::string_view Name(uint32_t off, uint16_t len) const { return std::string_view(names).substr(off, len); }
  /// Raw (unescaped) host path of a directory.
  std::string DirPath(uint32_t dir) const;
  void AddIssue(std::string escaped_path, std::string message, IssueLevel level = IssueLevel::kWarning);
};

}  // namespace nodeagent::logc
