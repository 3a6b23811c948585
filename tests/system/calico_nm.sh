#!/bin/bash
# System test of calico-network's NetworkManager part against the real
# NetworkManager 1.42 of Debian 12, in a booted container (build-root.sh
# --flavour nm) with a private network (--private-network: NetworkManager
# inside only ever sees the container's own interfaces). Each step boots a
# fresh container and sets up what a node has before Calico is fixed:
#   - /etc/NetworkManager/conf.d/10-docker.conf, an earlier file making
#     docker0 unmanaged (`[keyfile] unmanaged-devices=interface-name:docker0`);
#   - a bridge docker0 with an address (unmanaged through that file);
#   - a veth cali1234abcd with an address, a tun tunl0 with an address (the
#     kernel has no ipip: a stand-in with the name), a veth vxlan.calico;
#     their peers are named so that no Calico spec matches them;
#   - a veth eth0 with a static NetworkManager profile (10.79.1.10/24), the
#     node's own interface, which must stay managed and keep its address.
# Before anything runs, NetworkManager must manage the three Calico devices
# (asserted: otherwise the test would prove nothing).
#   1 calico_network_nm (the nm_config/nm_devices units over the real host,
#     no agent): the plan creates conf.d/calico.conf with `unmanaged-devices+=`
#     and runs `nmcli general reload conf`, and changes nothing; --apply makes
#     the three Calico devices `unmanaged` with docker0 still unmanaged,
#     `NetworkManager --print-config` shows both; tunl0 (connected
#     externally) keeps its address, the devices NetworkManager configured
#     itself are taken down, as DevicesTakenDownByUnmanage predicts; a second
#     look plans nothing; a NetworkManager restart keeps them unmanaged.
#   2 the action (`agentctl --local run calico-network` from the installed
#     .deb, no kubeconfig: the cluster parts are skipped): the dry run plans
#     the drop-in (its diff) and the reload and changes nothing; the run makes
#     the devices unmanaged, keeps docker0 unmanaged; a second dry run plans
#     nothing. Skipped (SKIP line) without --deb.
#   3 the same run through the daemon (`agentctl run calico-network`, the
#     shipped nodeagent.service started): the unit's sandbox lets it read the
#     network (AF_NETLINK), write conf.d/calico.conf and reload over D-Bus.
#
# Usage: tests/system/calico_nm.sh [--build-dir DIR] [--deb FILE]
#   DIR holds plugins/calico_network/calico_network_nm (default $repo/build);
#   FILE is the nodeagent .deb step 2 installs.
# Exit: 0 every step passed, 1 a step failed, 2 setup problem. Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$repo/build
deb=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build=$2; shift 2 ;;
    --deb) deb=$2; shift 2 ;;
    -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
    *) echo "calico_nm.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "calico_nm.sh: must run as root" >&2; exit 2; }
tool_bin=$build/plugins/calico_network/calico_network_nm
[[ -x $tool_bin ]] || { echo "calico_nm.sh: $tool_bin missing (ninja -C $build calico_network_nm)" >&2; exit 2; }
[[ -z $deb || -f $deb ]] || { echo "calico_nm.sh: --deb $deb: no such file" >&2; exit 2; }
for tool in systemd-nspawn nsenter python3; do
  command -v "$tool" >/dev/null || { echo "calico_nm.sh: $tool missing" >&2; exit 2; }
done
[[ -c /dev/net/tun ]] || { echo "calico_nm.sh: /dev/net/tun missing (tunl0's stand-in is a tun device)" >&2; exit 2; }

NM_ROOT=${NODEAGENT_NM_TEST_ROOT:-/var/cache/nodeagent-test/bookworm-nm-root.$(sed -n 's/^nm_recipe_version=//p' "$here/build-root.sh")}
CALICO_DEVICES=(cali1234abcd tunl0 vxlan.calico)
work=""
launcher=""
pid1=""
cg=nodeagent-cnnm.$$

log() { echo "[calico-nm] $*" >&2; }

