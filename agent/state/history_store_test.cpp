#include <algorithm>
#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "host/fake_host.h"
#include "host/local_file_system.h"
#include "state/history_store.h"
#include "state/run_lock.h"

using namespace nodeagent;

static RunRecord MakeRecord(const std::string& id, const std::string& task, int64_t started, RunStatus status) {
  RunRecord r;
  r.id = id;
  r.task = task;
  r.action = "demo";
  r.started_ms = started;
  r.status = status;
  return r;
}

TEST_CASE("history keeps records, lists newest first and filters by task") {
  TempRoot root;
  HistoryStore h(root.path());
  REQUIRE(h.Init().ok());
  REQUIRE(h.Put(MakeRecord("20260101T000000Z-aaaaaa", "a", 1000, RunStatus::kOk)).ok());
  REQUIRE(h.Put(MakeRecord("20260102T000000Z-bbbbbb", "b", 2000, RunStatus::kFailed)).ok());
  REQUIRE(h.Put(MakeRecord("20260103T000000Z-cccccc", "a", 3000, RunStatus::kRunning)).ok());
  auto all = h.List("", 10);
  REQUIRE(all.size() == 3);
  CHECK(all[0].id == "20260103T000000Z-cccccc");
  CHECK(h.List("a", 10).size() == 2);
  CHECK(h.List("", 1).size() == 1);
  auto unfinished = h.Unfinished();
  REQUIRE(unfinished.size() == 1);
  CHECK(unfinished[0].task == "a");
  CHECK(h.Get("nope").error().code() == ErrorCode::kNotFound);
  CHECK(h.Get("../../etc/passwd").error().code() == ErrorCode::kNotFound);
}

