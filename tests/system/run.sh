#!/bin/bash
# End-to-end system test of the nodeagent packages in a booted Debian 12
# container (systemd-nspawn): install the .deb, service readiness through
# sd_notify, socket permissions, agentctl access rules, a real log-cleanup
# run, a container reboot, upgrade/remove/purge, and the RPM's file layout.
#
# Usage: tests/system/run.sh [--build-dir DIR] [--deb FILE] [--rpm FILE] [--keep] [--fake-daemon]
#   --build-dir  build tree holding nodeagent_*.deb/nodeagent-*.rpm (default
#                $NODEAGENT_BUILD_DIR or /work/main/build-pkg)
#   --keep       leave the overlay directory for inspection (mounts are
#                always undone)
#   --fake-daemon  put tests/system/fake_nodeagent.c in the package as
#                /usr/sbin/nodeagent: checks the unit's sandbox and readiness
#                protocol without the real daemon (steps 2-3 then skip)
# Env: NODEAGENT_TEST_ROOT (cached root, default: build-root.sh's)
#      NODEAGENT_SYSTEST_STRICT=1: a skipped step counts as failure.
# Exit: 0 all run steps passed, 1 a step failed, 2 setup problem.
# Needs root, systemd-container, debootstrap; see tests/system/README.md.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build_dir=${NODEAGENT_BUILD_DIR:-$repo/build-pkg}
deb="" rpm_file="" keep=0 fake_daemon=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --deb) deb=$2; shift 2 ;;
    --rpm) rpm_file=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --fake-daemon) fake_daemon=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n $deb ]] || deb=$(ls -t "$build_dir"/nodeagent_*_amd64.deb 2>/dev/null | head -1)
[[ -n $rpm_file ]] || rpm_file=$(ls -t "$build_dir"/nodeagent-*.rpm 2>/dev/null | head -1)
[[ $(id -u) -eq 0 ]] || { echo "run.sh: must run as root" >&2; exit 2; }
[[ -f $deb ]] || { echo "run.sh: no .deb found (build with: cmake --build $build_dir --target package)" >&2; exit 2; }
for tool in systemd-nspawn nsenter dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool missing: apt-get install -y systemd-container debootstrap" >&2; exit 2; }
done

root=${NODEAGENT_TEST_ROOT:-/var/cache/nodeagent-test/bookworm-root.$(sed -n 's/^recipe_version=//p' "$here/build-root.sh")}
"$here/build-root.sh" "$root" || { echo "run.sh: cannot build the container root" >&2; exit 2; }

# --- result bookkeeping -----------------------------------------------------
declare -a results=()
step_failed=0
current_step=""
log() { echo "[systest ${current_step:-setup}] $*"; }
begin() { current_step=$1; step_failed=0; log "BEGIN $2"; }
check() {  # check <description> <command...>: record a failure, continue the step
  local what=$1; shift
  if "$@"; then log "ok: $what"; else log "FAIL: $what"; step_failed=1; fi
}
end() {
  local status=PASS
  [[ $step_failed -eq 0 ]] || status=FAIL
  results+=("$current_step $status")
  log "END $status"
}
skip() { results+=("$1 SKIP($2)"); echo "[systest $1] SKIP: $2"; }

# --- container lifecycle ----------------------------------------------------
work=$(mktemp -d /var/tmp/nodeagent-systest.XXXXXX)
merged=$work/merged
cg_name=nodeagent-systest.$$
launcher_pid=""
pid1=""

cleanup() {
  set +e
  [[ -n ${api_pid:-} ]] && kill "$api_pid" 2>/dev/null  # the test API server of step 4b
  if [[ -n $launcher_pid ]] && kill -0 "$launcher_pid" 2>/dev/null; then
    touch "$work/stop"
    [[ -n $pid1 ]] && kill -0 "$pid1" 2>/dev/null && nsenter -t "$pid1" -a systemctl poweroff >/dev/null 2>&1
    for _ in $(seq 1 100); do kill -0 "$launcher_pid" 2>/dev/null || break; sleep 0.1; done
    pkill -KILL -P "$launcher_pid" 2>/dev/null  # our nspawn only (children of our launcher)
    kill -KILL "$launcher_pid" 2>/dev/null
    wait "$launcher_pid" 2>/dev/null
  fi
  mountpoint -q "$merged" && umount "$merged"
  for hierarchy in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
    [[ -d $hierarchy/$cg_name ]] || continue
    # nspawn --keep-unit leaves empty payload/ and supervisor/ behind.
    find "$hierarchy/$cg_name" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  if [[ $keep -eq 1 ]]; then echo "run.sh: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work"/{upper,ovl,merged}

if [[ $fake_daemon -eq 1 ]]; then
  dpkg-deb -R "$deb" "$work/fake"
  mkdir -p "$work/fake/usr/sbin"
  cc -O2 -Wall -DFAKE_VERSION="\"$(dpkg-deb -f "$deb" Version)\"" -o "$work/fake/usr/sbin/nodeagent" \
    "$here/fake_nodeagent.c" -lsystemd || { echo "run.sh: cannot build fake_nodeagent (libsystemd-dev?)" >&2; exit 2; }
  sed -i '/ usr\/sbin\/nodeagent$/d' "$work/fake/DEBIAN/md5sums"
  (cd "$work/fake" && md5sum usr/sbin/nodeagent >> DEBIAN/md5sums)
  if [[ ! -f $work/fake/etc/nodeagent/agent.toml ]]; then
    # No conf/agent.toml in the tree yet: a stand-in conffile, so the
    # upgrade/remove/purge checks of step 5 can run.
    mkdir -p "$work/fake/etc/nodeagent"
    echo '# fake default configuration (system test)' > "$work/fake/etc/nodeagent/agent.toml"
    echo /etc/nodeagent/agent.toml >> "$work/fake/DEBIAN/conffiles"
  fi
  deb=$work/nodeagent_fake_amd64.deb
  dpkg-deb --root-owner-group -b "$work/fake" "$deb" >/dev/null || exit 2
  log "testing with the fake daemon: $deb"
fi
mount -t overlay overlay -o "lowerdir=$root,upperdir=$work/upper,workdir=$work/ovl" "$merged" ||
  { echo "run.sh: overlay mount failed" >&2; exit 2; }

# The launcher boots the container again after every `systemctl reboot`
# (nspawn exit 133) until told to stop; it runs in a cgroup of its own so
# nspawn's payload/supervisor cgroups do not collide with other containers.
(
  for hierarchy in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
    if [[ -d $hierarchy ]] && mkdir -p "$hierarchy/$cg_name" 2>/dev/null; then
      echo "$BASHPID" > "$hierarchy/$cg_name/cgroup.procs" 2>/dev/null
    fi
  done
  boots=0
  while :; do
    boots=$((boots + 1))
    systemd-nspawn --register=no --keep-unit -b -D "$merged" --console=read-only \
      --machine="nodeagent-systest-$$" >>"$work/console.log" 2>&1 &
    echo "$!" > "$work/nspawn.pid"
    wait "$!"
    rc=$?
    echo "$boots $rc" >> "$work/exits"
    [[ $rc -eq 133 && ! -e $work/stop ]] || break
  done
) &
launcher_pid=$!

# container_pid1 NSPAWN_PID: the child of nspawn that is PID 1 in its own
# pid namespace (NSpid ends in 1). nspawn briefly has two children at start
# (its outer child, which exits, and the container's init), so "the first
# child" can be the one about to vanish.
container_pid1() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    if awk '$1 == "NSpid:" { exit !(NF > 2 && $NF == 1) }' "/proc/$child/status" 2>/dev/null; then
      echo "$child"; return 0
    fi
  done
  return 1
}

