#!/bin/bash
# CI entry point for the packages and the booted-container system test:
# installs missing tools by apt package name, builds the package inputs and
# both packages from BUILD_DIR (under the shared build lock), runs
# packaging/check-deb.sh, packaging/check-rpm-deps.sh, tests/system/run.sh,
# tests/system/join_prep_firewall.sh, join_prep_join.sh and calico_nm.sh,
# and prints one PASS/FAIL line per step and a final "N passed, M failed".
#
# Usage: tests/system/ci.sh [BUILD_DIR]   (default /work/main/build)
# Env: NODEAGENT_BUILD_LOCK (default /tmp/nodeagent-build.lock),
#      NODEAGENT_SYSTEST_STRICT=1 (a skipped system-test step fails).
# Exit: 0 all steps passed, 1 otherwise. Needs root.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:-$repo/build}
lock=${NODEAGENT_BUILD_LOCK:-/tmp/nodeagent-build.lock}
t_start=$(date +%s)
passed=0 failed=0
declare -a lines=()
record() {  # record NAME STATUS SECONDS [detail]
  lines+=("$(printf '%-28s %-5s %4ss %s' "$1" "$2" "$3" "${4:-}")")
  case $2 in PASS) passed=$((passed + 1)) ;; FAIL) failed=$((failed + 1)) ;; esac
}
timed() {  # timed NAME cmd...: run, record PASS/FAIL with its duration
  local name=$1 t0 rc; shift
  t0=$(date +%s)
  echo "=== ci: $name: $*"
  "$@"; rc=$?
  record "$name" "$([[ $rc -eq 0 ]] && echo PASS || echo FAIL)" $(( $(date +%s) - t0 )) "exit $rc"
  return $rc
}

[[ $(id -u) -eq 0 ]] || { echo "ci.sh: must run as root" >&2; exit 1; }
need=()
for pair in systemd-nspawn:systemd-container debootstrap:debootstrap lintian:lintian rpmlint:rpmlint \
    rpm:rpm cpio:cpio objdump:binutils; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if [[ ${#need[@]} -gt 0 ]]; then
  timed "apt-get install" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${need[*]}"
fi

build_ok=0
if timed "build package inputs" flock "$lock" sh -c \
    "cmake -S '$repo' -B '$build' -G Ninja >/dev/null && ninja -C '$build' -j2 nodeagent_package_inputs"; then
  rm -f "$build"/nodeagent_*.deb "$build"/nodeagent-*.rpm
  timed "cpack DEB RPM" flock "$lock" sh -c "cd '$build' && cpack -G 'DEB;RPM' >/dev/null" && build_ok=1
fi
deb=$(ls -t "$build"/nodeagent_*_amd64.deb 2>/dev/null | head -1)
rpm_file=$(ls -t "$build"/nodeagent-*.x86_64.rpm 2>/dev/null | head -1)
if [[ $build_ok -eq 1 && -f $deb && -f $rpm_file ]]; then
  timed "check-deb (lintian)" "$repo/packaging/check-deb.sh" "$deb"
  timed "check-rpm-deps (rpmlint)" "$repo/packaging/check-rpm-deps.sh" "$rpm_file"
  t0=$(date +%s)
  echo "=== ci: system test: tests/system/run.sh --build-dir $build"
  "$here/run.sh" --deb "$deb" --rpm "$rpm_file" 2>&1 | tee "$build/systest.log"
  st_rc=${PIPESTATUS[0]}
  st_s=$(( $(date +%s) - t0 ))
  # One line per system-test step from run.sh's summary ("step N STATUS").
  found=0
  while read -r _ n status; do
    found=1
    case $status in
      PASS) record "system step $n" PASS "-" ;;
      FAIL) record "system step $n" FAIL "-" ;;
      *) record "system step $n" SKIP "-" "${status#SKIP}"
         [[ ${NODEAGENT_SYSTEST_STRICT:-0} == 1 ]] && failed=$((failed + 1)) ;;
    esac
  done < <(sed -n '/=== system test summary/,$p' "$build/systest.log" | grep '^step ')
  [[ $found -eq 1 ]] || record "system test" FAIL "$st_s" "run.sh exit $st_rc without a summary (setup problem)"
  [[ $found -eq 1 && $st_rc -ne 0 && $failed -eq 0 ]] && record "system test" FAIL "$st_s" "run.sh exit $st_rc"
  lines+=("(system test took ${st_s} s)")
else
  record "packages built" FAIL 0 "no .deb/.rpm in $build"
fi

# join-prep's firewall managers (firewalld, ufw) and swap-unit masking in a
# booted container of their own root (build-root.sh --flavour joinprep).
if timed "build join_prep_fwmgr_probe" flock "$lock" sh -c \
    "cmake -S '$repo' -B '$build' -G Ninja >/dev/null && ninja -C '$build' -j2 join_prep_fwmgr_probe"; then
  timed "join-prep firewall (system)" "$here/join_prep_firewall.sh" --build-dir "$build" --deb "$deb"
fi
# calico-network's NetworkManager fix against the real NetworkManager in a
# booted container with a private network (build-root.sh --flavour nm).
if timed "build calico_network_nm" flock "$lock" sh -c \
    "cmake -S '$repo' -B '$build' -G Ninja >/dev/null && ninja -C '$build' -j2 calico_network_nm"; then
  timed "calico-network NM (system)" "$here/calico_nm.sh" --build-dir "$build" --deb "$deb"
fi
# join: `agentctl run join` through the daemon against a stand-in kubeadm and
# the test API server (the default root, sharing the host network).
timed "join (system)" "$here/join_prep_join.sh" --agentctl --deb "$deb"

echo "=== ci summary ($(( $(date +%s) - t_start )) s) ==="
for l in "${lines[@]}"; do echo "$l"; done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
