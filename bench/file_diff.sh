#!/bin/sh
# UnifiedDiff beside GNU `diff -u`: time and peak RSS on two unrelated 10k-line files and on a
# 100k-line file with 100 scattered edits (see bench/README.md). Needs
# ${NODEAGENT_BUILD:-build}/agent/api/file_diff_bench_driver (ninja -C build file_diff_bench_driver),
# diff and patch. Extra args go to file_diff_bench.py (--repeat N, --keep DIR).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/file_diff_bench.py" --build "${NODEAGENT_BUILD:-$here/../build}" "$@"
