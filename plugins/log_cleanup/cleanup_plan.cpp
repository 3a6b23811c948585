#include "cleanup_plan.h"

#include <unistd.h>

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

std::string CleanupPlan::FilePath(const PlannedFile& f) const {
  std::string path = DirPath(f.dir);
  path += '/';
  path.append(FileName(f));
  return path;
}

void CleanupPlan::AddIssue(std::string escaped_path, std::string message, IssueLevel level) {
  if (level != IssueLevel::kInfo) ++issue_count;
  if (issues.size() < kMaxIssues) issues.push_back({std::move(escaped_path), std::move(message), level});
}

}  // namespace nodeagent::logc