TEST_CASE("secret parameters live in a root-only file while the run may resume, and nowhere else") {
  TempRoot root;
  HistoryStore h(root.path());
  REQUIRE(h.Init().ok());
  RunRecord r = MakeRecord("20260101T000000Z-secret", "join", 1000, RunStatus::kRunning);
  r.params = {{"token", "<redacted>"}, {"server", "10.0.0.1:6443"}};
  r.params_wire = {{"server", "10.0.0.1:6443"}};
  r.secret_params_wire = {{"token", "abcdef.0123456789abcdef"}};
  REQUIRE(h.Put(r).ok());
  const std::string secret_file = root.path() + "/runs/20260101T000000Z-secret.secret.json";
  struct stat st {};
  REQUIRE(::stat(secret_file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(root.Read("/runs/20260101T000000Z-secret.json").find("abcdef") == std::string::npos);
  CHECK(h.LoadSecretParams(r.id) == nlohmann::json{{"token", "abcdef.0123456789abcdef"}});
  CHECK(h.List("", 10).size() == 1);  // the secret file is not a record

  // An update without the secrets (the daemon's copy of a resumed run) keeps the file.
  RunRecord again = *h.Get(r.id);
  CHECK(again.secret_params_wire.empty());
  REQUIRE(h.Put(again).ok());
  CHECK(h.LoadSecretParams(r.id).contains("token"));

  // Once the run has ended there is nothing to resume: the file goes.
  again.status = RunStatus::kChanged;
  REQUIRE(h.Put(again).ok());
  CHECK(::stat(secret_file.c_str(), &st) != 0);
  CHECK(h.LoadSecretParams(r.id).empty());
}

TEST_CASE("live log lines are kept and a torn last line is skipped") {
  TempRoot root;
  HistoryStore h(root.path());
  REQUIRE(h.Init().ok());
  RunRecord r = MakeRecord("20260101T000000Z-aaaaaa", "a", 1000, RunStatus::kRunning);
  REQUIRE(h.Put(r).ok());
  h.AppendLog(r.id, {1, LogLevel::kInfo, "first"});
  h.AppendLog(r.id, {2, LogLevel::kWarning, "second"});
  root.Write("/runs/x", "");  // unrelated file is ignored
  {
    FILE* f = std::fopen((h.runs_dir() + "/" + r.id + ".log").c_str(), "a");
    std::fputs("{\"t\":3,\"msg\":\"tor", f);
    std::fclose(f);
  }
  auto got = h.Get(r.id);
  REQUIRE(got.ok());
  REQUIRE(got->logs.size() == 2);
  CHECK(got->logs[1].message == "second");
}

TEST_CASE("prune bounds the history by count and age and spares running runs") {
  TempRoot root;
  HistoryStore h(root.path());
  REQUIRE(h.Init().ok());
  for (int i = 0; i < 5; ++i)
    REQUIRE(h.Put(MakeRecord("2026010" + std::to_string(i + 1) + "T000000Z-aaaaaa", "a", 1000 * (i + 1),
                             i == 0 ? RunStatus::kRunning : RunStatus::kOk))
                .ok());
  CHECK(h.Prune(3, 1'000'000, 6000) == 2);
  auto left = h.List("", 10);
  REQUIRE(left.size() == 3);
  CHECK(left.back().id == "20260101T000000Z-aaaaaa");  // running one kept
  CHECK(h.Prune(100, 1500, 6000) == 1);  // run 4 is older than 1.5 s; run 5 and the running one stay
}

TEST_CASE("checkpoints round-trip") {
  TempRoot root;
  HistoryStore h(root.path());
  REQUIRE(h.Init().ok());
  CHECK_FALSE(h.LoadCheckpoint("20260101T000000Z-aaaaaa").has_value());
  REQUIRE(h.SaveCheckpoint("20260101T000000Z-aaaaaa", {{"phase", "rebooting"}}).ok());
  CHECK((*h.LoadCheckpoint("20260101T000000Z-aaaaaa"))["phase"] == "rebooting");
}

TEST_CASE("run locks exclude and name the holder; release frees") {
  TempRoot root;
  std::string path = root.Real("/locks/disruptive.lock");
  auto a = RunLock::TryAcquire(path, {{"run_id", "r1"}, {"action", "drain"}, {"pid", 42}});
  REQUIRE(a.ok());
  auto b = RunLock::TryAcquire(path, {{"run_id", "r2"}});
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().code() == ErrorCode::kConflict);
  CHECK(b.error().message() == "run r1 (drain, pid 42) is in progress");
  CHECK(RunLock::Holder(path)["run_id"] == "r1");
  a->Release();
  CHECK(RunLock::Holder(path).is_null());
  CHECK(RunLock::TryAcquire(path, {{"run_id", "r3"}}).ok());
}

TEST_CASE("task state records last runs atomically") {
  TempRoot root;
  TaskStateStore s(root.path());
  REQUIRE(s.Record("cleanup", {1234, "boot-1"}).ok());
  REQUIRE(s.Record("other", {99, "boot-2"}).ok());
  auto all = s.Load();
  CHECK(all["cleanup"].last_run_ms == 1234);
  CHECK(all["other"].last_boot_id == "boot-2");
}

TEST_CASE("a run's list: written in lines, capped, read back in pages of whole lines, pruned with the run") {
  TempRoot root;
  HistoryStore h(root.path());
  REQUIRE(h.Init().ok());
  const std::string id = "20260101T000000Z-aaaaaa";
  REQUIRE(h.Put(MakeRecord(id, "a", 1000, RunStatus::kOk)).ok());
  std::string expected;
  for (int i = 0; i < 5000; ++i) expected += "delete\t64\t2026-01-01T00:00:00Z\t/var/log/app/f" + std::to_string(i) + ".log\n";
  {
    auto writer = h.OpenList(id);
    REQUIRE(writer.ok());
    size_t half = expected.find("delete", expected.size() / 2);
    REQUIRE((*writer)->Append(std::string_view(expected).substr(0, half)));
    bool eof = false;
    CHECK(h.ReadList(id, 0, 1 << 20, eof).error().code() == ErrorCode::kNotFound);  // not before Finish
    REQUIRE((*writer)->Append(std::string_view(expected).substr(half)));
    REQUIRE((*writer)->Finish().ok());
    CHECK((*writer)->lines() == 5000);
    CHECK((*writer)->dropped_lines() == 0);
  }
  std::string read;
  bool eof = false;
  int pages = 0;
  for (int64_t offset = 0; !eof; ++pages) {
    auto page = h.ReadList(id, offset, 10000, eof);
    REQUIRE(page.ok());
    REQUIRE_FALSE(page->empty());
    CHECK(page->back() == '\n');  // whole lines only
    read += *page;
    offset += static_cast<int64_t>(page->size());
  }
  CHECK(read == expected);
  CHECK(pages > 10);

  // Without Finish, no list and no temp file is left.
  const std::string other = "20260102T000000Z-bbbbbb";
  REQUIRE(h.Put(MakeRecord(other, "a", 2000, RunStatus::kOk)).ok());
  {
    auto writer = h.OpenList(other);
    REQUIRE(writer.ok());
    REQUIRE((*writer)->Append("delete\t1\t-\t/x\n"));
  }
  CHECK(h.ReadList(other, 0, 100, eof).error().code() == ErrorCode::kNotFound);
  struct stat st;
  CHECK(::stat((h.runs_dir() + "/" + other + ".list.tmp").c_str(), &st) != 0);

  CHECK(h.Prune(0, 1'000'000'000, 3000) == 2);
  CHECK(::stat((h.runs_dir() + "/" + id + ".list").c_str(), &st) != 0);
}

TEST_CASE("a run's list past its cap keeps whole lines and says how many more there were") {
  TempRoot root;
  const std::string path = root.path() + "/capped.list";
  int fd = ::open((path + ".tmp").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  RunListWriter writer(path + ".tmp", path, fd, 100);
  REQUIRE(writer.Append("0123456789012345678901234567890123456789\n"));  // 41 bytes
  REQUIRE(writer.Append("0123456789012345678901234567890123456789\n0123456789012345678901234567890123456789\n"));
  REQUIRE(writer.Append("more\n"));
  REQUIRE(writer.Finish().ok());
  CHECK(writer.lines() == 2);
  CHECK(writer.dropped_lines() == 2);
  auto text = ReadWholeFile(path);
  REQUIRE(text.ok());
  CHECK(text->find("[... 2 more lines not kept") != std::string::npos);
  CHECK(std::count(text->begin(), text->end(), '\n') == 3);
}
