#!/bin/bash
# Benchmark of the log-cleanup action against the find one-liners it replaces,
# on several tree shapes (bench/log_cleanup_gen.py):
#   500k      500,000 files, 100 per directory, nested three levels (a quarter old *.log)
#   200x500   100,000 files in 200 directories of 500 (a quarter old *.log)
#   10x10000  100,000 files in 10 directories of 10,000 (a quarter old *.log)
#   500k-all  500,000 files, 100 per directory, every one an old *.log (memory worst case)
# For each shape:
#   real run: builds the same tree twice, then times on the twins
#       agentctl --local --config CFG run log-cleanup --set paths=[DIR] --set max_age=10d
#       find DIR -name '*.log' -mmin +14400 -delete
#     in both orders (ours first, then find first on fresh twins): wall, system
#     CPU, peak RSS (from /usr/bin/time), the ratio, and checks both leave the
#     same files; then the sum over both orders and its ratio (the first
#     command after a build pays for the journal's checkpoint of the build);
#   dry run: on one fresh tree, `... run log-cleanup --dry-run` against the
#     listing `find DIR -name '*.log' -mmin +14400`, three times each in the
#     order L D D L L D; medians and their ratio.
# With HOLDERS=PROCSxFILES (e.g. 500x100) that many processes hold that many
# files open each (bench/open_files_holders.py) for the whole bench, and the
# time log-cleanup spends on its open-file check (open_files_seconds, what it
# added to the run, and open_files_read_seconds, its reads, in the
# run record) is printed beside its wall time.
# With BENCH_LOCK=FILE every timed command runs under `flock FILE`, so that
# measurements of several people on one machine never overlap.
# Without agentctl in the build it runs log_cleanup_bench_driver (the same
# action through a real host). Not a test: it needs disk and minutes of time.
#
# usage: bench/log_cleanup.sh [SHAPES=500k,200x500,10x10000] [BUILD_DIR=build] [WORK_DIR=/var/tmp/logc-bench.PID]
#   (a number as SHAPES means that many files in the 500k layout, as before)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SHAPES=${1:-500k,200x500,10x10000}
BUILD=$(cd "${2:-$HERE/../build}" && pwd)
WORK=${3:-/var/tmp/logc-bench.$$}
PY=/usr/bin/python3
mkdir -p "$WORK"
HOLDER_PID=""
cleanup() {
  if [ -n "$HOLDER_PID" ]; then kill "$HOLDER_PID" 2>/dev/null || true; wait "$HOLDER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
LOCK=()
[ -n "${BENCH_LOCK:-}" ] && LOCK=(flock "$BENCH_LOCK")

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

# gen_args SHAPE: the generator's FILES FILES_PER_DIR LAYOUT MATCH
gen_args() {
  case "$1" in
    500k) echo "500000 100 nested quarter" ;;
    500k-all) echo "500000 100 nested all" ;;
    200x500) echo "100000 500 flat quarter" ;;
    10x10000) echo "100000 10000 flat quarter" ;;
    [0-9]*) echo "$1 100 nested quarter" ;;
    *) echo "unknown shape $1" >&2; exit 2 ;;
  esac
}

build() {  # build SHAPE DIR...
  local shape=$1; shift
  for d in "$@"; do
    rm -rf "$d"
    # shellcheck disable=SC2046
    $PY "$HERE/log_cleanup_gen.py" "$d" $(gen_args "$shape") >/dev/null
  done
  sync
}

# The newest run record's open_files_seconds/open_files_read_seconds: what the
# open-file check added to the run (the plan's read runs beside the walk) and
# how long its reads took (0 when the runner keeps none).
open_seconds() {
  [ -n "$AGENTCTL" ] || { echo 0; return; }
  $PY - "$WORK/state/runs" <<'PYEOF'
import glob, json, os, sys
recs = [p for p in glob.glob(os.path.join(sys.argv[1], "*.json")) if os.path.basename(p).count(".") == 1]
if not recs:
    print(0); sys.exit()
r = json.load(open(max(recs)))
d = r.get("data", {})
print("%s/%s" % (d.get("open_files_seconds", 0), d.get("open_files_read_seconds", d.get("open_files_seconds", 0))))
PYEOF
}

