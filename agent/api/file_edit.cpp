#include "nodeagent/file_edit.h"

#include <algorithm>
#include <vector>

namespace nodeagent {

namespace {

/// Lines with their "\n" (the last one may lack it), so that a change of the
/// final newline alone is a change of the last line, as in diff.
std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return lines;
}

enum class Op { kEqual, kDelete, kInsert };

struct Step {
  Op op;
  size_t old_index;  // line of `before` (for kInsert: where it goes)
  size_t new_index;  // line of `after` (for kDelete: where it was)
};

/// Past this many differences Myers' trace grows quadratically; the diff
/// then replaces everything, which is still correct.
constexpr long kMaxEditDistance = 20000;

/// How diagonal k is reached in step d from the previous step's x values
/// (`prev`, indexed k + d - 1; -1 when unreachable): the x it gets and
/// whether the move was down (an insertion). Only points inside the
/// (n+1) x (m+1) grid count, since x and y never decrease along a path.
struct Reach {
  long x = -1;
  bool down = false;
};
Reach ReachDiagonal(const std::vector<long>* prev, long d, long k, long n, long m) {
  if (k < -m || k > n) return {};
  if (d == 0) return {0, false};
  auto at = [&](long kk) -> long {
    if (kk < -(d - 1) || kk > d - 1) return -1;
    return (*prev)[static_cast<size_t>(kk + d - 1)];
  };
  long down_x = at(k + 1);  // from k+1, one line of b inserted: (x, y+1)
  bool down_ok = down_x >= 0 && down_x - k <= m;
  long right_x = at(k - 1) >= 0 ? at(k - 1) + 1 : -1;  // from k-1, one line of a deleted
  bool right_ok = right_x >= 0 && right_x <= n;
  if (down_ok && (!right_ok || down_x >= right_x)) return {down_x, true};
  if (right_ok) return {right_x, false};
  return {};
}

/// The shortest edit script (Myers, "An O(ND) Difference Algorithm"), with
/// the furthest-reaching x of every diagonal kept per step for the walk back.
std::vector<Step> EditScript(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  const long n = static_cast<long>(a.size()), m = static_cast<long>(b.size());
  std::vector<std::vector<long>> trace;  // trace[d][k + d]: x on diagonal k after step d
  long found = -1;
  for (long d = 0; d <= n + m && d <= kMaxEditDistance && found < 0; ++d) {
    std::vector<long> v(static_cast<size_t>(2 * d + 1), -1);
    const std::vector<long>* prev = d > 0 ? &trace.back() : nullptr;
    for (long k = -d; k <= d; k += 2) {
      long x = ReachDiagonal(prev, d, k, n, m).x;
      if (x < 0) continue;
      long y = x - k;
      while (x < n && y < m && a[static_cast<size_t>(x)] == b[static_cast<size_t>(y)]) ++x, ++y;
      v[static_cast<size_t>(k + d)] = x;
      if (x == n && y == m) found = d;
    }
    trace.push_back(std::move(v));
  }
  std::vector<Step> steps;
  if (found < 0) {  // too different: delete everything, insert everything
    for (long i = 0; i < n; ++i) steps.push_back({Op::kDelete, size_t(i), 0});
    for (long j = 0; j < m; ++j) steps.push_back({Op::kInsert, size_t(n), size_t(j)});
    return steps;
  }
  long x = n, y = m;
  for (long d = found; d > 0; --d) {
    long k = x - y;
    Reach r = ReachDiagonal(&trace[static_cast<size_t>(d - 1)], d, k, n, m);
    long prev_k = r.down ? k + 1 : k - 1;
    long prev_x = trace[static_cast<size_t>(d - 1)][static_cast<size_t>(prev_k + d - 1)];
    long prev_y = prev_x - prev_k;
    while (x > r.x) {  // the snake after the move
      --x, --y;
      steps.push_back({Op::kEqual, size_t(x), size_t(y)});
    }
    if (r.down) steps.push_back({Op::kInsert, size_t(prev_x), size_t(prev_y)});
    else steps.push_back({Op::kDelete, size_t(prev_x), size_t(prev_y)});
    x = prev_x, y = prev_y;
  }
  while (x > 0) {
    --x, --y;
    steps.push_back({Op::kEqual, size_t(x), size_t(y)});
  }
  std::reverse(steps.begin(), steps.end());
  return steps;
}

void AppendLine(std::string& out, char prefix, std::string_view line) {
  out += prefix;
  if (!line.empty() && line.back() == '\n') {
    out += line;
  } else {
    out += line;
    out += "\n\\ No newline at end of file\n";
  }
}

/// "start,count" of a hunk side; diff writes "start" alone for one line and
/// the line before the hunk for an empty side.
std::string Range(size_t first_index, size_t count) {
  size_t start = count == 0 ? first_index : first_index + 1;
  return count == 1 ? std::to_string(start) : std::to_string(start) + "," + std::to_string(count);
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
  const auto a = SplitLines(before), b = SplitLines(after);
  const std::vector<Step> steps = EditScript(a, b);
  const size_t ctx = static_cast<size_t>(std::max(0, context));
  std::string out = "--- " + std::string(old_label) + "\n+++ " + std::string(new_label) + "\n";
  size_t i = 0;
  while (i < steps.size()) {
    size_t first_change = i;
    while (first_change < steps.size() && steps[first_change].op == Op::kEqual) ++first_change;
    if (first_change == steps.size()) break;
    size_t begin = std::max(i, first_change >= ctx ? first_change - ctx : 0);  // not into the previous hunk
    // Extend over changes separated by at most 2 * ctx unchanged lines.
    size_t last_change = first_change;
    size_t j = first_change + 1;
    while (j < steps.size()) {
      if (steps[j].op != Op::kEqual) {
        last_change = j++;
        continue;
      }
      size_t run_end = j;
      while (run_end < steps.size() && steps[run_end].op == Op::kEqual) ++run_end;
      if (run_end == steps.size() || run_end - j > 2 * ctx) break;
      j = run_end;
    }
    size_t end = std::min(steps.size(), last_change + 1 + ctx);
    size_t old_count = 0, new_count = 0;
    for (size_t s = begin; s < end; ++s) {
      if (steps[s].op != Op::kInsert) ++old_count;
      if (steps[s].op != Op::kDelete) ++new_count;
    }
    out += "@@ -" + Range(steps[begin].old_index, old_count) + " +" + Range(steps[begin].new_index, new_count) +
           " @@\n";
    for (size_t s = begin; s < end; ++s) {
      const Step& st = steps[s];
      if (st.op == Op::kEqual) AppendLine(out, ' ', a[st.old_index]);
      else if (st.op == Op::kDelete) AppendLine(out, '-', a[st.old_index]);
      else AppendLine(out, '+', b[st.new_index]);
    }
    i = end;
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
