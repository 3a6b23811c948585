// UnifiedDiff checked three ways: exact output for small cases (the format
// diff prints), real `patch` applying our diffs back to the new text (random
// edits, unrelated files, large files, empty files, missing final newlines),
// and the heap it takes, counted by this binary's operator new. File edits run
// against a LocalFileSystem over a temp root.
#include "nodeagent/file_edit.h"

#include <malloc.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <random>
#include <sstream>

#include "host/fake_host.h"
#include "host/local_file_system.h"

using namespace nodeagent;

// Every allocation of this test binary is counted (by malloc_usable_size), so
// a test can ask how much heap one call took at its peak, and can make
// allocations beyond a limit fail with bad_alloc instead of taking gigabytes.
namespace {
std::atomic<size_t> g_heap_live{0};
std::atomic<size_t> g_heap_peak{0};
std::atomic<size_t> g_heap_limit{SIZE_MAX};
}  // namespace

void* operator new(size_t size) {
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  const size_t usable = ::malloc_usable_size(p);
  const size_t live = g_heap_live.fetch_add(usable) + usable;
  if (live > g_heap_limit.load()) {
    g_heap_live.fetch_sub(usable);
    std::free(p);
    throw std::bad_alloc();
  }
  size_t peak = g_heap_peak.load();
  while (live > peak && !g_heap_peak.compare_exchange_weak(peak, live)) {
  }
  return p;
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  g_heap_live.fetch_sub(::malloc_usable_size(p));
  std::free(p);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }

namespace {

/// The most heap `call` held at once beyond what was live before it, with
/// allocations past `limit` bytes failing (bad_alloc escapes `call`).
template <typename Call>
size_t PeakHeapOf(size_t limit, Call&& call) {
  const size_t base = g_heap_live.load();
  g_heap_peak.store(base);
  g_heap_limit.store(base + limit);
  try {
    call();
  } catch (...) {
    g_heap_limit.store(SIZE_MAX);
    throw;
  }
  g_heap_limit.store(SIZE_MAX);
  return g_heap_peak.load() - base;
}

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

/// A temp folder where real patch(1) applies a diff to a text.
class PatchDir {
 public:
  PatchDir() {
    char dir_template[] = "/tmp/nodeagent-diff-XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    dir_ = dir_template;
  }
  ~PatchDir() { std::filesystem::remove_all(dir_); }

  /// `before` with `diff` applied by `patch -f` (REQUIREs that patch exits 0).
  std::string Apply(const std::string& before, const std::string& diff) {
    WriteAll(dir_ + "/old", before);
    WriteAll(dir_ + "/diff", diff);
    std::remove((dir_ + "/out").c_str());
    std::string cmd =
        "patch -s -f -o " + dir_ + "/out " + dir_ + "/old " + dir_ + "/diff >" + dir_ + "/patch.log 2>&1";
    int rc = std::system(cmd.c_str());
    INFO("patch: " << ReadAll(dir_ + "/patch.log"));
    REQUIRE(WIFEXITED(rc));
    REQUIRE(WEXITSTATUS(rc) == 0);
    return ReadAll(dir_ + "/out");
  }