# timed WHICH DIR: prints "WHICH wall_s sys_s user_s peak_rss_kib open_files_s"
timed() {
  sync
  case "$1" in
    ours) "${LOCK[@]}" /usr/bin/time -f "%e %S %U %M" -o "$WORK/time" "${OURS[@]}" --set "paths=[\"$2\"]" \
            --set max_age=10d >"$WORK/ours.out" 2>"$WORK/ours.err" || { cat "$WORK/ours.out" "$WORK/ours.err"; exit 1; } ;;
    dry) "${LOCK[@]}" /usr/bin/time -f "%e %S %U %M" -o "$WORK/time" "${OURS[@]}" --set "paths=[\"$2\"]" \
            --set max_age=10d --dry-run >"$WORK/ours.out" 2>"$WORK/ours.err" || { cat "$WORK/ours.out" "$WORK/ours.err"; exit 1; } ;;
    theirs) "${LOCK[@]}" /usr/bin/time -f "%e %S %U %M" -o "$WORK/time" find "$2" -name '*.log' -mmin +14400 -delete ;;
    listing) "${LOCK[@]}" /usr/bin/time -f "%e %S %U %M" -o "$WORK/time" find "$2" -name '*.log' -mmin +14400 \
            >"$WORK/listing.out" ;;
  esac
  local o=0
  if [ "$1" = ours ] || [ "$1" = dry ]; then o=$(open_seconds); fi
  echo "$1 $(tail -1 "$WORK/time") $o"
}

left() { find "$1" -type f | wc -l; }
ratio() { echo "$1 / $2" | bc -l; }
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

echo "log-cleanup benchmark: shapes $SHAPES, runner: $WHO, cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${HOLDERS:-}" ]; then
  coproc HOLD { exec $PY "$HERE/open_files_holders.py" "$WORK/held" "${HOLDERS%x*}" "${HOLDERS#*x}"; }
  HOLDER_PID=$HOLD_PID
  read -r line <&"${HOLD[0]}"
  echo "holders: $line"
fi
for shape in ${SHAPES//,/ }; do
  declare -A T S R O
  SUM_OURS=0; SUM_THEIRS=0
  for round in 1 2; do
    build "$shape" "$WORK/a" "$WORK/b"
    if [ $round = 1 ]; then first=ours; second=theirs; else first=theirs; second=ours; fi
    read -r n1 t1 s1 _ r1 o1 < <(timed "$first" "$WORK/a")
    read -r n2 t2 s2 _ r2 o2 < <(timed "$second" "$WORK/b")
    T[$n1]=$t1; S[$n1]=$s1; R[$n1]=$r1; O[$n1]=$o1; T[$n2]=$t2; S[$n2]=$s2; R[$n2]=$r2; O[$n2]=$o2
    la=$(left "$WORK/a"); lb=$(left "$WORK/b")
    [ "$la" = "$lb" ] || { echo "MISMATCH: $la files left after $first, $lb after $second"; exit 1; }
    printf '%-9s run round %d (%-6s first): log-cleanup %6.2f s (sys %5.2f, open-file check %s s, added/read), %6d KiB | find %6.2f s (sys %5.2f), %5d KiB | ratio %.2f | %d files left\n' \
      "$shape" $round $first "${T[ours]}" "${S[ours]}" "${O[ours]}" "${R[ours]}" "${T[theirs]}" "${S[theirs]}" \
      "${R[theirs]}" "$(ratio "${T[ours]}" "${T[theirs]}")" "$la"
    SUM_OURS=$(echo "$SUM_OURS + ${T[ours]}" | bc -l); SUM_THEIRS=$(echo "$SUM_THEIRS + ${T[theirs]}" | bc -l)
  done
  # The command that runs first after a build pays for the journal's
  # checkpoint of that build (on a slow disk up to twice its time, whichever
  # tool it is); over both orders each tool pays once.
  printf '%-9s run, both orders: log-cleanup %6.2f s | find %6.2f s | ratio %.2f\n' \
    "$shape" "$SUM_OURS" "$SUM_THEIRS" "$(ratio "$SUM_OURS" "$SUM_THEIRS")"
  rm -rf "$WORK/b"
  build "$shape" "$WORK/a"
  DW=(); DS=(); DR=(); DO=(); LW=(); LS=()
  for which in listing dry dry listing listing dry; do
    read -r n t s _ r o < <(timed "$which" "$WORK/a")
    if [ "$n" = dry ]; then DW+=("$t"); DS+=("$s"); DR+=("$r"); DO+=("$o"); else LW+=("$t"); LS+=("$s"); fi
  done
  printf '%-9s dry run: log-cleanup --dry-run %s s (sys %s; open-file check added/read %s s; peak RSS %s KiB) | find listing %s s (sys %s) | ratio of medians %.2f\n' \
    "$shape" "${DW[*]}" "${DS[*]}" "${DO[*]}" "${DR[*]}" "${LW[*]}" "${LS[*]}" \
    "$(ratio "$(median3 "${DW[@]}")" "$(median3 "${LW[@]}")")"
  rm -rf "$WORK/a"
  unset T S R O
done
