// Editing host files the way every action must: plan first (the new content
// and a unified diff an operator can read in `--dry-run`), apply later, and
// only if nobody touched the file in between. join-prep (/etc/fstab, sysctl
// and module files) and calico-network (NetworkManager config) edit files;
// this is the one place that makes those edits reviewable and safe: the diff
// is `patch`-compatible, the write is atomic (FileSystem::WriteFileAtomic),
// the previous content is kept as a backup, and a file that changed since the
// plan is refused instead of overwritten.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "nodeagent/action.h"
#include "nodeagent/host.h"
#include "nodeagent/result.h"

namespace nodeagent {

/// `diff -u` of two texts: "--- old_label", "+++ new_label", then hunks with
/// `context` lines around each change. A missing final newline is marked the
/// way diff marks it. Empty when the texts are equal. Memory grows with the
/// number of lines (a few bytes per line besides the output), never with the
/// number of differences. The diff is the shortest unless a region has more
/// than about 8,000 differing lines; there, like diff without --minimal, it
/// may be somewhat longer (still a valid diff). Beyond 2^30 lines it replaces
/// everything.
std::string UnifiedDiff(std::string_view before, std::string_view after, std::string_view old_label,
                        std::string_view new_label, int context = 3);

/// A planned edit of one host file.
struct FileEdit {
  std::string path;                   // host path ("/etc/fstab")
  std::optional<std::string> before;  // content at plan time; nullopt: the file did not exist
  std::string after;                  // content wanted
  mode_t mode = 0644;                 // of a new file; an existing one keeps its mode and owner

  bool changes() const { return !before || *before != after; }
};

/// Reads `path` (nullopt when missing) and asks `edit` for the content
/// wanted. An Error from reading (other than NotFound) or from `edit` is
/// passed on.
Result<FileEdit> PlanFileEdit(
    const FileSystem& files, std::string path,
    const std::function<Result<std::string>(const std::optional<std::string>& current)>& edit, mode_t mode = 0644);

/// The Change a plan lists for the edit: kind "create" or "edit", the path as
/// target, the diff (labels: /dev/null for a new file, else the path), the
/// size of the new content, and the file as its object ("file:/etc/fstab"),
/// so that ApplyFileEdit passes the apply phase's check.
Change FileEditChange(const FileEdit& edit, std::string description = "");

inline constexpr const char* kBackupSuffix = ".nodeagent.bak";

/// Carries the edit out: re-reads the file and refuses with kConflict (naming
/// the file, saying to plan again) when it is not what the plan saw; else
/// writes `after` atomically, keeping the previous content under path +
/// `backup_suffix` (none for a new file). Nothing is written when the edit
/// changes nothing.
Status ApplyFileEdit(FileSystem& files, const FileEdit& edit, std::string_view backup_suffix = kBackupSuffix);

}  // namespace nodeagent
