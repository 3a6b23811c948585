#!/bin/bash
# Benchmark of the log-cleanup action against the find one-liner it replaces.
# Builds the same tree twice (FILES files in nested directories: half *.log,
# independently half older than the 10-day cut-off), then times, on the twins,
#   agentctl --local --config CFG run log-cleanup --set paths=[DIR] --set max_age=10d
#   find DIR -name '*.log' -mmin +14400 -delete
# in both orders (ours first, then find first on fresh twins), printing wall
# times, the ratio and peak RSS (from /usr/bin/time). Without agentctl in the
# build it runs log_cleanup_bench_driver (the same action through a real host).
# Not a test: it needs a few GB of disk and minutes of time.
#
# usage: bench/log_cleanup.sh [FILES=500000] [BUILD_DIR=build] [WORK_DIR=/var/tmp/logc-bench.PID]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
FILES=${1:-500000}
BUILD=$(cd "${2:-$HERE/../build}" && pwd)
WORK=${3:-/var/tmp/logc-bench.$$}
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

AGENTCTL="$BUILD/bin/agentctl"
[ -x "$AGENTCTL" ] || AGENTCTL=""
DRIVER=$(find "$BUILD" -name log_cleanup_bench_driver -type f -perm -u+x | head -1)
if [ -n "$AGENTCTL" ]; then
  mkdir -p "$WORK/state"
  cat > "$WORK/agent.toml" <<TOML
[agent]
root = "/"
state_dir = "$WORK/state"
plugin_dir = "$BUILD/plugins"
TOML
  OURS=("$AGENTCTL" --local --config "$WORK/agent.toml" run log-cleanup)
  WHO="agentctl ($AGENTCTL)"
else
  OURS=("$DRIVER")
  WHO="log_cleanup_bench_driver (no agentctl in $BUILD yet)"
fi

build() {
  rm -rf "$WORK/a" "$WORK/b"
  python3 "$HERE/log_cleanup_gen.py" "$WORK/a" "$FILES" >/dev/null
  python3 "$HERE/log_cleanup_gen.py" "$WORK/b" "$FILES" >/dev/null
  sync
}

# timed WHICH DIR: prints "WHICH wall_seconds peak_rss_kib"
timed() {
  sync
  if [ "$1" = ours ]; then
    /usr/bin/time -f "%e %M" -o "$WORK/time" "${OURS[@]}" --set "paths=[\"$2\"]" --set max_age=10d \
      >"$WORK/ours.out" 2>"$WORK/ours.err" || { cat "$WORK/ours.out" "$WORK/ours.err"; exit 1; }
  else
    /usr/bin/time -f "%e %M" -o "$WORK/time" find "$2" -name '*.log' -mmin +14400 -delete
  fi
  echo "$1 $(tail -1 "$WORK/time")"
}

left() { find "$1" -type f | wc -l; }

echo "log-cleanup benchmark: $FILES files per tree, runner: $WHO, cores: $(nproc)"
declare -A T R
for round in 1 2; do
  build
  if [ $round = 1 ]; then first=ours; second=theirs; else first=theirs; second=ours; fi
  read -r n1 t1 r1 < <(timed "$first" "$WORK/a")
  read -r n2 t2 r2 < <(timed "$second" "$WORK/b")
  T[$n1.$round]=$t1; R[$n1.$round]=$r1; T[$n2.$round]=$t2; R[$n2.$round]=$r2
  la=$(left "$WORK/a"); lb=$(left "$WORK/b")
  [ "$la" = "$lb" ] || { echo "MISMATCH: $la files left after $first, $lb after $second"; exit 1; }
  printf 'round %d (%s first): log-cleanup %6.2f s, %6d KiB peak RSS | find %6.2f s, %6d KiB | ratio %.2f | %d files left in each\n' \
    $round $first "${T[ours.$round]}" "${R[ours.$round]}" "${T[theirs.$round]}" "${R[theirs.$round]}" \
    "$(echo "${T[ours.$round]} / ${T[theirs.$round]}" | bc -l)" "$la"
done
