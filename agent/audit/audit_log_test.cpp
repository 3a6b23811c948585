#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "audit/audit_log.h"
#include "host/fake_host.h"

using namespace nodeagent;
using json = nlohmann::json;

namespace {

AuditEntry FileEntry(int seq, const std::string& run = "run-1") {
  AuditEntry e;
  e.time_ms = 1'800'000'000'000 + seq;
  e.run_id = run;
  e.action = "test-touch";
  e.node = "node-1";
  e.kind = AuditKind::kFile;
  e.op = "write";
  e.detail = {{"path", "/etc/motd"}, {"sha256_before", nullptr}, {"sha256_after", "ab"}, {"seq", seq}};
  return e;
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

TEST_CASE("audit log appends one JSON line per entry, 0600, with the entry's fields") {
  TempRoot root;
  AuditLog log(root.Real("/audit"));
  REQUIRE(log.Append(FileEntry(0)).ok());
  AuditEntry failed = FileEntry(1);
  failed.error = "no space";
  REQUIRE(log.Append(failed).ok());
  auto lines = Lines(log.current_path());
  REQUIRE(lines.size() == 2);
  json first = json::parse(lines[0]);
  CHECK(first["time"] == "2027-01-15T08:00:00.000Z");
  CHECK(first["run"] == "run-1");
  CHECK(first["kind"] == "file");
  CHECK(first["op"] == "write");
  CHECK(first["path"] == "/etc/motd");
  CHECK(first["sha256_before"].is_null());
  CHECK(first["result"] == "ok");
  CHECK(first["reported_by"] == "core");
  json second = json::parse(lines[1]);
  CHECK(second["result"] == "error");
  CHECK(second["error"] == "no space");
  struct stat st {};
  REQUIRE(::stat(log.current_path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(log.dir().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("audit log rotates by size and keeps a bounded number of files") {
  TempRoot root;
  AuditLog log(root.Real("/audit"), {.max_file_bytes = 2000, .max_files = 3});
  for (int i = 0; i < 200; ++i) REQUIRE(log.Append(FileEntry(i)).ok());
  CHECK(Exists(log.current_path()));
  CHECK(Exists(log.current_path() + ".1"));
  CHECK(Exists(log.current_path() + ".2"));
  CHECK_FALSE(Exists(log.current_path() + ".3"));
  for (const char* suffix : {"", ".1", ".2"}) {
    struct stat st {};
    REQUIRE(::stat((log.current_path() + suffix).c_str(), &st) == 0);
    CHECK(st.st_size <= 2000);
  }
  auto read = ReadAuditLog(log.dir(), {});
  REQUIRE(read);
  CHECK(read->skipped_lines == 0);
  REQUIRE(!read->entries.empty());
  // What is kept is the newest, in order, without a gap.
  CHECK(read->entries.back()["seq"] == 199);
  for (size_t i = 1; i < read->entries.size(); ++i)
    CHECK(read->entries[i]["seq"].get<int>() == read->entries[i - 1]["seq"].get<int>() + 1);
}

TEST_CASE("audit log appends many entries in one batch: every line whole, in order, rotated by size") {
  TempRoot root;
  AuditLog log(root.Real("/audit"), {.max_file_bytes = 4000, .max_files = 50});
  std::vector<AuditEntry> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(FileEntry(i));
  REQUIRE(log.AppendMany(batch).ok());
  REQUIRE(log.AppendMany({}).ok());
  REQUIRE(log.Append(FileEntry(100)).ok());
  auto read = ReadAuditLog(log.dir(), {});
  REQUIRE(read);
  CHECK(read->skipped_lines == 0);
  REQUIRE(read->entries.size() == 101);
  for (size_t i = 0; i < read->entries.size(); ++i) CHECK(read->entries[i]["seq"].get<size_t>() == i);
  for (const char* suffix : {"", ".1", ".2"}) {
    struct stat st {};
    REQUIRE(::stat((log.current_path() + suffix).c_str(), &st) == 0);
    CHECK(st.st_size <= 4000);
  }
}

TEST_CASE("audit reader skips a torn last line, says so, and the next append keeps it apart") {
  TempRoot root;
  AuditLog log(root.Real("/audit"));
  for (int i = 0; i < 3; ++i) REQUIRE(log.Append(FileEntry(i)).ok());
  {
    std::ofstream out(log.current_path(), std::ios::app);
    out << R"({"time":"2027-01-15T08:00:00.003Z","run":"run-1","ki)";
  }
  auto read = ReadAuditLog(log.dir(), {});
  REQUIRE(read);
  CHECK(read->entries.size() == 3);
  CHECK(read->skipped_lines == 1);
  REQUIRE(read->notes.size() == 1);
  CHECK(read->notes[0] == log.current_path() + ":4: torn last line (the writer died mid-line), skipped");

  REQUIRE(log.Append(FileEntry(3)).ok());
  read = ReadAuditLog(log.dir(), {});
  REQUIRE(read);
  REQUIRE(read->entries.size() == 4);
  CHECK(read->entries[3]["seq"] == 3);
  CHECK(read->skipped_lines == 1);
}

TEST_CASE("audit log caps a line: long strings are cut, then the detail dropped") {
  TempRoot root;
  AuditLog log(root.Real("/audit"), {.max_line_bytes = 4096});
  AuditEntry e = FileEntry(0);
  e.kind = AuditKind::kCommand;
  e.detail = {{"argv", json::array({"/bin/echo", std::string(10000, 'x')})}, {"exit_code", 0}};
  REQUIRE(log.Append(e).ok());
  e.detail = {{"argv", std::vector<std::string>(100, std::string(300, 'y'))}};
  REQUIRE(log.Append(e).ok());
  auto lines = Lines(log.current_path());
  REQUIRE(lines.size() == 2);
  for (const auto& l : lines) CHECK(l.size() < 4096);
  json cut = json::parse(lines[0]);
  CHECK(cut["truncated"] == true);
  CHECK(cut["exit_code"] == 0);
  CHECK(cut["argv"][1].get<std::string>().ends_with("[... cut]"));
  json dropped = json::parse(lines[1]);
  CHECK(dropped["truncated"] == true);
  CHECK(dropped["kind"] == "command");
  CHECK_FALSE(dropped.contains("argv"));
}

TEST_CASE("audit reader filters by time and run and keeps the newest up to the limit") {
  TempRoot root;
  AuditLog log(root.Real("/audit"));
  for (int i = 0; i < 10; ++i) REQUIRE(log.Append(FileEntry(i, i % 2 ? "odd" : "even")).ok());
  auto by_run = ReadAuditLog(log.dir(), {.run_id = "odd"});
  REQUIRE(by_run);
  CHECK(by_run->entries.size() == 5);
  auto since = ReadAuditLog(log.dir(), {.since_ms = 1'800'000'000'000 + 7});
  REQUIRE(since);
  CHECK(since->entries.size() == 3);
  auto limited = ReadAuditLog(log.dir(), {.limit = 2});
  REQUIRE(limited);
  REQUIRE(limited->entries.size() == 2);
  CHECK(limited->entries[0]["seq"] == 8);
  auto missing = ReadAuditLog(root.Real("/nothing-here"), {});
  REQUIRE(missing);
  CHECK(missing->entries.empty());
}

TEST_CASE("audit log: kill -9 during appends loses no earlier line and leaves at most a torn last one") {
  TempRoot root;
  const std::string dir = root.Real("/audit");
  const AuditLogOptions options{.max_file_bytes = 256 << 10, .max_files = 10000};
  std::mt19937 rng(std::random_device{}());
  constexpr int kKills = 40;
  for (int child = 0; child < kKills; ++child) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(ready[0]);
      AuditLog log(dir, options);
      AuditEntry e = FileEntry(0, "child-" + std::to_string(child));
      e.detail["pad"] = std::string(40000 + child * 397, 'p');  // lines across many pages
      for (int seq = 0;; ++seq) {
        e.detail["seq"] = seq;
        if (!log.Append(e).ok()) ::_exit(3);
        if (seq == 0) {
          char c = 1;
          (void)!::write(ready[1], &c, 1);
        }
      }
    }
    ::close(ready[1]);
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);  // it has appended once: now kill it at a random moment
    ::close(ready[0]);
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 20000)(rng)));
    REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status));
  }
  auto read = ReadAuditLog(dir, {.limit = 0});
  REQUIRE(read);
  // Each child's lines are there from its first to its last, with no gap.
  std::map<std::string, std::vector<int>> seqs;
  for (const json& e : read->entries) seqs[e["run"]].push_back(e["seq"].get<int>());
  REQUIRE(seqs.size() == kKills);
  size_t total = 0;
  for (const auto& [run, s] : seqs) {
    INFO(run);
    REQUIRE(s.size() >= 1);
    for (size_t i = 0; i < s.size(); ++i) CHECK(s[i] == static_cast<int>(i));
    total += s.size();
  }
  CHECK(total == read->entries.size());
  // At most one torn line per kill, each skipped with a note.
  CHECK(read->skipped_lines <= kKills);
  CHECK(read->notes.size() == read->skipped_lines);
  WARN("kill -9 x" << kKills << ": " << total << " whole lines kept, " << read->skipped_lines
                    << " torn line(s) skipped");
}