# wait_booted [OLD_NSPAWN_PID]: sets pid1 to the container's PID 1 of the
# current boot and waits for the boot to finish (running or degraded).
wait_booted() {
  local nspawn_pid="" i state=""
  pid1=""
  # Up to 150 s for the previous boot to end and the next to start: a unit
  # that ignores SIGTERM holds the shutdown for its TimeoutStopSec (90 s for
  # nodeagent).
  for i in $(seq 1 1500); do
    nspawn_pid=$(cat "$work/nspawn.pid" 2>/dev/null)
    if [[ -n $nspawn_pid ]] && [[ -z ${1:-} || $nspawn_pid != "$1" ]]; then
      pid1=$(container_pid1 "$nspawn_pid") && break
    fi
    sleep 0.1
  done
  [[ -n $pid1 ]] || { log "container did not start; console:"; tail -20 "$work/console.log"; return 1; }
  # Boot takes about 1.5 s on an idle machine; a loaded CI machine gets 120 s.
  # PID 1 is looked up again on every try, so a stale pid cannot hold the wait.
  for i in $(seq 1 1200); do
    pid1=$(container_pid1 "$nspawn_pid") || pid1=""
    if [[ -n $pid1 ]]; then
      state=$(nsenter -t "$pid1" -a systemctl is-system-running 2>/dev/null)
      [[ $state == running || $state == degraded ]] && return 0
    elif ! kill -0 "$nspawn_pid" 2>/dev/null; then
      log "the container exited during boot ($(tail -1 "$work/exits" 2>/dev/null))"; break
    fi
    sleep 0.1
  done
  log "boot did not finish (state: ${state:-no answer}); console:"
  tail -30 "$work/console.log"
  [[ -n $pid1 ]] && nsenter -t "$pid1" -a systemctl list-jobs --no-pager 2>&1 | tail -15
  return 1
}

# cx: run a command in the container under a transient unit (its sandbox,
# its cgroup), stdout/stderr piped, exit status propagated.
cx() { nsenter -t "$pid1" -a systemd-run --quiet --wait --pipe --collect --service-type=exec "$@"; }
# cx_as USER cmd...: the same as another user (with that user's groups).
cx_as() { local user=$1; shift; cx -p "User=$user" "$@"; }
# cq: query the container directly (read-only questions only).
cq() { nsenter -t "$pid1" -a "$@"; }

wait_active() {  # wait_active UNIT [seconds]
  local i state
  for i in $(seq 1 $((${2:-20} * 10))); do
    state=$(cq systemctl is-active "$1" 2>/dev/null)
    [[ $state == active ]] && return 0
    [[ $state == failed ]] && break
    sleep 0.1
  done
  log "$1 is $state"; cq systemctl status --no-pager -l "$1" | tail -15
  return 1
}

# journal_lines: how many lines nodeagent.service has in the journal (a mark).
journal_lines() { cq journalctl -u nodeagent.service --no-pager -o cat | wc -l; }
# journal_has_since MARK PATTERN...: within 10 s, the unit's journal lines
# after MARK match every PATTERN (grep -E, each possibly on another line).
journal_has_since() {
  local mark=$1 i text p ok; shift
  for i in $(seq 1 100); do
    text=$(cq journalctl -u nodeagent.service --no-pager -o cat | tail -n +$((mark + 1)))
    ok=1
    for p in "$@"; do grep -Eq -- "$p" <<<"$text" || ok=0; done
    [[ $ok -eq 1 ]] && return 0
    sleep 0.1
  done
  log "journal after line $mark lacks one of: $*"
  return 1
}

t0=$(date +%s)
wait_booted || exit 2
log "booted in $(( $(date +%s) - t0 )) s: PID 1 is $pid1"

