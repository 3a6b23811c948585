// Fakes for the host seam, for tests: a CommandRunner that records every
// command and answers from a script, and a Clock that only moves when told
// (or when someone sleeps on it). Files need no fake: tests point a
// LocalFileSystem at a TempRoot.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "nodeagent/host.h"

namespace nodeagent {

class FakeCommandRunner : public CommandRunner {
 public:
  using Handler = std::function<Result<CommandResult>(const CommandSpec&)>;

  /// Commands whose argv starts with `prefix` get `result`. Later rules win.
  void Answer(std::vector<std::string> prefix, CommandResult result);
  /// Same, computed by a function (to simulate side effects).
  void AnswerWith(std::vector<std::string> prefix, Handler handler);
  /// What unmatched commands get. Default: NotFound error ("not scripted").
  void SetDefault(Handler handler) { default_ = std::move(handler); }

  Result<CommandResult> Run(const CommandSpec& spec) override;

  /// Every argv run so far, in order.
  std::vector<std::vector<std::string>> calls() const;
  /// The argvs joined with spaces, for easy assertions.
  std::vector<std::string> call_lines() const;

 private:
  struct Rule {
    std::vector<std::string> prefix;
    Handler handler;
  };
  mutable std::mutex mu_;
  std::vector<Rule> rules_;
  Handler default_;
  std::vector<std::vector<std::string>> calls_;
};

/// A clock that starts at a fixed instant and advances only by Advance() and
/// SleepFor() (which returns at once after advancing).
class FakeClock : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point start = std::chrono::system_clock::time_point(
                         std::chrono::seconds(1'800'000'000)))
      : now_(start) {}
  std::chrono::system_clock::time_point Now() override;
  std::chrono::steady_clock::time_point Monotonic() override;
  bool SleepFor(std::chrono::milliseconds d, const bool* cancelled) override;
  void Advance(std::chrono::milliseconds d);
  void Set(std::chrono::system_clock::time_point t);

 private:
  std::mutex mu_;
  std::chrono::system_clock::time_point now_;
  std::chrono::milliseconds elapsed_{0};
};

/// A temporary directory used as the host root; removed (recursively) on
/// destruction. Helpers write files under it by host path.
class TempRoot {
 public:
  TempRoot();
  ~TempRoot();
  TempRoot(const TempRoot&) = delete;
  TempRoot& operator=(const TempRoot&) = delete;

  const std::string& path() const { return path_; }
  /// Real path of a host path under this root.
  std::string Real(std::string_view host_path) const;
  /// Writes a file (creating parent dirs) at a host path.
  void Write(std::string_view host_path, std::string_view content) const;
  std::string Read(std::string_view host_path) const;

 private:
  std::string path_;
};

}  // namespace nodeagent
