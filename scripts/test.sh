#!/bin/sh
# The whole test suite: installs what it needs, builds, runs every unit and
# integration test (ctest), then the packaging checks and the booted-container
# system test (tests/system/ci.sh). Fails when any test fails.
#   scripts/test.sh            everything
#   scripts/test.sh --no-system   skip packages and the container test
set -u
cd "$(dirname "$0")/.."
system=1
[ "${1:-}" = "--no-system" ] && system=0
scripts/deps.sh --test || exit 2
# The system tests boot three cached Debian roots (tests/system/build-root.sh;
# about 1, 1.3 and 3 min to make on a new machine, mostly download and
# unpack). Make them while the code compiles instead of after it; the system
# tests wait for this and build whatever is still missing themselves.
roots_pid=""
if [ "$system" -eq 1 ] && [ "$(id -u)" -eq 0 ] && [ -x tests/system/build-root.sh ]; then
  roots_log=$(mktemp)
  (for flavour in default joinprep nm; do tests/system/build-root.sh --flavour "$flavour" || exit 1; done) \
    >"$roots_log" 2>&1 &
  roots_pid=$!
fi
scripts/build.sh || { echo "build failed"; exit 2; }
log=$(mktemp)
ctest --test-dir build --output-on-failure -j2 --timeout 600 2>&1 | tee "$log"
unit_rc=$?
unit_total=$(sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
unit_failed=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
unit_total=${unit_total:-0}; unit_failed=${unit_failed:-0}
[ "$unit_rc" -ne 0 ] && [ "$unit_failed" -eq 0 ] && unit_failed=1
sys_passed=0; sys_failed=0
if [ -n "$roots_pid" ]; then
  wait "$roots_pid" || { echo "building the system-test roots in the background failed:"; tail -20 "$roots_log"; }
  rm -f "$roots_log"
fi
if [ "$system" -eq 1 ] && [ -x tests/system/ci.sh ]; then
  # A system-test step that is skipped (a tool or package part missing) is a
  # failed step here: a skip must never pass CI.
  NODEAGENT_SYSTEST_STRICT=1 tests/system/ci.sh build 2>&1 | tee "$log"
  sys_rc=$?
  sys_passed=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$log" | tail -1)
  sys_failed=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$log" | tail -1)
  sys_passed=${sys_passed:-0}; sys_failed=${sys_failed:-0}
  [ "$sys_rc" -ne 0 ] && [ "$sys_failed" -eq 0 ] && sys_failed=1
fi
rm -f "$log"
passed=$((unit_total - unit_failed + sys_passed))
failed=$((unit_failed + sys_failed))
echo "unit and integration tests: $((unit_total - unit_failed)) of $unit_total passed; system steps: $sys_passed passed, $sys_failed failed"
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