deb_files=$(dpkg-deb -c "$deb")  # whole listing first: grep -q in a pipe + pipefail = SIGPIPE
has_daemon=0
grep -q '\./usr/sbin/nodeagent$' <<<"$deb_files" && has_daemon=1
has_ctl=0
grep -q '\./usr/bin/agentctl$' <<<"$deb_files" && has_ctl=1
has_log_cleanup=0
grep -q 'plugins/log_cleanup\.so$' <<<"$deb_files" && has_log_cleanup=1

# --- step 1: install, readiness, socket -------------------------------------
begin 1 "install $(basename "$deb")"
cp "$deb" "$merged/root/nodeagent.deb"
check "dpkg -i succeeds" cx dpkg -i /root/nodeagent.deb
check "group nodeagent exists" cq getent group nodeagent
check "unit is enabled" test "$(cq systemctl is-enabled nodeagent.service)" = enabled
check "/run/nodeagent is root:nodeagent 0750" test "$(cq stat -c '%U:%G %a' /run/nodeagent)" = "root:nodeagent 750"
check "systemd-analyze verify passes" cx systemd-analyze verify --man=no /usr/lib/systemd/system/nodeagent.service
cq systemd-analyze security --no-pager nodeagent.service > "$work/security.txt" 2>&1
log "systemd-analyze security: $(grep -o 'Overall exposure level.*' "$work/security.txt")"
grep '✗' "$work/security.txt" | sed 's/^/    open: /'  # each one is justified in nodeagent.service
if [[ $has_daemon -eq 1 ]]; then
  check "service becomes active (READY=1 via sd_notify)" wait_active nodeagent.service 20
  check "unit is Type=notify" test "$(cq systemctl show -P Type nodeagent.service)" = notify
  status_text=$(cq systemctl show -P StatusText nodeagent.service)
  log "StatusText: $status_text"
  check "daemon sent STATUS=" test -n "$status_text"
  check "watchdog armed" test "$(cq systemctl show -P WatchdogUSec nodeagent.service)" != 0
  check "socket is root:nodeagent 0660" test "$(cq stat -c '%U:%G %a %F' /run/nodeagent/agent.sock)" = "root:nodeagent 660 socket"
  version_out=$(cq /usr/sbin/nodeagent --version 2>&1)
  log "nodeagent --version: $version_out"
  check "nodeagent --version prints the package version" grep -qF "$(dpkg-deb -f "$deb" Version | sed 's/[+~].*//')" <<<"$version_out"
  # For the record (bench/ measures it outside systemd): the daemon's memory
  # as systemd runs it, logging to the journal, with the packaged plugins.
  main_pid=$(cq systemctl show -P MainPID nodeagent.service)
  journal_mark=$(journal_lines)
  log "daemon under systemd: $(cq grep -E '^(VmRSS|RssAnon|RssFile):' "/proc/$main_pid/status" | tr -s ' \t\n' ' ')"
  # Reload on a minimal Debian: no procps, so no /bin/kill (the old
  # ExecReload=/bin/kill -HUP failed there with status=203/EXEC).
  check "the container has no /bin/kill (minbase without procps)" \
    test ! -e "$merged/usr/bin/kill" -a ! -e "$merged/bin/kill" -a ! -e "$merged/usr/bin/pkill"
  if [[ $fake_daemon -eq 0 ]]; then  # the fake daemon answers no requests
  check "systemctl reload succeeds with a good config" cq systemctl reload nodeagent.service
  check "the daemon logged 'config reloaded'" journal_has_since "$journal_mark" 'config reloaded'
  check "service still active, same main PID" test "$(cq systemctl is-active nodeagent.service) $(cq systemctl show -P MainPID nodeagent.service)" = "active $main_pid"
  # A refused config: systemctl reload fails, the running config stays, the
  # errors are in the unit's journal.
  journal_mark=$(journal_lines)
  printf '[agent]\nsystest_no_such_key = 1\n' > "$merged/etc/nodeagent/conf.d/99-systest-bad.toml"
  out=$(cq systemctl reload nodeagent.service 2>&1); rc=$?
  log "reload with a bad config: exit $rc: $(head -2 <<<"$out" | tr '\n' ' ')"
  check "systemctl reload fails with a bad config" test "$rc" -ne 0
  check "the journal says why: reload refused, naming the bad key" \
    journal_has_since "$journal_mark" 'reload refused' 'systest_no_such_key'
  cq journalctl -u nodeagent.service --no-pager -o cat | tail -n +$((journal_mark + 1)) | head -8 | sed 's/^/    journal: /'
  state=$(cq systemctl show -P ActiveState nodeagent.service) pid_now=$(cq systemctl show -P MainPID nodeagent.service)
  check "after the refused reload: still active, same main PID (got $state, $pid_now)" test "$state $pid_now" = "active $main_pid"
  rm -f "$merged/etc/nodeagent/conf.d/99-systest-bad.toml"
  check "reload succeeds again once the config is fixed" cq systemctl reload nodeagent.service
  fi
else
  log "the .deb has no /usr/sbin/nodeagent: readiness and socket checks not run"
  step_failed=1
fi
end

