#include "nodeagent/file_edit.h"
#include "nodeagent/plan_objects.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

namespace nodeagent {

namespace {

/// Past this many lines (both texts together) the search is not attempted and
/// the diff replaces everything: its arrays index lines with 32-bit ints.
constexpr size_t kMaxSearchedLines = size_t{1} << 30;

/// A middle-snake search that has taken this many steps in each direction
/// without the two ends meeting gives up on the shortest script for its
/// region and splits it where one end got furthest (as diff does without
/// --minimal). Only regions with more than about twice this many differing
/// lines get a diff that may be longer than the shortest; it is still correct.
constexpr int kSearchStepLimit = 4096;

/// Calls `line(text)` for every line of `text`, "\n" included (the last one
/// may lack it), so that a change of the final newline alone is a change of
/// the last line, as in diff.
template <typename Visit>
void ForEachLine(std::string_view text, Visit&& line) {
  size_t pos = 0;
  while (pos < text.size()) {
    const void* nl = std::memchr(text.data() + pos, '\n', text.size() - pos);
    size_t end = nl == nullptr ? text.size() : static_cast<size_t>(static_cast<const char*>(nl) - text.data()) + 1;
    line(text.substr(pos, end - pos));
    pos = end;
  }
}

size_t CountLines(std::string_view text) {
  size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  return lines + (!text.empty() && text.back() != '\n' ? 1 : 0);
}

/// Numbers the lines of both texts so that equal lines, and only those, get
/// the same number; the search then compares numbers instead of strings. An
/// open-addressing table of class numbers, each class remembering where its
/// first line is (no copy of any line is made).
class LineClasses {
 public:
  LineClasses(std::string_view a, std::string_view b) : texts_{a, b} {}

  /// The class of every line of text `side` (0: a, 1: b), in order.
  std::vector<uint32_t> Number(int side) {
    std::vector<uint32_t> classes;
    classes.reserve(CountLines(texts_[side]));
    const char* base = texts_[side].data();
    ForEachLine(texts_[side], [&](std::string_view line) {
      classes.push_back(ClassOf(line, static_cast<size_t>(line.data() - base), side));
    });
    return classes;
  }

  size_t count() const { return firsts_.size(); }

 private:
  static uint32_t Hash(std::string_view line) {
    size_t h = std::hash<std::string_view>{}(line);
    return static_cast<uint32_t>(h ^ (h >> 32));
  }

  std::string_view FirstLine(uint32_t cls) const {
    std::string_view text = texts_[firsts_[cls] & 1];
    size_t pos = static_cast<size_t>(firsts_[cls] >> 1);
    size_t nl = text.find('\n', pos);
    return text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl + 1 - pos);
  }

  uint32_t ClassOf(std::string_view line, size_t offset, int side) {
    const uint32_t hash = Hash(line);
    size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    for (; slots_[i] != 0; i = (i + 1) & mask) {
      uint32_t cls = slots_[i] - 1;
      if (hashes_[cls] == hash && FirstLine(cls) == line) return cls;
    }
    const auto cls = static_cast<uint32_t>(firsts_.size());
    firsts_.push_back(static_cast<uint64_t>(offset) << 1 | static_cast<uint64_t>(side));
    hashes_.push_back(hash);
    slots_[i] = cls + 1;
    if (2 * firsts_.size() > slots_.size()) Grow();
    return cls;
  }

  void Grow() {
    std::vector<uint32_t> slots(2 * slots_.size(), 0);
    const size_t mask = slots.size() - 1;
    for (uint32_t cls = 0; cls < hashes_.size(); ++cls) {
      size_t i = hashes_[cls] & mask;
      while (slots[i] != 0) i = (i + 1) & mask;
      slots[i] = cls + 1;
    }
    slots_ = std::move(slots);
  }

