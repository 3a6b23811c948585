#include "config/runner_path.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace nodeagent {

std::vector<std::string> RunnerCandidates(const std::string& self_exe) {
  std::vector<std::string> out;
  if (const char* env = std::getenv("NODEAGENT_RUNNER"); env && *env) out.emplace_back(env);
  if (!self_exe.empty()) {
    auto dir = std::filesystem::path(self_exe).parent_path();
    out.push_back((dir / kRunnerName).string());
    out.push_back((dir.parent_path() / "libexec/nodeagent" / kRunnerName).string());
  }
  out.push_back(std::string("/usr/libexec/nodeagent/") + kRunnerName);
  return out;
}

std::string SelfExe() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : self.string();
}

Result<std::string> FindRunner() {
  auto candidates = RunnerCandidates(SelfExe());
  for (const auto& c : candidates)
    if (::access(c.c_str(), X_OK) == 0) return c;
  std::string looked;
  for (const auto& c : candidates) looked += (looked.empty() ? "" : ", ") + c;
  return Error(ErrorCode::kNotFound, std::string(kRunnerName) + " not found (looked at " + looked +
                                         "); it is part of the nodeagent package");
}

}  // namespace nodeagent