# --- step 2: access control --------------------------------------------------
if [[ $has_daemon -eq 1 && $has_ctl -eq 1 ]]; then
  begin 2 "agentctl access: root, outsider, group member"
  cq useradd --create-home outsider
  cq useradd --create-home --groups nodeagent member
  check "agentctl status as root exits 0" cx agentctl status
  out=$(cx_as outsider agentctl status 2>&1); rc=$?
  log "outsider: exit $rc: $(echo "$out" | head -2)"
  check "outsider is refused (exit 2 or 3)" test "$rc" -eq 2 -o "$rc" -eq 3
  check "outsider gets a clear error" sh -c "echo \"\$1\" | grep -Eiq 'permission|denied|not allowed|nodeagent group'" _ "$out"
  check "group member may read status" cx_as member agentctl status
  out=$(cx_as member agentctl run log-cleanup --dry-run --set 'paths=["/var/log"]' 2>&1); rc=$?
  log "member run: exit $rc: $(echo "$out" | head -2)"
  check "group member cannot run actions (non-zero exit)" test "$rc" -ne 0
  check "group member gets a clear error" sh -c "echo \"\$1\" | grep -Eiq 'permission|denied|not allowed|root'" _ "$out"
  end
else
  skip 2 "daemon or agentctl not in the package yet"
fi

# --- step 3: log-cleanup on a prepared tree -----------------------------------
if [[ $has_daemon -eq 1 && $has_ctl -eq 1 && $has_log_cleanup -eq 1 ]]; then
  begin 3 "agentctl run log-cleanup on /srv/logs"
  cx sh -c '
    set -e
    mkdir -p /srv/logs/app /srv/logs/keep
    for f in old.log app/old2.log app/old3.log; do touch -d "20 days ago" /srv/logs/$f; done
    for f in new.log app/new2.log; do touch -d "2 days ago" /srv/logs/$f; done
    touch -d "20 days ago" /srv/logs/old.txt /srv/logs/keep/notes.txt'
  # The sandbox keeps /srv read-only: grant it the documented way first.
  cx mkdir -p /etc/systemd/system/nodeagent.service.d
  cp "$repo/packaging/examples/extra-paths.conf" "$merged/etc/systemd/system/nodeagent.service.d/extra-paths.conf"
  cx systemctl daemon-reload
  cx systemctl restart nodeagent.service
  check "service active after drop-in" wait_active nodeagent.service 20
  out=$(cx agentctl run log-cleanup --set 'paths=["/srv/logs"]' 2>&1); rc=$?
  echo "$out" | sed 's/^/    /' | head -30
  check "log-cleanup exits 0" test "$rc" -eq 0
  remaining=$(cd "$merged/srv/logs" && find . -type f | sort | tr '\n' ' ')
  log "remaining: $remaining"
  check "exactly the old *.log files are gone" test "$remaining" = "./app/new2.log ./keep/notes.txt ./new.log ./old.txt "
  end
else
  skip 3 "daemon, agentctl or the log_cleanup plugin not in the package yet"
fi

# --- step 3b: the sandbox: what the shipped actions need, and no more ----------
# Each shipped kind of action runs under the real unit: log-cleanup on files
# of another user (a 0700 directory, a sticky directory, a file held open by
# that user's process, compression keeping owner and mode), an exec plugin
# (the operator's executable, which gets the same sandbox). drain-and-reboot
# runs in step 4b. What no shipped action needs must be gone: capabilities,
# syscall groups, a writable /etc. The join-prep drop-in draft must really
# extend the unit.
if [[ $has_daemon -eq 1 && $has_ctl -eq 1 && $has_log_cleanup -eq 1 ]]; then
  begin 3b "the unit's sandbox under the shipped actions"
  main_pid=$(cq systemctl show -P MainPID nodeagent.service)
  capbnd=$(cq awk '/^CapBnd:/ {print $2}' "/proc/$main_pid/status")
  # cap_chown(0) cap_dac_override(1) cap_fowner(3) cap_sys_ptrace(19)
  check "daemon's capability bounding set is chown,dac_override,fowner,sys_ptrace (got $capbnd)" \
    test "$capbnd" = 000000000008000b
  filter=$(cq systemctl show -P SystemCallFilter nodeagent.service)
  for sc in init_module finit_module delete_module swapon swapoff reboot kexec_load mount; do
    check "syscall filter does not allow $sc" test -z "$(tr ' ' '\n' <<<"$filter" | grep -x "$sc")"
  done
  check "ProtectKernelModules and ProtectKernelTunables are on" \
    test "$(cq systemctl show -P ProtectKernelModules,ProtectKernelTunables nodeagent.service | tr '\n' ' ')" = "yes yes "

  # An exec plugin reports what it may do from inside the unit.
  mkdir -p "$merged/etc/nodeagent/exec-plugins"
  cat > "$merged/etc/nodeagent/exec-plugins/sandbox-probe.toml" <<'TOML'
name = "sandbox-probe"
description = "system test: what an exec plugin may do under nodeagent.service"
executable = "sandbox-probe.sh"
TOML
  cat > "$merged/etc/nodeagent/exec-plugins/sandbox-probe.sh" <<'SH'
#!/bin/sh
# Asked for its plan first (change nothing, say what it would write), then to apply it.
req=$(cat)
change='{"kind": "write", "target": "/var/log/nodeagent-sandbox-probe.txt", "objects": ["file:/var/log/nodeagent-sandbox-probe.txt"]}'
case "$req" in
  *'"mode":"plan"'*) echo "{\"summary\": \"would probe\", \"changes\": [$change]}"; exit 0 ;;