  std::string_view texts_[2];
  std::vector<uint32_t> slots_ = std::vector<uint32_t>(1024, 0);  // class + 1; 0: free
  std::vector<uint32_t> hashes_;                                  // per class
  std::vector<uint64_t> firsts_;  // per class: offset of its first line << 1 | side
};

/// Which lines a shortest edit script deletes from a and inserts into b,
/// found by Myers' linear-space refinement ("An O(ND) Difference Algorithm
/// and Its Variations", 1986, section 4b): the middle snake of a region
/// splits it in two, and each part is searched the same way. Memory is two
/// arrays of one int per diagonal, whatever the number of differences.
class ShortestEdit {
 public:
  ShortestEdit(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b)
      : a_(a),
        b_(b),
        n_(static_cast<int>(a.size())),
        m_(static_cast<int>(b.size())),
        forward_(a.size() + b.size() + 3),
        backward_(a.size() + b.size() + 3),
        deleted_(a.size(), 0),
        inserted_(b.size(), 0) {}

  /// Searches the whole of both sequences; then deleted()[x] says line x of a
  /// is not kept, inserted()[y] that line y of b is new.
  void Run() {
    std::vector<Region> todo = {{0, 0, n_, m_}};
    while (!todo.empty()) {
      Region r = todo.back();
      todo.pop_back();
      while (r.x0 < r.x1 && r.y0 < r.y1 && a_[r.x0] == b_[r.y0]) ++r.x0, ++r.y0;
      while (r.x0 < r.x1 && r.y0 < r.y1 && a_[r.x1 - 1] == b_[r.y1 - 1]) --r.x1, --r.y1;
      if (r.x0 == r.x1 || r.y0 == r.y1) {
        MarkAllChanged(r);
        continue;
      }
      Point split = Split(r);
      if ((split.x == r.x0 && split.y == r.y0) || (split.x == r.x1 && split.y == r.y1)) {
        MarkAllChanged(r);  // no progress possible (never seen; keeps the loop finite)
        continue;
      }
      todo.push_back({split.x, split.y, r.x1, r.y1});
      todo.push_back({r.x0, r.y0, split.x, split.y});
    }
  }

  const std::vector<uint8_t>& deleted() const { return deleted_; }
  const std::vector<uint8_t>& inserted() const { return inserted_; }

 private:
  struct Region {
    int x0, y0, x1, y1;  // lines [x0, x1) of a against [y0, y1) of b
  };
  struct Point {
    int x, y;
  };

  void MarkAllChanged(const Region& r) {
    std::fill(deleted_.begin() + r.x0, deleted_.begin() + r.x1, 1);
    std::fill(inserted_.begin() + r.y0, inserted_.begin() + r.y1, 1);
  }

