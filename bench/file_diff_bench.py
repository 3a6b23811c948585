"""UnifiedDiff (the diff in every file edit's plan) beside GNU `diff -u` (issue 10, defect 2; not a test).

Writes the benchmark's file pairs into a temp folder, then runs
file_diff_bench_driver (UnifiedDiff of two files as a program, built from
agent/api/) and `diff -u` on each pair, alternately, --repeat times each, and
prints for both: wall time (median and best), CPU time (user+sys, median) and
peak RSS (ru_maxrss from wait4, the most of all runs). Every diff goes to a
file; ours is then applied with patch(1) to check it gives the new file, and
the changed lines of both diffs are counted.
Pairs:
  unrelated_10k      two 10k-line files that share no line
  scattered_100k     a 100k-line file and a copy with 100 scattered edits
                     (replaced, deleted and inserted lines)
  unrelated_10k_common_lines
                     two unrelated 10k-line files that share their frequent
                     lines (blank lines, braces, a few common settings), so
                     the search has thousands of candidate matches
Targets (issue 10): within 2x diff's time, peak RSS at most 16 MiB.
Usage: file_diff_bench.py [--build DIR] [--repeat N] [--keep DIR]
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def config_line(rng, i):
    return "section_%d.key_%06d = value-%08x\n" % (i % 97, i, rng.getrandbits(32))


def write_lines(path, lines):
    with open(path, "w") as f:
        f.writelines(lines)


def make_pairs(folder):
    rng = random.Random(20261206)
    pairs = []

    old = [config_line(rng, i) for i in range(10000)]
    new = ["other.%s" % config_line(rng, i) for i in range(10000)]
    pairs.append(("unrelated_10k", old, new))

    old = [config_line(rng, i) for i in range(100000)]
    new = list(old)
    for edit in range(100):
        at = rng.randrange(len(new))
        kind = edit % 3
        if kind == 0:
            new[at] = "changed.%s" % config_line(rng, at)
        elif kind == 1:
            del new[at]
        else:
            new.insert(at, "inserted.%s" % config_line(rng, at))
    pairs.append(("scattered_100k", old, new))

    common = ["\n", "}\n", "{\n", "  enabled = true\n", "# ---\n", "  mode = auto\n", "\n"]

    def config_with_common(prefix):
        return [rng.choice(common) if rng.random() < 0.4 else prefix + config_line(rng, i) for i in range(10000)]

    pairs.append(("unrelated_10k_common_lines", config_with_common("a."), config_with_common("b.")))

    out = []
    for name, old, new in pairs:
        old_path = os.path.join(folder, name + ".old")
        new_path = os.path.join(folder, name + ".new")
        write_lines(old_path, old)
        write_lines(new_path, new)
        out.append((name, old_path, new_path, len(old), len(new)))
    return out


def run_once(argv, out_path, rss_path):
    """Wall seconds, CPU seconds, peak RSS KiB and exit code of one run.

    The command runs under /usr/bin/time, whose %M is the command's own peak
    RSS: a process spawned from this one would count this Python's RSS at
    its exec (the kernel keeps the larger of the two). Wall time and CPU time
    (from wait4) include /usr/bin/time's own fork and exec, the same for both
    tools.
    """
    actions = [(os.POSIX_SPAWN_OPEN, 1, out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
    timed = ["/usr/bin/time", "-f", "%M", "-o", rss_path] + argv
    start = time.perf_counter()
    pid = os.posix_spawn(timed[0], timed, os.environ, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    with open(rss_path) as f:
        rss_kib = int(f.read().split()[-1])
    return wall, usage.ru_utime + usage.ru_stime, rss_kib, os.waitstatus_to_exitcode(status)


def changed_lines(diff_path):
    """The "-" and "+" lines of a diff, without its two header lines."""
    with open(diff_path, "rb") as f:
        return sum(1 for number, line in enumerate(f) if number >= 2 and line[:1] in (b"-", b"+"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--repeat", type=int, default=11)
    ap.add_argument("--keep", help="write the pairs and diffs here and keep them")
    args = ap.parse_args()
    driver = os.path.join(os.path.abspath(args.build), "agent/api/file_diff_bench_driver")
    gnu_diff = shutil.which("diff")
    if not os.access(driver, os.X_OK):
        sys.exit("no %s: ninja -C %s file_diff_bench_driver" % (driver, args.build))
    if gnu_diff is None or shutil.which("patch") is None or not os.access("/usr/bin/time", os.X_OK):
        sys.exit("needs diff, patch and /usr/bin/time (diffutils, patch, time)")
    folder = args.keep or tempfile.mkdtemp(prefix="file-diff-bench.")
    os.makedirs(folder, exist_ok=True)
    try:
        results = []
        for name, old, new, old_lines, new_lines in make_pairs(folder):
            tools = {"ours": [driver, old, new], "diff": [gnu_diff, "-u", old, new]}
            runs = {tool: [] for tool in tools}
            for _ in range(args.repeat):
                for tool, argv in tools.items():
                    wall, cpu, rss, code = run_once(argv, os.path.join(folder, "%s.%s.diff" % (name, tool)),
                                                    os.path.join(folder, "rss"))
                    if code != 1:
                        sys.exit("%s on %s exited %d (1 expected: the files differ)" % (tool, name, code))
                    runs[tool].append((wall, cpu, rss))
            ours_diff = os.path.join(folder, name + ".ours.diff")
            patched = os.path.join(folder, name + ".patched")
            subprocess.run(["patch", "-s", "-f", "-o", patched, old, ours_diff], check=True)
            with open(patched, "rb") as a, open(new, "rb") as b:
                applies = a.read() == b.read()
            row = {"pair": name, "old_lines": old_lines, "new_lines": new_lines,
                   "old_bytes": os.path.getsize(old), "new_bytes": os.path.getsize(new),
                   "ours_diff_applies": applies}
            for tool in tools:
                walls = [r[0] for r in runs[tool]]
                row[tool] = {
                    "wall_ms_median": round(statistics.median(walls) * 1000, 2),
                    "wall_ms_best": round(min(walls) * 1000, 2),
                    "cpu_ms_median": round(statistics.median(r[1] for r in runs[tool]) * 1000, 2),
                    "peak_rss_kib": max(r[2] for r in runs[tool]),
                    "changed_lines": changed_lines(os.path.join(folder, "%s.%s.diff" % (name, tool))),
                }
            row["time_ratio_median"] = round(row["ours"]["wall_ms_median"] / row["diff"]["wall_ms_median"], 2)
            row["cpu_ratio_median"] = round(row["ours"]["cpu_ms_median"] / max(row["diff"]["cpu_ms_median"], 0.01), 2)
            row["targets_met"] = (applies and row["time_ratio_median"] <= 2.0 and row["cpu_ratio_median"] <= 2.0
                                  and row["ours"]["peak_rss_kib"] <= 16 * 1024)
            results.append(row)
        print(json.dumps({"repeat": args.repeat, "driver": driver, "diff": gnu_diff, "results": results}, indent=2))
        print("\n%-27s %15s %15s %6s %15s %15s %6s %12s %13s" % (
            "pair", "ours wall ms", "diff wall ms", "ratio", "ours CPU ms", "diff CPU ms", "ratio",
            "RSS MiB", "changed lines"), file=sys.stderr)
        print("%-27s %15s %15s %6s %15s %15s %6s %12s %13s" % (
            "", "median/best", "median/best", "", "median", "median", "", "ours/diff", "ours/diff"), file=sys.stderr)
        for r in results:
            print("%-27s %15s %15s %6.2f %15.1f %15.1f %6.2f %12s %13s" % (
                r["pair"],
                "%.1f / %.1f" % (r["ours"]["wall_ms_median"], r["ours"]["wall_ms_best"]),
                "%.1f / %.1f" % (r["diff"]["wall_ms_median"], r["diff"]["wall_ms_best"]),
                r["time_ratio_median"], r["ours"]["cpu_ms_median"], r["diff"]["cpu_ms_median"],
                r["cpu_ratio_median"],
                "%.1f / %.1f" % (r["ours"]["peak_rss_kib"] / 1024, r["diff"]["peak_rss_kib"] / 1024),
                "%d / %d" % (r["ours"]["changed_lines"], r["diff"]["changed_lines"])), file=sys.stderr)
        return 0 if all(r["targets_met"] for r in results) else 1
    finally:
        if not args.keep:
            shutil.rmtree(folder)


if __name__ == "__main__":
    sys.exit(main())