 private:
  std::string dir_;
};

/// `lines` lines "<tag> <i> ...", none equal to a line of another tag.
std::string NumberedLines(const std::string& tag, int lines) {
  std::string t;
  for (int i = 0; i < lines; ++i) t += tag + " " + std::to_string(i) + " of a file that shares nothing\n";
  return t;
}

/// Lines changed by a diff: its "-" and "+" lines, without the two headers.
size_t ChangedLines(const std::string& diff) {
  size_t count = 0;
  std::istringstream in(diff);
  std::string line;
  for (int header = 0; header < 2 && std::getline(in, line); ++header) {
  }
  while (std::getline(in, line))
    if (!line.empty() && (line[0] == '-' || line[0] == '+')) ++count;
  return count;
}

/// The fewest lines an edit from `a` to `b` must delete plus insert: their
/// count minus twice the longest common subsequence (a plain table).
size_t FewestChangedLines(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::vector<size_t>> lcs(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j)
      lcs[i][j] = a[i - 1] == b[j - 1] ? lcs[i - 1][j - 1] + 1 : std::max(lcs[i - 1][j], lcs[i][j - 1]);
  return a.size() + b.size() - 2 * lcs[a.size()][b.size()];
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

/// Lines with their "\n" (the last may lack it), as the diff sees them.
std::vector<std::string> LinesOf(const std::string& text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = std::min(text.find('\n', pos), text.size() - 1) + 1;
    lines.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return lines;
}

TEST_CASE("patch applies UnifiedDiff of random edits back to the new text, and the diff is minimal") {
  PatchDir patch;
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
    CHECK(patch.Apply(before, diff) == after);
    CHECK(ChangedLines(diff) == FewestChangedLines(LinesOf(before), LinesOf(after)));
  }
}

TEST_CASE("UnifiedDiff changes as few lines as possible (checked against a table of common subsequences)") {
  std::mt19937 rng(4);
  for (int round = 0; round < 5000; ++round) {
    const int alphabet = 2 + static_cast<int>(rng() % 6);
    auto random_lines = [&] {
      std::vector<std::string> lines(rng() % 40);
      for (auto& l : lines) l = std::string(1, static_cast<char>('a' + rng() % alphabet)) + "\n";
      return lines;
    };
    const std::vector<std::string> a = random_lines(), b = random_lines();
    std::string before, after;
    for (const auto& l : a) before += l;
    for (const auto& l : b) after += l;
    const std::string diff = UnifiedDiff(before, after, "x", "x", static_cast<int>(rng() % 4));
    INFO("round " << round << "\nbefore:\n" << before << "\nafter:\n" << after << "\ndiff:\n" << diff);
    REQUIRE(ChangedLines(diff) == FewestChangedLines(a, b));
  }
}

TEST_CASE("unified_diff_memory_is_bounded_for_two_unrelated_10k_line_files") {
  // Myers' trace of every step took (D+1)^2 longs: about 3 GB for these.
  const std::string before = NumberedLines("old", 10000), after = NumberedLines("new", 10000);
  std::string diff;
  const size_t peak = PeakHeapOf(64 << 20, [&] { diff = UnifiedDiff(before, after, "x", "x"); });
  INFO("peak heap " << peak << " bytes for " << before.size() + after.size() << " bytes of input, "
                    << diff.size() << " of diff");
  CHECK(peak <= 2 * diff.size() + (1 << 20));
  PatchDir patch;
  CHECK(patch.Apply(before, diff) == after);
}

TEST_CASE("unified_diff_memory_is_bounded_for_10k_line_files_that_share_only_some_common_lines") {
  // Lines drawn from a few words: thousands of matches and thousands of
  // differences, so the search itself runs long (the unrelated files above
  // have nothing to match).
  std::mt19937 rng(7);
  const std::vector<std::string> words = {"", "}", "{", "# comment", "a = 1", "b = 2", "include x"};
  auto random_text = [&](int lines) {
    std::string t;
    for (int i = 0; i < lines; ++i) t += words[rng() % words.size()] + "\n";
    return t;
  };
  const std::string before = random_text(10000), after = random_text(10000);
  std::string diff;
  const size_t peak = PeakHeapOf(64 << 20, [&] { diff = UnifiedDiff(before, after, "x", "x"); });
  INFO("peak heap " << peak << " bytes for " << before.size() + after.size() << " bytes of input, "
                    << diff.size() << " of diff");
  CHECK(peak <= 2 * diff.size() + (1 << 20));
  PatchDir patch;
  CHECK(patch.Apply(before, diff) == after);
}

TEST_CASE("files that differ in tens of thousands of lines still get a diff patch applies") {
  // Past kSearchStepLimit steps a region is split where the search got
  // furthest: the diff may be longer than the shortest, but stays correct.
  std::mt19937 rng(11);
  auto random_text = [&](int lines) {
    std::string t;
    for (int i = 0; i < lines; ++i) t += "word " + std::to_string(rng() % 50) + "\n";
    return t;
  };
  const std::string before = random_text(20000), after = random_text(20000);
  std::string diff;
  const size_t peak = PeakHeapOf(64 << 20, [&] { diff = UnifiedDiff(before, after, "x", "x"); });
  INFO("peak heap " << peak << " bytes for " << before.size() + after.size() << " bytes of input, "
                    << diff.size() << " of diff");
  CHECK(peak <= 2 * diff.size() + (1 << 20));
  PatchDir patch;
  CHECK(patch.Apply(before, diff) == after);
}

TEST_CASE("patch applies UnifiedDiff of unrelated, large, empty and unterminated files") {
  PatchDir patch;
  SECTION("two unrelated files") {
    const std::string before = NumberedLines("old", 3000), after = NumberedLines("new", 2000);
    std::string diff = UnifiedDiff(before, after, "x", "x");
    CHECK(ChangedLines(diff) == 5000);
    CHECK(patch.Apply(before, diff) == after);
  }
  SECTION("a 100k-line file with 100 scattered edits") {
    std::mt19937 rng(100);
    std::vector<std::string> lines;
    for (int i = 0; i < 100000; ++i)
      lines.push_back("setting_" + std::to_string(i) + " = " + std::to_string(rng()) + "\n");
    std::string before, after;
    for (const auto& l : lines) before += l;
    for (int edit = 0; edit < 100; ++edit) {
      size_t at = rng() % lines.size();
      switch (edit % 3) {
        case 0: lines[at] = "changed " + std::to_string(edit) + "\n"; break;
        case 1: lines.erase(lines.begin() + static_cast<long>(at)); break;
        default: lines.insert(lines.begin() + static_cast<long>(at), "inserted " + std::to_string(edit) + "\n");
      }
    }
    for (const auto& l : lines) after += l;
    std::string diff = UnifiedDiff(before, after, "x", "x");
    CHECK(ChangedLines(diff) <= 2 * 34 + 33 + 33);  // 34 replaced, 33 removed, 33 inserted
    CHECK(patch.Apply(before, diff) == after);
  }
  SECTION("from and to an empty file") {
    const std::string text = NumberedLines("line", 50);
    std::string diff = UnifiedDiff("", text, "/dev/null", "x");
    CHECK(diff.rfind("--- /dev/null\n+++ x\n@@ -0,0 +1,50 @@\n", 0) == 0);
    CHECK(patch.Apply("", diff) == text);
    diff = UnifiedDiff(text, "", "x", "x");
    CHECK(diff.rfind("--- x\n+++ x\n@@ -1,50 +0,0 @@\n", 0) == 0);
    CHECK(patch.Apply(text, diff).empty());
  }
  SECTION("files without a final newline") {
    std::string before = NumberedLines("line", 20), after = before;
    before.pop_back();                       // no final newline, last line unchanged otherwise
    after.replace(after.find("line 3 "), 4, "LINE");
    std::string diff = UnifiedDiff(before, after, "x", "x");
    CHECK(diff.find("\\ No newline at end of file\n") != std::string::npos);
    CHECK(patch.Apply(before, diff) == after);
    std::string unterminated_after = after + "appended without newline";
    diff = UnifiedDiff(before, unterminated_after, "x", "x");
    CHECK(patch.Apply(before, diff) == unterminated_after);
  }
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