  /// A point of a shortest path through `r` (trimmed: its first lines and
  /// its last lines differ, and neither side is empty), strictly inside it;
  /// past kSearchStepLimit steps, FurthestPoint instead.
  /// Diagonals k = x - y are relative to the region's corner (x0, y0); the
  /// forward search starts on k = 0, the backward one on k = N - M.
  Point Split(const Region& r) {
    const int N = r.x1 - r.x0, M = r.y1 - r.y0, delta = N - M;
    const bool odd = (delta & 1) != 0;
    const uint32_t* a = a_.data() + r.x0;
    const uint32_t* b = b_.data() + r.y0;
    const int offset = m_ + 1;  // k >= -M - 1 >= -m_ - 1
    auto fwd = [&](int k) -> int& { return forward_[static_cast<size_t>(k + offset)]; };
    auto bwd = [&](int k) -> int& { return backward_[static_cast<size_t>(k + offset)]; };

    int flo = 0, fhi = 0, blo = delta, bhi = delta;  // diagonals searched in the last step
    {
      int x = 0;
      while (x < N && x < M && a[x] == b[x]) ++x;
      fwd(0) = x;
      x = N;
      int y = M;
      while (x > 0 && y > 0 && a[x - 1] == b[y - 1]) --x, --y;
      bwd(delta) = x;
    }
    for (int d = 1;; ++d) {
      // Forward: the furthest x on each diagonal with at most d moves off
      // the diagonals, kept inside the region.
      const int prev_flo = flo, prev_fhi = fhi;
      flo = flo > -M ? flo - 1 : flo + 1;
      fhi = fhi < N ? fhi + 1 : fhi - 1;
      for (int k = flo; k <= fhi; k += 2) {
        const int right = k - 1 >= prev_flo ? fwd(k - 1) + 1 : -1;  // one line of a deleted
        const int down = k + 1 <= prev_fhi ? fwd(k + 1) : -1;       // one line of b inserted
        int x = std::min({std::max(right, down), N, M + k});
        int y = x - k;
        while (x < N && y < M && a[x] == b[y]) ++x, ++y;
        fwd(k) = x;
        if (odd && k >= blo && k <= bhi && x >= bwd(k)) return {r.x0 + x, r.y0 + y};
      }
      // Backward: the smallest x on each diagonal from the end.
      const int prev_blo = blo, prev_bhi = bhi;
      blo = blo > -M ? blo - 1 : blo + 1;
      bhi = bhi < N ? bhi + 1 : bhi - 1;
      for (int k = blo; k <= bhi; k += 2) {
        const int left = k + 1 <= prev_bhi ? bwd(k + 1) - 1 : N + 1;  // one line of a deleted
        const int up = k - 1 >= prev_blo ? bwd(k - 1) : N + 1;        // one line of b inserted
        int x = std::max({std::min(left, up), 0, k});
        int y = x - k;
        while (x > 0 && y > 0 && a[x - 1] == b[y - 1]) --x, --y;
        bwd(k) = x;
        if (!odd && k >= flo && k <= fhi && x <= fwd(k)) return {r.x0 + x, r.y0 + y};
      }
      if (d >= kSearchStepLimit) return FurthestPoint(r, flo, fhi, blo, bhi);
    }
  }

  /// Where the forward or the backward search got furthest from its corner
  /// (the one that got further, unless that is the opposite corner).
  Point FurthestPoint(const Region& r, int flo, int fhi, int blo, int bhi) {
    const int N = r.x1 - r.x0, M = r.y1 - r.y0;
    const int offset = m_ + 1;
    Point best_forward{0, 0}, best_backward{N, M};
    for (int k = flo; k <= fhi; k += 2) {
      int x = forward_[static_cast<size_t>(k + offset)];
      if (2 * x - k > best_forward.x + best_forward.y) best_forward = {x, x - k};
    }
    for (int k = blo; k <= bhi; k += 2) {
      int x = backward_[static_cast<size_t>(k + offset)];
      if (2 * x - k < best_backward.x + best_backward.y) best_backward = {x, x - k};
    }
    const bool forward_usable = best_forward.x + best_forward.y < N + M;
    const bool backward_usable = best_backward.x + best_backward.y > 0;
    const bool forward_further = best_forward.x + best_forward.y >= N + M - best_backward.x - best_backward.y;
    Point p = forward_usable && (forward_further || !backward_usable) ? best_forward : best_backward;
    return {r.x0 + p.x, r.y0 + p.y};
  }

  const std::vector<uint32_t>& a_;
  const std::vector<uint32_t>& b_;
  const int n_, m_;
  std::vector<int> forward_, backward_;  // furthest x per diagonal, at index k + m_ + 1
  std::vector<uint8_t> deleted_, inserted_;
};

/// The lines of one text in order, for printing hunks front to back.
class LineCursor {
 public:
  explicit LineCursor(std::string_view text) : text_(text) {}

  /// Line `index` with its "\n"; `index` may not go back.
  std::string_view Line(size_t index) {
    for (; index_ < index; ++index_) pos_ = LineEnd();
    return text_.substr(pos_, LineEnd() - pos_);
  }

 private:
  size_t LineEnd() const {
    size_t nl = text_.find('\n', pos_);
    return nl == std::string_view::npos ? text_.size() : nl + 1;
  }