shutdown_container() {
  set +e
  if [[ -n $launcher ]] && kill -0 "$launcher" 2>/dev/null; then
    [[ -n $pid1 ]] && kill -0 "$pid1" 2>/dev/null && nsenter -t "$pid1" -a systemctl poweroff >/dev/null 2>&1
    for _ in $(seq 1 100); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$launcher" 2>/dev/null
    wait "$launcher" 2>/dev/null
  fi
  launcher="" pid1=""
  [[ -n $work ]] && mountpoint -q "$work/merged" && umount "$work/merged"
  set -e
}

cleanup() {
  set +e
  shutdown_container
  for hierarchy in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
    [[ -d $hierarchy/$cg ]] && find "$hierarchy/$cg" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  # Outputs go only when nothing is mounted below them any more.
  if [[ -z ${keep_dir:-} && -n ${out:-} && -d $out ]] && ! grep -qF " $out/" /proc/mounts; then rm -rf "$out"; fi
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# container_pid1 NSPAWN_PID: nspawn's child that is PID 1 in its pid namespace.
container_pid1() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    if awk '$1 == "NSpid:" { exit !(NF > 2 && $NF == 1) }' "/proc/$child/status" 2>/dev/null; then
      echo "$child"; return 0
    fi
  done
  return 1
}

# cx: a command in a transient unit of the container (its sandbox), piped.
cx() { nsenter -t "$pid1" -a systemd-run --quiet --wait --pipe --collect --service-type=exec "$@"; }
# cq: a read-only look into the container.
cq() { nsenter -t "$pid1" -a "$@"; }

# wait_for SECONDS cmd...: until cmd succeeds (0) or the deadline passes (1).
wait_for() {
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  while :; do
    "$@" && return 0
    (( $(date +%s%N) < deadline )) || return 1
    sleep 0.1
  done
}

