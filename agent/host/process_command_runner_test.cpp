// ProcessCommandRunner's bounds on what a command prints (issue 10, defect 7):
// the output keeps its head and tail and says what it dropped, and lines
// handed to on_line are cut at a cap.
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "host/process_command_runner.h"

using namespace nodeagent;
using namespace std::chrono_literals;

namespace {

long PeakRssKib() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

}  // namespace

TEST_CASE("unbounded_input: a command's output keeps its head and tail and says how much was truncated") {
  ProcessCommandRunner runner(2s, nullptr, OutputLimits{4, 6, 64});
  auto r = runner.Run({{"sh", "-c", "printf 0123456789abcdefghij; printf 'ERR-0123456789-END' >&2"}, 10s, "", {}});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 0);
  CHECK(r->output_truncated);
  CHECK(r->stdout_data == "0123\n[... 10 bytes truncated ...]\nefghij");
  CHECK(r->stderr_data == "ERR-\n[... 8 bytes truncated ...]\n89-END");

  // What fits is kept whole, without a marker.
  auto small = runner.Run({{"printf", "0123456789"}, 10s, "", {}});
  REQUIRE(small.ok());
  CHECK(small->stdout_data == "0123456789");
  CHECK_FALSE(small->output_truncated);
}

TEST_CASE("unbounded_input: a command printing 256 MiB costs the runner a few MiB, not the output") {
  const long before_kib = PeakRssKib();
  ProcessCommandRunner runner;  // default limits: 1 MiB head + 1 MiB tail per stream
  std::vector<std::string> lines;
  CommandSpec spec{{"head", "-c", std::to_string(256 << 20), "/dev/zero"}, 60s, "", {}};
  spec.on_line = [&](std::string_view line, bool) { lines.emplace_back(line); };
  auto r = runner.Run(spec);
  REQUIRE(r.ok());
  CHECK(r->exit_code == 0);
  CHECK(r->output_truncated);
  CHECK(r->stdout_data.size() < (2 << 20) + 100);
  CHECK(r->stdout_data.find("[... " + std::to_string((256 << 20) - (2 << 20)) + " bytes truncated ...]") !=
        std::string::npos);
  // One line without a newline: handed over once, cut at 64 KiB.
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].size() < (64 << 10) + 100);
  CHECK(lines[0].ends_with(" [... line cut at 65536 bytes ...]"));
  const long grown_kib = PeakRssKib() - before_kib;
  INFO("peak RSS grew by " << grown_kib << " KiB");
  CHECK(grown_kib < 32 * 1024);
}

TEST_CASE("unbounded_input: lines handed to on_line are cut at the line cap, the rest of a long line skipped") {
  ProcessCommandRunner runner(2s, nullptr, OutputLimits{1 << 20, 1 << 20, 8});
  std::vector<std::string> lines;
  CommandSpec spec{{"printf", "short\\n0123456789abcdef\\nexactly8\\nnext\\n0123456789"}, 10s, "", {}};
  spec.on_line = [&](std::string_view line, bool) { lines.emplace_back(line); };
  auto r = runner.Run(spec);
  REQUIRE(r.ok());
  CHECK(lines == std::vector<std::string>{"short", "01234567 [... line cut at 8 bytes ...]", "exactly8", "next",
                                          "01234567 [... line cut at 8 bytes ...]"});
  CHECK(r->stdout_data == "short\n0123456789abcdef\nexactly8\nnext\n0123456789");  // the output itself is whole
  CHECK_FALSE(r->output_truncated);
}