  std::string_view text_;
  size_t pos_ = 0, index_ = 0;
};

void AppendLine(std::string& out, char prefix, std::string_view line) {
  out += prefix;
  out += line;
  if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
}

/// "start,count" of a hunk side; diff writes "start" alone for one line and
/// the line before the hunk for an empty side.
std::string Range(size_t first_index, size_t count) {
  size_t start = count == 0 ? first_index : first_index + 1;
  return count == 1 ? std::to_string(start) : std::to_string(start) + "," + std::to_string(count);
}

/// Per line of `before`, whether the diff deletes it; per line of `after`,
/// whether it inserts it.
struct ChangedLines {
  std::vector<uint8_t> deleted, inserted;
};

/// Lines found on one side only are changed without a search (as diff
/// discards them); the rest go through ShortestEdit.
ChangedLines FindChangedLines(std::string_view before, std::string_view after) {
  std::vector<uint32_t> a, b;
  std::vector<uint8_t> sides;  // per class: bit 0 set when it occurs in a, bit 1 in b
  {
    LineClasses classes(before, after);
    a = classes.Number(0);
    b = classes.Number(1);
    sides.assign(classes.count(), 0);
  }
  ChangedLines changed;
  changed.deleted.assign(a.size(), 0);
  changed.inserted.assign(b.size(), 0);
  if (a.size() + b.size() > kMaxSearchedLines) {  // replace everything
    std::fill(changed.deleted.begin(), changed.deleted.end(), 1);
    std::fill(changed.inserted.begin(), changed.inserted.end(), 1);
    return changed;
  }
  for (uint32_t c : a) sides[c] |= 1;
  for (uint32_t c : b) sides[c] |= 2;
  // Lines on both sides stay in `seq` (moved to its front); `line_of` says
  // which line each one is. The others are changed.
  auto keep_shared = [&](std::vector<uint32_t>& seq, std::vector<uint8_t>& changed_lines) {
    std::vector<uint32_t> line_of;
    auto shared = [&](uint32_t cls) { return sides[cls] == 3; };
    line_of.reserve(static_cast<size_t>(std::count_if(seq.begin(), seq.end(), shared)));
    for (size_t i = 0; i < seq.size(); ++i) {
      if (shared(seq[i])) {
        seq[line_of.size()] = seq[i];
        line_of.push_back(static_cast<uint32_t>(i));
      } else {
        changed_lines[i] = 1;
      }
    }
    seq.resize(line_of.size());
    return line_of;
  };
  const std::vector<uint32_t> a_line = keep_shared(a, changed.deleted);
  const std::vector<uint32_t> b_line = keep_shared(b, changed.inserted);
  std::vector<uint8_t>().swap(sides);

  ShortestEdit search(a, b);
  search.Run();
  for (size_t x = 0; x < a.size(); ++x)
    if (search.deleted()[x]) changed.deleted[a_line[x]] = 1;
  for (size_t y = 0; y < b.size(); ++y)
    if (search.inserted()[y]) changed.inserted[b_line[y]] = 1;
  return changed;
}

/// The file's content, nullopt when it does not exist; other read errors are
/// passed on.
Result<std::optional<std::string>> ReadIfPresent(const FileSystem& files, const std::string& path) {
  auto content = files.ReadFile(path);
  if (content) return std::optional<std::string>(std::move(*content));
  if (content.error().code() == ErrorCode::kNotFound) return std::optional<std::string>();
  return content.error();
}

}  // namespace