esac
probe() {  # probe NAME PATH: can a file be created in PATH?
  if touch "$2/nodeagent-sandbox-probe" 2>/dev/null; then echo "$1=writable"; rm -f "$2/nodeagent-sandbox-probe"
  else echo "$1=read-only"; fi
}
{
  probe etc /etc
  probe varlog /var/log
  probe usr /usr/local
  getent ahosts api.systest.invalid >/dev/null && echo resolve=ok || echo resolve=failed
  echo "capbnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)"
} > /var/log/nodeagent-sandbox-probe.txt
echo "{\"summary\": \"probed\", \"changes\": [$change]}"
SH
  chmod 0755 "$merged/etc/nodeagent/exec-plugins/sandbox-probe.sh"
  # A name with an IPv4 and an IPv6 address: getaddrinfo then sorts them
  # (RFC 3484), which asks the kernel over netlink when it may.
  printf '127.0.0.1 localhost\n10.0.0.1 api.systest.invalid\nfd00::1 api.systest.invalid\n' >> "$merged/etc/hosts"
  rm -f "$merged/var/log/nodeagent-sandbox-probe.txt"
  cq systemctl reload nodeagent.service || log "reload for the exec plugin failed"
  out=$(cx agentctl run sandbox-probe 2>&1); rc=$?
  echo "$out" | sed 's/^/    /' | head -8
  probe=$(cat "$merged/var/log/nodeagent-sandbox-probe.txt" 2>/dev/null | tr '\n' ' ')
  log "exec plugin under the unit: $probe"
  check "exec plugin runs under the unit (exit 0)" test "$rc" -eq 0
  check "exec plugin: /etc is read-only" grep -q 'etc=read-only' <<<"$probe"
  check "exec plugin: /usr is read-only" grep -q 'usr=read-only' <<<"$probe"
  check "exec plugin: /var/log is writable" grep -q 'varlog=writable' <<<"$probe"
  check "exec plugin: name resolution works without AF_NETLINK" grep -q 'resolve=ok' <<<"$probe"
  check "exec plugin has the daemon's bounding set" grep -q 'capbnd=000000000008000b' <<<"$probe"

  # log-cleanup on another user's files.
  cq useradd --no-create-home logowner
  cx sh -c '
    set -e
    d=/var/log/sandbox-test
    mkdir -p $d/private $d/sticky
    head -c 200000 /dev/zero > $d/private/compress.log
    for f in private/old.log sticky/old.log private/held.log; do echo old > $d/$f; done
    chown -R logowner:logowner $d/private $d/sticky
    chmod 0700 $d/private; chmod 1777 $d/sticky
    chmod 0600 $d/private/*.log $d/sticky/old.log
    touch -d "20 days ago" $d/private/old.log $d/sticky/old.log $d/private/held.log
    touch -d "5 days ago" $d/private/compress.log'
  cq systemd-run --quiet --unit=systest-holder.service -p User=logowner /bin/sh -c \
    'exec 3</var/log/sandbox-test/private/held.log; exec sleep 600'
  held=0
  for _ in $(seq 1 100); do
    holder=$(cq systemctl show -P MainPID systest-holder.service)
    [[ $holder != 0 ]] && cq ls -l "/proc/$holder/fd" 2>/dev/null | grep -q held.log && { held=1; break; }
    sleep 0.1
  done
  check "a process of logowner holds private/held.log open" test $held -eq 1
  out=$(cx agentctl run log-cleanup --set 'paths=["/var/log/sandbox-test"]' --set 'compress_after="2d"' 2>&1); rc=$?
  echo "$out" | sed 's/^/    /' | head -20
  check "log-cleanup exits 0" test "$rc" -eq 0
  remaining=$(cd "$merged/var/log/sandbox-test" && find . -type f | sort | tr '\n' ' ')
  log "remaining: $remaining"
  check "old file in another user's 0700 directory deleted" test ! -e "$merged/var/log/sandbox-test/private/old.log"
  check "another user's old file in a sticky directory deleted" test ! -e "$merged/var/log/sandbox-test/sticky/old.log"
  check "file held open by another user's process kept" test -e "$merged/var/log/sandbox-test/private/held.log"
  check "compressed: private/compress.log.gz replaces compress.log" \
    test -e "$merged/var/log/sandbox-test/private/compress.log.gz" -a ! -e "$merged/var/log/sandbox-test/private/compress.log"
  check "compressed file keeps owner and mode (logowner 600)" \
    test "$(cq stat -c '%U %a' /var/log/sandbox-test/private/compress.log.gz)" = "logowner 600"
  cq systemctl stop systest-holder.service

  # The join-prep drop-in draft extends the unit the documented way.
  mkdir -p "$merged/etc/systemd/system/nodeagent.service.d"
  cp "$repo/packaging/examples/join-prep.conf" "$merged/etc/systemd/system/nodeagent.service.d/join-prep.conf"
  cq systemctl daemon-reload
  check "unit with the join-prep drop-in passes systemd-analyze verify" cx systemd-analyze verify --man=no nodeagent.service
  cq systemctl restart nodeagent.service
  check "service active with the join-prep drop-in" wait_active nodeagent.service 20
  main_pid=$(cq systemctl show -P MainPID nodeagent.service)
  capbnd_join=$(cq awk '/^CapBnd:/ {print $2}' "/proc/$main_pid/status")
  configured=$(cq systemctl show -P CapabilityBoundingSet nodeagent.service)
  check "join-prep drop-in adds cap_net_admin, cap_net_raw, cap_sys_module, cap_sys_admin to the unit's set" \
    bash -c 'for c in cap_chown cap_dac_override cap_fowner cap_sys_ptrace cap_net_admin cap_net_raw cap_sys_module cap_sys_admin; do
      grep -qw "$c" <<<"$1" || exit 1; done' _ "$configured"
  # + cap_net_admin(12) cap_net_raw(13) cap_sys_module(16) cap_sys_admin(21),
  # as far as the container itself has them (nspawn withholds cap_sys_module,
  # and cap_net_admin without --private-network).
  container_bnd=$(cq awk '/^CapBnd:/ {print $2}' /proc/1/status)
  want=$(printf '%016x' $(( 0x29300b & 0x$container_bnd )))
  check "the daemon gets them (CapBnd $want within the container's $container_bnd; got $capbnd_join)" \
    test "$capbnd_join" = "$want"
  rm -f "$merged/var/log/nodeagent-sandbox-probe.txt"
  cx agentctl run sandbox-probe >/dev/null 2>&1
  check "with the join-prep drop-in /etc is writable" grep -q 'etc=writable' "$merged/var/log/nodeagent-sandbox-probe.txt"
  filter=$(cq systemctl show -P SystemCallFilter nodeagent.service)
  check "with the join-prep drop-in the filter allows swapoff and finit_module" \
    bash -c 'tr " " "\n" <<<"$1" | grep -qx swapoff && tr " " "\n" <<<"$1" | grep -qx finit_module' _ "$filter"
  rm -f "$merged/etc/systemd/system/nodeagent.service.d/join-prep.conf" \
    "$merged/etc/nodeagent/exec-plugins/sandbox-probe."{toml,sh}
  cq systemctl daemon-reload
  cq systemctl restart nodeagent.service
  check "service active again without the drop-in" wait_active nodeagent.service 20
  end
else
  skip 3b "daemon, agentctl or the log_cleanup plugin not in the package yet"
fi

# --- step 4: reboot; drain-and-reboot ----------------------------------------
if [[ $has_daemon -eq 1 ]]; then
  begin 4 "container reboot: the service starts on its own"
  boot_before=$(cq cat /proc/sys/kernel/random/boot_id)
  old_nspawn=$(cat "$work/nspawn.pid")
  reboot_t0=$(date +%s)
  cq systemctl reboot
  if wait_booted "$old_nspawn"; then
    reboot_s=$(( $(date +%s) - reboot_t0 ))
    log "reboot took $reboot_s s; nodeagent's stop: $(cq journalctl -b -1 -u nodeagent.service --no-pager -o cat 2>/dev/null | grep -E 'stopping|stopped|timed out|SIGKILL' | tr '\n' ' ')"
    check "container exited with 133 and booted again" grep -q ' 133$' "$work/exits"
    # A stop that waits for TimeoutStopSec (90 s) means the daemon did not act on SIGTERM.
    check "reboot within 30 s (nodeagent stops on SIGTERM)" test "$reboot_s" -le 30
    check "boot id changed" test "$(cq cat /proc/sys/kernel/random/boot_id)" != "$boot_before"
    check "nodeagent active after reboot" wait_active nodeagent.service 30
  else
    check "container boots again after reboot" false
  fi
  end
else
  skip 4 "daemon not in the package yet"
fi

# --- step 4b: drain-and-reboot against the test API server ---------------------
# The container shares the host network, so the host-side server on 127.0.0.1
# is reachable from inside. The harness plays kubelet: after the reboot it
# reports the container's new boot id and Ready on the Node.
has_drain=0
grep -q 'plugins/drain_and_reboot\.so$' <<<"$deb_files" && has_drain=1
if [[ $has_daemon -eq 1 && $has_ctl -eq 1 && $has_drain -eq 1 ]] && command -v python3 >/dev/null && command -v kubectl >/dev/null; then
  begin 4b "agentctl run drain-and-reboot with a real reboot"
  api=$work/api
  mkdir -p "$api"
  python3 "$repo/tests/apiserver/apiserver.py" --dir "$api" --host 127.0.0.1 --port 0 >"$api/server.log" 2>&1 &
  api_pid=$!
  for _ in $(seq 1 100); do [[ -s $api/ready.json ]] && break; sleep 0.1; done
  api_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$api/ready.json" 2>/dev/null)
  kc() { kubectl --kubeconfig "$api/kubeconfig-cert" "$@"; }
  apitest() {  # apitest PATH JSON: POST to a /_test/ endpoint
    curl -sf --cacert "$api/ca.crt" --cert "$api/client.crt" --key "$api/client.key" \
      -H 'Content-Type: application/json' -X POST -d "$2" "$api_url$1"; }
  node=$(cq hostname)
  boot1=$(cq cat /proc/sys/kernel/random/boot_id)
  pods=""
  for i in 1 2 3; do
    pods+="{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-$i\",\"namespace\":\"default\",\"labels\":{\"app\":\"web\"},
      \"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web\",\"uid\":\"rs-web-uid\",\"controller\":true}]},
      \"spec\":{\"nodeName\":\"$node\",\"containers\":[{\"name\":\"web\",\"image\":\"nginx\"}]},\"status\":{\"phase\":\"Running\"}},"
  done
  fixture="{\"items\":[
    {\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$node\"},\"spec\":{},\"status\":{}},
    {\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"spare-1\"},\"spec\":{},\"status\":{}},
    {\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"rs-web-uid\"},
      \"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}}}},
    ${pods%,}]}"
  check "test API server is up ($api_url)" test -n "$api_url"
  check "fixture loaded (node $node, spare-1, 3 ReplicaSet pods)" apitest /_test/objects "$fixture" >/dev/null
  for n in "$node" spare-1; do
    b=$boot1; [[ $n == spare-1 ]] && b=spare-boot
    apitest /_test/node-status "{\"name\":\"$n\",\"ready\":true,\"bootID\":\"$b\"}" >/dev/null
  done
  # kubeconfig with the certificates embedded; node name and kubeconfig path in conf.d.
  kc config view --flatten --minify > "$merged/etc/nodeagent/kubeconfig" && chmod 0600 "$merged/etc/nodeagent/kubeconfig"
  cat > "$merged/etc/nodeagent/conf.d/60-systest-kube.toml" <<TOML
# system test: the host-side test API server
[agent]
node_name = "$node"
[kubernetes]
kubeconfig = "/etc/nodeagent/kubeconfig"
TOML
  # The unit exactly as packaged: its ProtectControlGroups=yes hides nspawn's
  # per-container boot id (the service reads the host's, unchanged by a
  # container reboot), so the agent must recognise the reboot otherwise (PID
  # 1's start time, the Node's new bootID). No drop-in may soften the sandbox.
  rm -f "$merged/etc/systemd/system/nodeagent.service.d/extra-paths.conf"  # step 3's, not needed here
  cq systemctl daemon-reload
  cq systemctl restart nodeagent.service  # also picks up the conf.d snippet
  wait_active nodeagent.service 30 || log "nodeagent did not come back after the restart"
  check "no drop-in: the unit exactly as packaged" test -z "$(cq systemctl show -P DropInPaths nodeagent.service | tr ' ' '\n' | grep 'nodeagent\.service\.d/')"
  check "the unit runs with ProtectControlGroups=yes" test "$(cq systemctl show -P ProtectControlGroups nodeagent.service)" = yes
  unit_boot1=$(cx -p ProtectControlGroups=yes cat /proc/sys/kernel/random/boot_id)
  unit_pid1_1=$(cx -p ProtectControlGroups=yes cat /proc/1/stat | sed 's/.*) //' | cut -d' ' -f20)
  log "boot id: container $boot1, as the unit sees it $unit_boot1; PID 1 start time as the unit sees it: $unit_pid1_1"
  check "agentctl kube check reaches the server" cx agentctl kube check
  old_nspawn=$(cat "$work/nspawn.pid")
  reboot_t0=$(date +%s)
  # Runs until the container goes down under it.
  cx agentctl run drain-and-reboot --set 'reboot_timeout="5m"' --set 'ready_timeout="5m"' \
    --set 'drain_timeout="2m"' > "$work/drain.out" 2>&1 &
  drain_client=$!
  if wait_booted "$old_nspawn"; then
    log "rebooted after $(( $(date +%s) - reboot_t0 )) s"
    sed 's/^/    before reboot: /' "$work/drain.out" | tail -15
    boot2=$(cq cat /proc/sys/kernel/random/boot_id)
    check "container really rebooted (nspawn exit 133, new boot id)" test "$(grep -c ' 133$' "$work/exits")" -ge 2 -a "$boot2" != "$boot1"
    unit_pid1_2=$(cx -p ProtectControlGroups=yes cat /proc/1/stat | sed 's/.*) //' | cut -d' ' -f20)
    log "after the reboot, as the unit sees it: boot id $(cx -p ProtectControlGroups=yes cat /proc/sys/kernel/random/boot_id) (before $unit_boot1), PID 1 start time $unit_pid1_2 (before $unit_pid1_1)"
    check "node cordoned before the reboot" sh -c "test \"\$(kubectl --kubeconfig '$api/kubeconfig-cert' get node '$node' -o jsonpath='{.spec.unschedulable}')\" = true"
    check "all 3 pods evicted" test -z "$(kc get pods -n default --field-selector spec.nodeName="$node" -o name 2>/dev/null)"
    check "nodeagent active after the reboot" wait_active nodeagent.service 30
    sleep 3  # the daemon resumes the run and waits for the Node's boot id
    check "node still cordoned until the kubelet reports the new boot" sh -c "test \"\$(kubectl --kubeconfig '$api/kubeconfig-cert' get node '$node' -o jsonpath='{.spec.unschedulable}')\" = true"
    apitest /_test/node-status "{\"name\":\"$node\",\"ready\":true,\"bootID\":\"$boot2\"}" >/dev/null  # as kubelet
    uncordoned=0
    for _ in $(seq 1 120); do
      [[ -z $(kc get node "$node" -o jsonpath='{.spec.unschedulable}' 2>/dev/null) ]] && { uncordoned=1; break; }
      sleep 0.5
    done
    check "node uncordoned after the new boot id and Ready" test $uncordoned -eq 1
    if [[ $uncordoned -ne 1 ]]; then
      log "nodeagent journal, boot before the reboot:"
      cq journalctl -b -1 -u nodeagent.service --no-pager -o cat 2>/dev/null | tail -25 | sed 's/^/    /'
      log "boot id via nsenter: $(cq cat /proc/sys/kernel/random/boot_id); in a unit: $(cx cat /proc/sys/kernel/random/boot_id); with ProtectControlGroups=yes: $(cx -p ProtectControlGroups=yes cat /proc/sys/kernel/random/boot_id); boot1=$boot1 boot2=$boot2"
      log "checkpoint: $(cq sh -c 'cat /var/lib/nodeagent/runs/*.checkpoint.json' 2>&1 | head -c 600)"
      log "nodeagent journal, this boot:"
      cq journalctl -b -u nodeagent.service --no-pager -o cat 2>/dev/null | tail -40 | sed 's/^/    /'
    fi
    sleep 1
    check "reboot lock released (no lease held by $node)" sh -c "! kubectl --kubeconfig '$api/kubeconfig-cert' get leases -n kube-system -o jsonpath='{.items[*].spec.holderIdentity}' | grep -qw '$node'"
    cx agentctl -o json history > "$work/history.json" 2>&1
    runs=$(python3 - "$work/history.json" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
found = []
def walk(x):
    if isinstance(x, dict):
        if x.get("action") == "drain-and-reboot":
            found.append(x)
        for v in x.values(): walk(v)
    elif isinstance(x, list):
        for v in x: walk(v)
try:
    walk(json.loads(text))  # agentctl -o json prints one indented document
except ValueError:
    for line in text.splitlines():
        try: walk(json.loads(line))
        except ValueError: pass
print(" ".join(f'{r.get("run_id", r.get("id", "?"))}:{r.get("status")}' for r in found))
PY
)
    log "drain-and-reboot runs in history: $runs"
    cx agentctl history | sed 's/^/    /' | head -8
    check "history: exactly one drain-and-reboot run, completed (ok/changed)" \
      sh -c "set -- $runs; test \$# -eq 1 && case \$1 in *:ok|*:changed) true ;; *) false ;; esac"
  else
    check "container boots again after drain-and-reboot" false
    sed 's/^/    /' "$work/drain.out" | tail -20
  fi
  kill "$drain_client" 2>/dev/null; wait "$drain_client" 2>/dev/null
  kill "$api_pid" 2>/dev/null; wait "$api_pid" 2>/dev/null
  rm -f "$merged/etc/nodeagent/conf.d/60-systest-kube.toml"
  end
else
  skip 4b "needs the daemon, agentctl, plugins/drain_and_reboot in the package, python3 and kubectl"
fi

# --- step 5: upgrade keeps config; remove keeps; purge deletes ----------------
begin 5 "upgrade, remove, purge"
new_version="$(dpkg-deb -f "$deb" Version)+systest1"
rm -rf "$work/repack"
dpkg-deb -R "$deb" "$work/repack"
sed -i "s/^Version: .*/Version: $new_version/" "$work/repack/DEBIAN/control"
new_deb=$work/nodeagent_${new_version}_amd64.deb
dpkg-deb --root-owner-group -b "$work/repack" "$new_deb" >/dev/null
cp "$new_deb" "$merged/root/nodeagent-new.deb"
has_conf=0
[[ -f $merged/etc/nodeagent/agent.toml ]] && has_conf=1
if [[ $has_conf -eq 1 ]]; then
  cx sh -c 'echo "# systest: local change" >> /etc/nodeagent/agent.toml'