# boot NAME: a fresh overlay on the nm root, the earlier conf.d file in
# place, booted with a private network; NetworkManager running.
boot() {
  local name=$1 state=""
  work=$out/$name
  mkdir -p "$work"/{upper,ovl,merged}
  mount -t overlay overlay -o "lowerdir=$NM_ROOT,upperdir=$work/upper,workdir=$work/ovl" "$work/merged" || return 1
  mkdir -p "$work/merged/etc/NetworkManager/conf.d"
  printf '[keyfile]\nunmanaged-devices=interface-name:docker0\n' >"$work/merged/etc/NetworkManager/conf.d/10-docker.conf"
  (
    for hierarchy in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
      if [[ -d $hierarchy ]] && mkdir -p "$hierarchy/$cg" 2>/dev/null; then
        echo "$BASHPID" >"$hierarchy/$cg/cgroup.procs" 2>/dev/null
      fi
    done
    exec systemd-nspawn --register=no --keep-unit -b -D "$work/merged" --console=read-only \
      --machine="cnnm-$name-$$" --private-network --bind=/dev/net/tun >>"$work/console.log" 2>&1
  ) &
  launcher=$!
  local t0; t0=$(date +%s%N)
  for _ in $(seq 1 1200); do
    pid1=$(container_pid1 "$launcher") || pid1=""
    if [[ -n $pid1 ]]; then
      state=$(cq systemctl is-system-running 2>/dev/null) || true
      [[ $state == running || $state == degraded ]] && break
    elif ! kill -0 "$launcher" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  if [[ $state != running && $state != degraded ]]; then
    log "boot did not finish (state: ${state:-no answer}); console:"; tail -30 "$work/console.log" >&2; return 1
  fi
  nm_running() { [[ $(cq env LC_ALL=C nmcli -t -f RUNNING general 2>/dev/null) == running ]]; }
  wait_for 30 nm_running || { log "NetworkManager not running"; cq systemctl status --no-pager NetworkManager >&2; return 1; }
  log "$name: booted, NetworkManager $(cq env LC_ALL=C nmcli -t -f VERSION general) running in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

# The devices of a node before Calico is fixed (see the header). The node's
# eth0 gets its static NetworkManager profile first, so that NetworkManager
# takes it rather than a "Wired connection" of its own.
make_devices() {
  cx nmcli connection add type ethernet ifname eth0 con-name node-eth0 ipv4.method manual \
    ipv4.addresses 10.79.1.10/24 ipv6.method disabled >/dev/null
  cx sh -ec '
    ip link add eth0 type veth peer name peer-e0
    ip link set eth0 up
    ip link set peer-e0 up
    ip link add docker0 type bridge
    ip addr add 172.17.0.1/16 dev docker0
    ip link set docker0 up
    ip link add cali1234abcd type veth peer name peer-c0
    ip addr add 10.244.1.1/32 dev cali1234abcd
    ip link set cali1234abcd up
    ip link set peer-c0 up
    ip tuntap add tunl0 mode tun
    ip link set tunl0 mtu 1480 up
    ip addr add 10.244.1.0/32 dev tunl0
    ip link add vxlan.calico type veth peer name peer-v0
    ip link set vxlan.calico mtu 1450 up
    ip link set peer-v0 up'
}

devices() { cq env LC_ALL=C nmcli -t -f DEVICE,TYPE,STATE device; }
# state_of DEVICE: its nmcli STATE ("" when NetworkManager does not list it).
state_of() { devices | awk -F: -v d="$1" '$1 == d { print $3 }'; }
is_unmanaged() { [[ $(state_of "$1") == unmanaged ]]; }
is_managed() { local s; s=$(state_of "$1"); [[ -n $s && $s != unmanaged ]]; }
is_listed() { [[ -n $(state_of "$1") ]]; }
all_calico() {  # all_calico PREDICATE
  local d
  for d in "${CALICO_DEVICES[@]}"; do "$1" "$d" || return 1; done
}
eth0_up() { [[ $(state_of eth0) == connected ]] && has_addr eth0 10.79.1.10/24; }
has_addr() {
  # Output captured first: with pipefail, grep -q quitting early would fail
  # the pipeline through ip's SIGPIPE.
  local addrs; addrs=$(cq ip -o addr show dev "$1")
  grep -q " $2 " <<<"$addrs" && return 0
  log "$1 has not $2: $(cq ip -br addr show dev "$1" 2>&1)"; return 1
}
link_up() { local l; l=$(cq ip -o link show dev "$1"); grep -q '[<,]UP[,>]' <<<"$l"; }
link_down() { ! link_up "$1"; }
print_config_unmanaged() { cq NetworkManager --print-config | sed -n 's/^unmanaged-devices=//p'; }
config_has() { local c; c=$(print_config_unmanaged | tr ',;' '\n\n'); grep -qxF "$1" <<<"$c"; }
# json_is FILE EXPR: EXPR over the JSON (as d; for an agentctl record, r) is true.
json_is() {
  python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); r=d.get("record", d) if isinstance(d, dict) else d
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

t_start=$(date +%s)
results=()
failed=0
step_ok=1
check() {  # check DESCRIPTION cmd...: one PASS/FAIL line; a failure fails the step
  local what=$1; shift
  if "$@"; then echo "PASS $what"; else echo "FAIL $what"; step_ok=0; fi
}
finish_step() {  # finish_step NAME SECONDS
  if [[ $step_ok -eq 1 ]]; then results+=("PASS $1 (${2}s)"); else results+=("FAIL $1 (${2}s)"); failed=1; fi
  step_ok=1
}

"$here/build-root.sh" --flavour nm "$NM_ROOT" || { log "cannot build $NM_ROOT"; exit 2; }
keep_dir=""
out=$(mktemp -d /var/tmp/nodeagent-cnnm.XXXXXX)

# before NAME: boot, devices, and the state every step starts from (asserted).
before() {
  boot "$1" || exit 2
  make_devices || { log "cannot create the devices"; exit 2; }
  check "NetworkManager manages cali1234abcd, tunl0 and vxlan.calico (waited for)" wait_for 20 all_calico is_managed
  check "docker0 is unmanaged through 10-docker.conf" wait_for 10 is_unmanaged docker0
  check "eth0 connected through its profile, with 10.79.1.10/24" wait_for 20 eth0_up
  devices >"$out/$1-before.txt"
  log "$1: nmcli before:"; sed 's/^/    /' "$out/$1-before.txt" >&2
}

# --- 1: the units, without the agent ---------------------------------------------
t0=$(date +%s)
before units
install -m 0755 "$tool_bin" "$work/merged/usr/local/bin/calico_network_nm"
rc=0; cx calico_network_nm >"$out/units-plan.json" || rc=$?
check "plan: exit 1 (something to do)" test "$rc" = 1
check "plan: NetworkManager running, only docker0 unmanaged, every Calico spec missing" json_is "$out/units-plan.json" \
  'd["network_manager"]["running"] and d["effective_unmanaged"] == ["interface-name:docker0"] and "interface-name:cali*" in d["missing"]'
check "plan: creates conf.d/calico.conf with unmanaged-devices+=, then nmcli general reload conf" json_is "$out/units-plan.json" \
  '[(c["kind"], c["target"]) for c in d["plan"]["changes"]] == [("create", "/etc/NetworkManager/conf.d/calico.conf"), ("run", "nmcli general reload conf")] and "+unmanaged-devices+=interface-name:cali*," in d["plan"]["changes"][0]["diff"]'
# Which Calico devices NetworkManager configured itself (DHCP) and which it
# took as they were (connected externally) depends on whether the address
# came before NetworkManager looked: the prediction must match nmcli.
check "plan: predicts which devices NetworkManager will take down (not the externally connected ones)" json_is "$out/units-plan.json" \
  'sorted(x["device"] for x in d["taken_down_by_unmanage"]) == sorted(x["device"] for x in d["managed_before"] if x["state"] != "connected (externally)") and "vxlan.calico" in [x["device"] for x in d["taken_down_by_unmanage"]]'
taken_down=$(python3 -c 'import json,sys; print(" ".join(x["device"] for x in json.load(open(sys.argv[1]))["taken_down_by_unmanage"]))' "$out/units-plan.json")
external=$(python3 -c 'import json,sys; print(" ".join(x["device"] for x in json.load(open(sys.argv[1]))["devices_before"] if x["state"] == "connected (externally)"))' "$out/units-plan.json")
check "plan wrote nothing" test ! -e "$work/merged/etc/NetworkManager/conf.d/calico.conf"
check "plan changed nothing: Calico devices still managed" all_calico is_managed
t_apply=$(date +%s%N)
rc=0; cx calico_network_nm --apply >"$out/units-apply.json" || rc=$?
log "units: --apply took $(( ($(date +%s%N) - t_apply) / 1000000 )) ms (exit $rc)"
check "--apply: exit 0, file written, reloaded, nothing left managed" json_is "$out/units-apply.json" \
  'd["applied"] and d["reloaded"] and d["still_managed"] == []'
check "nmcli: cali1234abcd, tunl0, vxlan.calico unmanaged" all_calico is_unmanaged
check "nmcli: docker0 still unmanaged" is_unmanaged docker0
check "nmcli: the peers (no Calico name) still managed" is_managed peer-c0
devices >"$out/units-after.txt"
log "units: nmcli after:"; sed 's/^/    /' "$out/units-after.txt" >&2
check "--print-config: unmanaged-devices has interface-name:docker0" config_has interface-name:docker0
check "--print-config: unmanaged-devices has interface-name:cali*" config_has 'interface-name:cali*'
check "--print-config: unmanaged-devices has interface-name:tunl*" config_has 'interface-name:tunl*'
check "our file /etc/NetworkManager/conf.d/calico.conf exists, 10-docker.conf untouched" sh -c \
  "grep -q '^unmanaged-devices+=' '$work/merged/etc/NetworkManager/conf.d/calico.conf' && grep -qx 'unmanaged-devices=interface-name:docker0' '$work/merged/etc/NetworkManager/conf.d/10-docker.conf'"
check "tunl0 (connected externally) keeps its address 10.244.1.0/32" has_addr tunl0 10.244.1.0/32
if [[ " $external " == *" cali1234abcd "* ]]; then
  cali_kept() { has_addr cali1234abcd 10.244.1.1/32 && link_up cali1234abcd; }
  check "cali1234abcd (connected externally before) keeps its address and stays up" cali_kept
fi
check "docker0 keeps its address" has_addr docker0 172.17.0.1/16
check "eth0 (the node's, NetworkManager's profile) still connected with its address" eth0_up
# NetworkManager 1.42 deconfigures what it configured itself when the device
# becomes unmanaged (nm-device.c: CLEANUP_TYPE_DECONFIGURE, nm_device_take_down).
for d in $taken_down; do
  check "$d (NetworkManager configured it itself) is down after the reload, as predicted" link_down "$d"
done
log "units: after the fix: $(cq ip -br addr show dev cali1234abcd) | $(cq ip -br addr show dev tunl0)"
rc=0; cx calico_network_nm >"$out/units-again.json" || rc=$?
check "a second look: exit 0, no change planned, nothing missing" sh -c \
  "test $rc = 0 && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d[\"plan\"][\"changes\"] == [] and d[\"missing\"] == [] else 1)' '$out/units-again.json'"
nm_pid=$(cq systemctl show -P MainPID NetworkManager)
cx systemctl restart NetworkManager
nm_back() { [[ $(cq systemctl show -P MainPID NetworkManager) != "$nm_pid" && $(cq env LC_ALL=C nmcli -t -f RUNNING general 2>/dev/null) == running ]]; }
check "NetworkManager restarted (a new main PID, running)" wait_for 30 nm_back
check "after the restart NetworkManager lists the Calico devices again" wait_for 10 all_calico is_listed
check "after the restart the Calico devices stay unmanaged" all_calico is_unmanaged
# NetworkManager stopped: nothing to fix, and no error (the issue's "say so
# otherwise, status ok").
cx systemctl stop NetworkManager
nm_stopped() { ! cq systemctl is-active --quiet NetworkManager; }
check "NetworkManager stopped" wait_for 30 nm_stopped
rc=0; cx calico_network_nm >"$out/units-stopped.json" || rc=$?
check "NetworkManager stopped: exit 0, installed, not running, nmcli's words quoted" sh -c \
  "test $rc = 0 && python3 -c 'import json,sys; n=json.load(open(sys.argv[1]))[\"network_manager\"]; sys.exit(0 if n[\"installed\"] and not n[\"running\"] and \"not running\" in n[\"why\"] else 1)' '$out/units-stopped.json'"
log "units: with NetworkManager stopped: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["network_manager"]["why"])' "$out/units-stopped.json" 2>&1)"
shutdown_container
finish_step "1 units (calico_network_nm)" $(( $(date +%s) - t0 ))

# --- 2: the action through agentctl ------------------------------------------------
if [[ -z $deb ]]; then
  results+=("SKIP 2 agentctl run calico-network (no --deb)")
else
  t0=$(date +%s)
  before action
  install -m 0644 "$deb" "$work/merged/var/tmp/nodeagent.deb"  # /tmp is a tmpfs of the container
  install_deb() { cx dpkg -i /var/tmp/nodeagent.deb >"$out/dpkg.log" 2>&1 || { cat "$out/dpkg.log"; return 1; }; }
  check "the .deb installs in the container" install_deb
  # calico_network RUN_NAME [args]: the action as an operator runs it; its
  # record in $out/RUN_NAME.json. No kubeconfig in the container: the
  # cluster parts are skipped.
  calico_network() {
    local name=$1; shift
    cx agentctl --local -o json run calico-network "$@" >"$out/$name.json" 2>"$out/$name.err" || true
  }
  calico_network action-plan --dry-run
  check "dry run: data.network_manager running, Calico specs missing, file calico.conf" json_is "$out/action-plan.json" \
    'r["data"]["network_manager"]["running"] and "interface-name:cali*" in r["data"]["network_manager"]["missing"] and r["data"]["network_manager"]["file"] == "/etc/NetworkManager/conf.d/calico.conf"'
  check "dry run: plans the drop-in (diff with unmanaged-devices+=) and nmcli general reload conf" json_is "$out/action-plan.json" \
    'any(c.get("target") == "/etc/NetworkManager/conf.d/calico.conf" and "unmanaged-devices+=" in c.get("diff", "") for c in r["changes"]) and any(c.get("target") == "nmcli general reload conf" for c in r["changes"])'
  check "dry run: warns that NetworkManager will take down vxlan.calico (it configured it itself)" json_is "$out/action-plan.json" \
    'any(f["severity"] == "warning" and "vxlan.calico" in f["message"] and "down" in f["message"] for f in r["findings"])'
  log "action: dry run findings: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d.get("record", d); print("; ".join(f["severity"] + " " + f["subject"] + ": " + f["message"] for f in r["findings"]))' "$out/action-plan.json" 2>&1)"
  check "dry run wrote nothing" test ! -e "$work/merged/etc/NetworkManager/conf.d/calico.conf"
  check "dry run changed nothing: Calico devices still managed" all_calico is_managed
  t_apply=$(date +%s%N)
  calico_network action-run
  log "action: the run took $(( ($(date +%s%N) - t_apply) / 1000000 )) ms"
  log "action: run status $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d.get("record", d); print(r.get("status"), "-", r.get("summary"))' "$out/action-run.json" 2>&1)"
  check "run: wrote calico.conf and reloaded, no NetworkManager error" json_is "$out/action-run.json" \
    '[c["target"] for c in r["changes"]][:2] == ["/etc/NetworkManager/conf.d/calico.conf", "nmcli general reload conf"] and not any(f["severity"] == "error" and ("NetworkManager" in f["subject"] or "calico.conf" in f["subject"]) for f in r["findings"])'
  check "nmcli: cali1234abcd, tunl0, vxlan.calico unmanaged" all_calico is_unmanaged
  check "nmcli: docker0 still unmanaged" is_unmanaged docker0
  check "eth0 still connected with its address" eth0_up
  devices >"$out/action-after.txt"
  log "action: nmcli after:"; sed 's/^/    /' "$out/action-after.txt" >&2
  check "--print-config: unmanaged-devices has interface-name:docker0" config_has interface-name:docker0
  check "--print-config: unmanaged-devices has interface-name:cali*" config_has 'interface-name:cali*'
  check "our file calico.conf exists" test -f "$work/merged/etc/NetworkManager/conf.d/calico.conf"
  calico_network action-again --dry-run
  check "a second dry run plans no change" json_is "$out/action-again.json" 'not r.get("changes")'
  shutdown_container
  finish_step "2 agentctl run calico-network" $(( $(date +%s) - t0 ))
fi

# --- 3: the action through the daemon, under the shipped unit's sandbox -----------
# The unit allows what calico-network needs and nothing more: AF_NETLINK to
# read the network (no CAP_NET_ADMIN), /etc/NetworkManager/conf.d writable,
# D-Bus for nmcli. A run through the daemon proves the sandbox lets it work.
if [[ -n $deb ]]; then
  t0=$(date +%s)
  before daemon
  install -m 0644 "$deb" "$work/merged/var/tmp/nodeagent.deb"
  check "the .deb installs in the container" install_deb
  cx systemctl start nodeagent.service >/dev/null 2>&1 || true
  daemon_up() { cq systemctl is-active --quiet nodeagent.service && cq test -S /run/nodeagent/agent.sock; }
  check "nodeagent.service is active" wait_for 30 daemon_up
  cx agentctl -o json run calico-network >"$out/daemon-run.json" 2>"$out/daemon-run.err" || true
  log "daemon: run status $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d.get("record", d); print(r.get("status"), "-", r.get("summary"))' "$out/daemon-run.json" 2>&1)"
  check "daemon run: wrote calico.conf and reloaded" json_is "$out/daemon-run.json" \
    '[c["target"] for c in r["changes"]][:2] == ["/etc/NetworkManager/conf.d/calico.conf", "nmcli general reload conf"]'
  check "daemon run: the network was read through netlink (an autodetection pick)" json_is "$out/daemon-run.json" \
    'r["data"]["autodetection"]["picks"]["first-found"].get("address")'
  check "nmcli after the daemon's run: cali1234abcd, tunl0, vxlan.calico unmanaged" all_calico is_unmanaged
  check "nmcli: docker0 still unmanaged" is_unmanaged docker0
  cq journalctl -u nodeagent.service --no-pager -n 20 >"$out/daemon-journal.txt" 2>&1 || true
  shutdown_container
  finish_step "3 agentctl run calico-network (daemon)" $(( $(date +%s) - t0 ))
fi

echo "=== calico_nm summary ($(( $(date +%s) - t_start )) s) ==="
for r in "${results[@]}"; do echo "$r"; done
if [[ $failed -ne 0 ]]; then
  keep_dir=1
  for f in "$out"/*.json "$out"/*.err "$out"/*.txt; do
    [[ -f $f ]] || continue
    echo "--- $(basename "$f")"; head -c 4000 "$f"; echo
  done
  echo "(outputs kept in $out)"
  exit 1
fi
exit 0