std::string UnifiedDiff(std::string_view before, std::string_view after, std::string_view old_label,
                        std::string_view new_label, int context) {
  if (before == after) return "";
  const ChangedLines changed = FindChangedLines(before, after);
  const std::vector<uint8_t>& deleted = changed.deleted;
  const std::vector<uint8_t>& inserted = changed.inserted;
  const size_t n = deleted.size(), m = inserted.size();
  const size_t ctx = static_cast<size_t>(std::max(0, context));
  // Unchanged lines pair up in order, so walking both sides together, a
  // point (i, j) with neither line changed is one unchanged line.
  auto unchanged_run = [&](size_t i, size_t j) {
    size_t run = 0;
    while (i + run < n && j + run < m && !deleted[i + run] && !inserted[j + run]) ++run;
    return run;
  };
  LineCursor old_lines(before), new_lines(after);
  std::string out = "--- " + std::string(old_label) + "\n+++ " + std::string(new_label) + "\n";
  size_t i = 0, j = 0;  // the first lines not printed yet
  for (;;) {
    const size_t skip = unchanged_run(i, j);
    if (i + skip == n && j + skip == m) break;  // no change left
    const size_t lead = std::min(ctx, skip);  // context before, not into the previous hunk
    const size_t begin_a = i + skip - lead, begin_b = j + skip - lead;
    // Take in the changes separated by at most 2 * ctx unchanged lines.
    size_t end_a = i + skip, end_b = j + skip;
    for (;;) {
      while (end_a < n && deleted[end_a]) ++end_a;
      while (end_b < m && inserted[end_b]) ++end_b;
      const size_t run = unchanged_run(end_a, end_b);
      const bool change_follows = end_a + run < n || end_b + run < m;
      if (change_follows && run <= 2 * ctx) {
        end_a += run, end_b += run;
        continue;
      }
      end_a += std::min(run, ctx), end_b += std::min(run, ctx);
      break;
    }
    out += "@@ -" + Range(begin_a, end_a - begin_a) + " +" + Range(begin_b, end_b - begin_b) + " @@\n";
    size_t x = begin_a, y = begin_b;
    while (x < end_a || y < end_b) {
      if ((x < end_a && deleted[x]) || (y < end_b && inserted[y])) {
        for (; x < end_a && deleted[x]; ++x) AppendLine(out, '-', old_lines.Line(x));
        for (; y < end_b && inserted[y]; ++y) AppendLine(out, '+', new_lines.Line(y));
      } else {
        AppendLine(out, ' ', old_lines.Line(x));
        ++x, ++y;
      }
    }
    i = end_a, j = end_b;
  }
  return out;
}

Result<FileEdit> PlanFileEdit(
    const FileSystem& files, std::string path,
    const std::function<Result<std::string>(const std::optional<std::string>& current)>& edit, mode_t mode) {
  FileEdit e;
  e.path = std::move(path);
  e.mode = mode;
  auto current = ReadIfPresent(files, e.path);
  if (!current) return current.error();
  e.before = std::move(*current);
  auto wanted = edit(e.before);
  if (!wanted) return wanted.error();
  e.after = std::move(*wanted);
  return e;
}

Change FileEditChange(const FileEdit& edit, std::string description) {
  Change c;
  c.kind = edit.before ? "edit" : "create";
  c.target = edit.path;
  c.description = std::move(description);
  c.diff = UnifiedDiff(edit.before.value_or(""), edit.after, edit.before ? edit.path : "/dev/null", edit.path);
  c.bytes = static_cast<int64_t>(edit.after.size());
  c.objects = {FileObject(edit.path)};
  return c;
}

Status ApplyFileEdit(FileSystem& files, const FileEdit& edit, std::string_view backup_suffix) {
  auto current = ReadIfPresent(files, edit.path);
  if (!current) return current.error();
  const std::optional<std::string>& now = *current;
  if (now != edit.before)
    return Error(ErrorCode::kConflict, edit.path + " changed since the plan was made (" +
                                           (edit.before ? (now ? "its content differs" : "it was removed")
                                                        : "it was created") +
                                           "); nothing was written: plan again");
  if (!edit.changes()) return Status::Ok();
  std::optional<std::string> backup;
  if (edit.before && !backup_suffix.empty()) backup = std::string(backup_suffix);
  return files.WriteFileAtomic(edit.path, edit.after, edit.mode, backup);
}

}  // namespace nodeagent
