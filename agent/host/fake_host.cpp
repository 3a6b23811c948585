#include "host/fake_host.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "host/local_file_system.h"

namespace nodeagent {

void FakeCommandRunner::Answer(std::vector<std::string> prefix, CommandResult result) {
  AnswerWith(std::move(prefix), [result](const CommandSpec&) -> Result<CommandResult> { return result; });
}

void FakeCommandRunner::AnswerWith(std::vector<std::string> prefix, Handler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.push_back({std::move(prefix), std::move(handler)});
}

Result<CommandResult> FakeCommandRunner::Run(const CommandSpec& spec) {
  Handler handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(spec.argv);
    for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) {
      if (it->prefix.size() <= spec.argv.size() &&
          std::equal(it->prefix.begin(), it->prefix.end(), spec.argv.begin())) {
        handler = it->handler;
        break;
      }
    }
    if (!handler) handler = default_;
  }
  if (!handler) {
    std::string line;
    for (const auto& a : spec.argv) line += (line.empty() ? "" : " ") + a;
    return NotFound("FakeCommandRunner: command not scripted: " + line);
  }
  auto result = handler(spec);
  if (result && spec.on_line) {  // as the real runner would stream it
    for (auto [text, is_stderr] : {std::pair{&result->stdout_data, false}, std::pair{&result->stderr_data, true}}) {
      size_t pos = 0;
      while (pos < text->size()) {
        size_t nl = text->find('\n', pos);
        size_t end = nl == std::string::npos ? text->size() : nl;
        spec.on_line(std::string_view(*text).substr(pos, end - pos), is_stderr);
        pos = end + 1;
      }
    }
  }
  return result;
}

std::vector<std::vector<std::string>> FakeCommandRunner::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

std::vector<std::string> FakeCommandRunner::call_lines() const {
  std::vector<std::string> lines;
  for (const auto& argv : calls()) {
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    lines.push_back(line);
  }
  return lines;
}

std::chrono::system_clock::time_point FakeClock::Now() {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

std::chrono::steady_clock::time_point FakeClock::Monotonic() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::chrono::steady_clock::time_point(elapsed_);
}

bool FakeClock::SleepFor(std::chrono::milliseconds d, const bool* cancelled) {
  if (cancelled && *cancelled) return false;
  Advance(d);
  return true;
}

void FakeClock::Advance(std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ += d;
  elapsed_ += d;
}

void FakeClock::Set(std::chrono::system_clock::time_point t) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ = t;
}

TempRoot::TempRoot() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "nodeagent-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempRoot::~TempRoot() {
  std::error_code ec;
  // Make unreadable test directories removable again.
  for (auto it = std::filesystem::recursive_directory_iterator(
           path_, std::filesystem::directory_options::skip_permission_denied, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec))
      std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::add, ec);
  }
  std::filesystem::remove_all(path_, ec);
}

std::string TempRoot::Real(std::string_view host_path) const {
  std::string p(host_path);
  if (p.empty() || p[0] != '/') p = "/" + p;
  return path_ + p;
}

void TempRoot::Write(std::string_view host_path, std::string_view content) const {
  std::string real = Real(host_path);
  std::filesystem::create_directories(std::filesystem::path(real).parent_path());
  std::ofstream(real, std::ios::binary) << content;
}

std::string TempRoot::Read(std::string_view host_path) const {
  std::ifstream in(Real(host_path), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace nodeagent