TEST_CASE("an audit request with fields of the wrong type is answered with the defaults") {
  AuditQuery q = AuditQueryFromRequest({{"since_ms", "yesterday"}, {"run_id", 7}, {"n", "all"}});
  CHECK(q.since_ms == 0);
  CHECK(q.run_id.empty());
  CHECK(q.limit == 1000);
  CHECK(AuditQueryFromRequest({{"n", 1'000'000}}).limit == kMaxAuditAnswerEntries);
  CHECK(AuditQueryFromRequest(nlohmann::json::object()).limit == 1000);
}

TEST_CASE("an audit answer keeps the newest entries within its byte budget and counts the rest") {
  TempRoot root;
  AuditLog log(root.Real("/audit"), {.max_file_bytes = uint64_t{64} << 20, .max_files = 2});
  AuditEntry e = FileEntry(0);
  e.detail["pad"] = std::string(60000, 'q');
  const int kEntries = 100;  // about 6 MB of lines: more than one answer holds
  for (int i = 0; i < kEntries; ++i) {
    e.detail["seq"] = i;
    REQUIRE(log.Append(e).ok());
  }
  json answer = AuditAnswer(log.dir(), {.limit = kMaxAuditAnswerEntries});
  REQUIRE(answer["type"] == "audit");
  size_t kept = answer["entries"].size();
  CHECK(kept > 0);
  CHECK(kept + answer["left_off"].get<size_t>() == kEntries);
  CHECK(answer["entries"].back()["seq"] == kEntries - 1);
  CHECK(answer.dump().size() <= kMaxAuditAnswerBytes + 4096);
}