fi
cx sh -c 'echo state > /var/lib/nodeagent/systest-marker; echo "# local" > /etc/nodeagent/conf.d/90-local.toml'
pid_before=$(cq systemctl show -P MainPID nodeagent.service)
check "dpkg -i of $new_version succeeds" cx dpkg -i --force-confdef --force-confold /root/nodeagent-new.deb
check "version is $new_version" test "$(cq dpkg-query -W -f '${Version}' nodeagent)" = "$new_version"
if [[ $has_conf -eq 1 ]]; then
  check "modified agent.toml kept on upgrade" grep -q 'systest: local change' "$merged/etc/nodeagent/agent.toml"
else
  log "no /etc/nodeagent/agent.toml in the package: conffile checks not run"; step_failed=1
fi
if [[ $has_daemon -eq 1 ]]; then
  check "service active after upgrade" wait_active nodeagent.service 20
  check "service restarted on upgrade" test "$(cq systemctl show -P MainPID nodeagent.service)" != "$pid_before"
fi
check "dpkg -r succeeds" cx dpkg -r nodeagent
check "service not active after remove" test "$(cq systemctl is-active nodeagent.service)" != active
check "daemon binary gone after remove" test ! -e "$merged/usr/sbin/nodeagent"
[[ $has_conf -eq 1 ]] && check "agent.toml kept after remove" test -f "$merged/etc/nodeagent/agent.toml"
check "conf.d drop-in kept after remove" test -f "$merged/etc/nodeagent/conf.d/90-local.toml"
check "state kept after remove" test -f "$merged/var/lib/nodeagent/systest-marker"
check "dpkg -P succeeds" cx dpkg -P nodeagent
check "/etc/nodeagent gone after purge" test ! -e "$merged/etc/nodeagent"
check "/var/lib/nodeagent gone after purge" test ! -e "$merged/var/lib/nodeagent"
check "no enablement left after purge" test ! -e "$merged/etc/systemd/system/multi-user.target.wants/nodeagent.service"
end

