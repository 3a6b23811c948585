// UnifiedDiff checked two ways: exact output for small cases (the format diff
// prints), and real `patch` applying our diffs of random edits back to the new
// text. File edits run against a LocalFileSystem over a temp root.
#include "nodeagent/file_edit.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "host/fake_host.h"
#include "host/local_file_system.h"

using namespace nodeagent;

namespace {

struct DiffCase {
  const char* name;
  std::string before, after, want;
};

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

}  // namespace

TEST_CASE("UnifiedDiff prints what diff -u prints") {
  const std::vector<DiffCase> cases = {
      {"equal texts give no diff", "a\nb\n", "a\nb\n", ""},
      {"one line replaced", "a\nb\nc\n", "a\nB\nc\n", "--- x\n+++ x\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
      {"a line appended", "a\n", "a\nb\n", "--- x\n+++ x\n@@ -1 +1,2 @@\n a\n+b\n"},
      {"a line removed", "a\nb\n", "b\n", "--- x\n+++ x\n@@ -1,2 +1 @@\n-a\n b\n"},
      {"from empty", "", "a\n", "--- x\n+++ x\n@@ -0,0 +1 @@\n+a\n"},
      {"to empty", "a\n", "", "--- x\n+++ x\n@@ -1 +0,0 @@\n-a\n"},
      {"final newline added", "a", "a\n",
       "--- x\n+++ x\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n"},
      {"context is three lines", "1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\nfive\n6\n7\n8\n",
       "--- x\n+++ x\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"},
      {"changes 7 lines apart make two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "one\n2\n3\n4\n5\n6\n7\n8\nnine\n",
       "--- x\n+++ x\n@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n@@ -6,4 +6,4 @@\n 6\n 7\n 8\n-9\n+nine\n"},
      {"changes 6 lines apart make one hunk", "1\n2\n3\n4\n5\n6\n7\n8\n", "one\n2\n3\n4\n5\n6\n7\neight\n",
       "--- x\n+++ x\n@@ -1,8 +1,8 @@\n-1\n+one\n 2\n 3\n 4\n 5\n 6\n 7\n-8\n+eight\n"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    CHECK(UnifiedDiff(c.before, c.after, "x", "x") == c.want);
  }
}

TEST_CASE("patch applies UnifiedDiff of random edits back to the new text") {
  char dir_template[] = "/tmp/nodeagent-diff-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  std::mt19937 rng(20261128);
  const std::vector<std::string> words = {"a", "b", "c", "UUID=1 / ext4 defaults 0 1", "", "# comment", "swap"};
  auto random_text = [&](int lines) {
    std::string t;
    for (int i = 0; i < lines; ++i) t += words[rng() % words.size()] + "\n";
    if (rng() % 5 == 0 && !t.empty()) t.pop_back();  // sometimes no final newline
    return t;
  };
  for (int round = 0; round < 200; ++round) {
    std::string before = random_text(static_cast<int>(rng() % 30));
    std::string after;
    {  // edit: keep, drop, replace or insert lines at random
      std::istringstream in(before);
      std::string line;
      while (std::getline(in, line)) {
        switch (rng() % 6) {
          case 0: break;
          case 1: after += words[rng() % words.size()] + "\n"; break;
          case 2: after += line + "\n" + words[rng() % words.size()] + "\n"; break;
          default: after += line + "\n";
        }
      }
      if (rng() % 4 == 0) after += random_text(3);
      if (rng() % 5 == 0 && !after.empty() && after.back() == '\n') after.pop_back();
    }
    std::string diff = UnifiedDiff(before, after, "old", "new", static_cast<int>(rng() % 4));
    INFO("round " << round << "\nbefore:\n" << before << "\nafter:\n" << after << "\ndiff:\n" << diff);
    if (before == after) {
      CHECK(diff.empty());
      continue;
    }
    WriteAll(dir + "/old", before);
    WriteAll(dir + "/diff", diff);
    std::remove((dir + "/out").c_str());
    std::string cmd = "patch -s -f -o " + dir + "/out " + dir + "/old " + dir + "/diff >" + dir + "/patch.log 2>&1";
    int rc = std::system(cmd.c_str());
    INFO("patch: " << ReadAll(dir + "/patch.log"));
    REQUIRE(WIFEXITED(rc));
    REQUIRE(WEXITSTATUS(rc) == 0);
    CHECK(ReadAll(dir + "/out") == after);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("a large file with one change gives one small hunk") {
  std::string before, after;
  for (int i = 0; i < 50000; ++i) {
    before += "line " + std::to_string(i) + "\n";
    after += (i == 25000 ? std::string("changed") : "line " + std::to_string(i)) + "\n";
  }
  std::string diff = UnifiedDiff(before, after, "x", "x");
  CHECK(diff == "--- x\n+++ x\n@@ -24998,7 +24998,7 @@\n line 24997\n line 24998\n line 24999\n-line 25000\n+changed\n"
                " line 25001\n line 25002\n line 25003\n");
}

TEST_CASE("file edits: plan with a diff, apply atomically with a backup, refuse a file changed since the plan") {
  TempRoot root;
  LocalFileSystem files(root.path());
  auto comment_swap = [](const std::optional<std::string>& current) -> Result<std::string> {
    if (!current) return NotFound("/etc/fstab is missing");
    std::string out, line;
    std::istringstream in(*current);
    while (std::getline(in, line)) out += (line.find(" swap ") != std::string::npos ? "#" : "") + line + "\n";
    return out;
  };

  SECTION("an edit") {
    root.Write("/etc/fstab", "UUID=1 / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n");
    auto edit = PlanFileEdit(files, "/etc/fstab", comment_swap);
    REQUIRE(edit.ok());
    CHECK(edit->changes());
    Change c = FileEditChange(*edit, "swap off at boot");
    CHECK(c.kind == "edit");
    CHECK(c.target == "/etc/fstab");
    CHECK(c.diff == "--- /etc/fstab\n+++ /etc/fstab\n@@ -1,2 +1,2 @@\n UUID=1 / ext4 defaults 0 1\n"
                    "-/swap.img none swap sw 0 0\n+#/swap.img none swap sw 0 0\n");
    CHECK(root.Read("/etc/fstab").find("#/swap") == std::string::npos);  // planning wrote nothing

    REQUIRE(ApplyFileEdit(files, *edit).ok());
    CHECK(root.Read("/etc/fstab") == edit->after);
    CHECK(root.Read("/etc/fstab.nodeagent.bak") == *edit->before);
    struct stat st {};
    REQUIRE(::stat(root.Real("/etc/fstab").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0644);

    // Applying the same plan again: the file is no longer what it saw.
    auto again = ApplyFileEdit(files, *edit);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code() == ErrorCode::kConflict);
  }

  SECTION("a file changed between plan and apply is left alone") {
    root.Write("/etc/fstab", "/swap.img none swap sw 0 0\n");
    auto edit = PlanFileEdit(files, "/etc/fstab", comment_swap);
    REQUIRE(edit.ok());
    root.Write("/etc/fstab", "/swap.img none swap sw 0 0\n/data /data xfs defaults 0 2\n");
    auto st = ApplyFileEdit(files, *edit);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code() == ErrorCode::kConflict);
    CHECK(st.error().message().find("/etc/fstab changed since the plan") != std::string::npos);
    CHECK(root.Read("/etc/fstab") == "/swap.img none swap sw 0 0\n/data /data xfs defaults 0 2\n");
    CHECK_FALSE(files.Exists("/etc/fstab.nodeagent.bak"));
  }

  SECTION("a new file: /dev/null in the diff, no backup, its mode") {
    auto edit = PlanFileEdit(
        files, "/etc/NetworkManager/conf.d/calico.conf",
        [](const std::optional<std::string>&) -> Result<std::string> {
          return std::string("[keyfile]\nunmanaged-devices=interface-name:cali*\n");
        },
        0600);
    REQUIRE(edit.ok());
    Change c = FileEditChange(*edit);
    CHECK(c.kind == "create");
    CHECK(c.diff.rfind("--- /dev/null\n+++ /etc/NetworkManager/conf.d/calico.conf\n@@ -0,0 +1,2 @@\n", 0) == 0);
    REQUIRE(ApplyFileEdit(files, *edit).ok());
    CHECK_FALSE(files.Exists("/etc/NetworkManager/conf.d/calico.conf.nodeagent.bak"));
    struct stat st {};
    REQUIRE(::stat(root.Real("/etc/NetworkManager/conf.d/calico.conf").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
  }

  SECTION("nothing to change writes nothing; errors from the edit are passed on") {
    root.Write("/etc/fstab", "UUID=1 / ext4 defaults 0 1\n");
    auto edit = PlanFileEdit(files, "/etc/fstab", comment_swap);
    REQUIRE(edit.ok());
    CHECK_FALSE(edit->changes());
    CHECK(FileEditChange(*edit).diff.empty());
    REQUIRE(ApplyFileEdit(files, *edit).ok());
    CHECK_FALSE(files.Exists("/etc/fstab.nodeagent.bak"));
    auto missing = PlanFileEdit(files, "/etc/crypttab", comment_swap);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code() == ErrorCode::kNotFound);
  }
}