# --- step 6: RPM file layout (no rpm -i on Debian) ------------------------------
if [[ -f $rpm_file ]] && command -v rpm >/dev/null; then
  begin 6 "RPM layout of $(basename "$rpm_file")"
  files=$(rpm -qlp "$rpm_file" 2>/dev/null)
  for path in /usr/sbin/nodeagent /usr/bin/agentctl /usr/libexec/nodeagent/nodeagent-runner /usr/lib/nodeagent/plugins \
      /etc/nodeagent/agent.toml /etc/nodeagent/conf.d /usr/lib/systemd/system/nodeagent.service \
      /usr/lib/sysusers.d/nodeagent.conf /usr/lib/tmpfiles.d/nodeagent.conf \
      /usr/share/man/man8/nodeagent.8.gz /usr/share/man/man1/agentctl.1.gz \
      /usr/share/man/man5/nodeagent.toml.5.gz /usr/share/bash-completion/completions/agentctl; do
    check "rpm contains $path" grep -qxF "$path" <<<"$files"
  done
  check "agent.toml is %config(noreplace)" sh -c "rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' '$rpm_file' | grep -q '^cn.* /etc/nodeagent/agent.toml$'"
  for d in /usr /usr/lib /usr/libexec /usr/lib/systemd /usr/lib/systemd/system /usr/share/man /usr/sbin /etc; do
    check "rpm does not own $d" test -z "$(grep -xF "$d" <<<"$files")"
  done
  end
else
  skip 6 "no .rpm or no rpm tool"
fi

# --- summary -------------------------------------------------------------------
echo "=== system test summary ($(( $(date +%s) - t0 )) s) ==="
rc=0
for r in "${results[@]}"; do
  echo "step $r"
  case $r in
    *FAIL) rc=1 ;;
    *SKIP*) [[ ${NODEAGENT_SYSTEST_STRICT:-0} == 1 ]] && rc=1 ;;
  esac
done
exit $rc
