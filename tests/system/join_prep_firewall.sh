#!/bin/bash
# System test of join-prep's firewall managers and swap-unit masking in a
# booted Debian 12 container (the joinprep root of build-root.sh) whose
# network namespace is joined by a veth pair to a "control plane" namespace
# (tests/system/joinprep_container.sh; private addresses 10.79.0.x only):
#   1 firewalld: public zone without 10250; a listener on 10250 is not
#     reachable from the control plane; the planned fix (firewall-cmd, saved
#     and running) opens it; it stays open after `firewall-cmd --reload`; a
#     second look plans nothing.
#   2 ufw: default deny incoming, 10250 not reachable; the planned `ufw
#     allow` opens it; a second look plans nothing.
#   3 swap units, enabled: `systemctl mask --now` masks one from
#     /usr/lib/systemd/system; for one whose file is in /etc/systemd/system
#     it refuses (the file must be moved aside, then mask works).
#   4 join-prep itself (`agentctl --local run join-prep` from the installed
#     .deb, fix = firewall and swap-units): ufw closes 10250 again and a swap
#     unit is enabled; the dry run says which rule and unit, changes
#     nothing; the run opens the port through ufw and masks the unit; a
#     second dry run plans nothing. Then the same with firewalld.
# Steps 1-3 run the firewalld.h/ufw.h functions through
# join_prep_fwmgr_probe; step 4 the whole action.
#
# Usage: tests/system/join_prep_firewall.sh [--build-dir DIR] --deb FILE
#   DIR holds plugins/join_prep/join_prep_fwmgr_probe (default $repo/build);
#   FILE is the nodeagent .deb step 4 installs.
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
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "join_prep_firewall.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "join_prep_firewall.sh: must run as root" >&2; exit 2; }
probe_bin=$build/plugins/join_prep/join_prep_fwmgr_probe
[[ -f $deb ]] || { echo "join_prep_firewall.sh: --deb FILE (the nodeagent package) is required" >&2; exit 2; }
[[ -x $probe_bin ]] || { echo "join_prep_firewall.sh: $probe_bin missing (ninja -C $build join_prep_fwmgr_probe)" >&2; exit 2; }
for tool in systemd-nspawn nsenter ip python3; do
  command -v "$tool" >/dev/null || { echo "join_prep_firewall.sh: $tool missing" >&2; exit 2; }
done

source "$here/joinprep_container.sh"
trap jp_cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
results=()
failed=0
step_ok=1
log() { echo "[jp-firewall] $*"; }
check() {  # check DESCRIPTION cmd...: one PASS/FAIL line; a failure fails the step
  local what=$1; shift
  if "$@"; then echo "PASS $what"; else echo "FAIL $what"; step_ok=0; fi
}
finish_step() {  # finish_step NAME
  if [[ $step_ok -eq 1 ]]; then results+=("PASS $1"); else results+=("FAIL $1"); failed=1; fi
  step_ok=1
}

# probe MANAGER [--fix]: what join-prep's firewall check sees for 10250/tcp
# from the control plane (JSON on stdout). The one place that runs the code
# under test: swap it for `agentctl run join-prep` once the glue exists.
probe() {
  local manager=$1; shift
  cx /usr/local/bin/join_prep_fwmgr_probe "$manager" --port 10250/tcp --iif eth1 \
    --saddr "$JP_CP_ADDR" --daddr "$JP_NODE_ADDR" --from 10.79.0.0/24 "$@"
}
# json_is FILE PYTHON-EXPR: the expression over the probe's JSON (as `d`) is true.
json_is() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"; }
reachable() { jp_connect 10250 2 >/dev/null; }
unreachable() { ! jp_connect 10250 2 >/dev/null; }

jp_boot || exit 2
log "booted in $(( $(date +%s) - t0 )) s: PID 1 is $pid1"
out=$jp_work/out
mkdir -p "$out"
install -m 0755 "$probe_bin" "$jp_work/merged/usr/local/bin/join_prep_fwmgr_probe"
# The kubelet's port: a listener that accepts and closes, in a unit of its own.
cq systemd-run --quiet --unit=jp-listener-10250 --service-type=simple python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 10250)); s.listen(16)
while True:
    c, _ = s.accept(); c.close()'
listening() { [[ $(cq python3 -c 'import socket; socket.create_connection(("127.0.0.1", 10250), 2); print("ok")' 2>/dev/null) == ok ]]; }
for _ in $(seq 1 50); do listening && break; sleep 0.1; done
check "listener on 10250 in the container" listening
check "control plane reaches 10250 with no firewall" reachable

# --- 1: firewalld ------------------------------------------------------------
cq systemctl unmask firewalld.service >/dev/null 2>&1
cq systemctl enable --now firewalld.service >/dev/null 2>&1 || true
fw_running() { [[ $(cq firewall-cmd --state 2>/dev/null) == running ]]; }
for _ in $(seq 1 300); do fw_running && break; sleep 0.1; done
check "firewalld running" fw_running
cx firewall-cmd --zone=public --change-interface=eth1 >/dev/null
cx firewall-cmd --permanent --zone=public --change-interface=eth1 >/dev/null
check "firewalld: 10250 not reachable from the control plane" unreachable
probe firewalld >"$out/fw-before.json" || true
check "probe: zone public by interface eth1" json_is "$out/fw-before.json" \
  'd["zone_for"]["zone"] == "public" and d["zone_for"]["reason"] == "interface eth1"'
check "probe: 10250/tcp rejected, ZoneAllows false" json_is "$out/fw-before.json" \
  'd["verdicts"]["10250/tcp"]["verdict"] == "reject" and d["zone_allows"]["10250/tcp"] is False'
check "probe: fix plans firewall-cmd --permanent and runtime --add-port=10250/tcp" json_is "$out/fw-before.json" \
  '[s["run"] for s in d["fix"]["steps"]] == ["firewall-cmd --permanent --zone=public --add-port=10250/tcp", "firewall-cmd --zone=public --add-port=10250/tcp"]'
probe firewalld --fix >"$out/fw-fix.json" || true
check "probe --fix: steps applied, verdict accept after" json_is "$out/fw-fix.json" \
  'all(a["ok"] for a in d["applied"]) and d["after"]["verdicts"]["10250/tcp"]["verdict"] == "accept"'
check "firewalld: 10250 reachable after the fix" reachable
cx firewall-cmd --reload >/dev/null
check "firewalld: still reachable after firewall-cmd --reload (permanent)" reachable
probe firewalld >"$out/fw-again.json" || true
check "probe again: accept, no fix planned (idempotent)" json_is "$out/fw-again.json" \
  'd["verdicts"]["10250/tcp"]["verdict"] == "accept" and d["fix"]["steps"] == []'
finish_step "1 firewalld"

# --- 2: ufw ------------------------------------------------------------------
cq systemctl disable --now firewalld.service >/dev/null 2>&1
cq systemctl mask firewalld.service >/dev/null 2>&1
cq nft flush ruleset
check "no firewall left: 10250 reachable" reachable
cq systemctl unmask ufw.service >/dev/null 2>&1
cx ufw default deny incoming >/dev/null
cx ufw --force enable >/dev/null
check "ufw active" sh -c "nsenter -t $pid1 -a ufw status | grep -qx 'Status: active'"
check "ufw: 10250 not reachable (default deny incoming)" unreachable
probe ufw >"$out/ufw-before.json" || true
check "probe: ufw active, default deny, 10250/tcp dropped" json_is "$out/ufw-before.json" \
  'd["active"] and d["default_incoming"] == "deny" and d["verdicts"]["10250/tcp"]["verdict"] == "drop"'
check "probe: fix plans ufw allow proto tcp from 10.79.0.0/24 to any port 10250" json_is "$out/ufw-before.json" \
  '[s["run"] for s in d["fix"]["steps"]] == ["ufw allow proto tcp from 10.79.0.0/24 to any port 10250"]'
probe ufw --fix >"$out/ufw-fix.json" || true
check "probe --fix: applied, verdict accept after" json_is "$out/ufw-fix.json" \
  'all(a["ok"] for a in d["applied"]) and d["after"]["verdicts"]["10250/tcp"]["verdict"] == "accept"'
check "ufw: 10250 reachable after the fix" reachable
probe ufw >"$out/ufw-again.json" || true
check "probe again: accept, no fix planned (idempotent)" json_is "$out/ufw-again.json" \
  'd["verdicts"]["10250/tcp"]["verdict"] == "accept" and d["fix"]["steps"] == []'
finish_step "2 ufw"

# --- 3: swap units, masked ------------------------------------------------------
# No swapon: the container refuses it; the units are only enabled. systemctl
# mask writes a /dev/null link into /etc/systemd/system: for a unit whose
# file is there itself, it refuses ("File ... already exists"), so the file
# has to be moved aside first. A unit from /usr/lib (or a generator) masks
# directly.
swap_unit() {  # swap_unit PATH: a swap unit file for /swapfile, enabled
  cat >"$jp_work/merged$1" <<'UNIT'
[Unit]
Description=swap file (join-prep system test)

[Swap]
What=/swapfile

[Install]
WantedBy=swap.target
UNIT
  cq systemctl daemon-reload
  cq systemctl enable "$(basename "$1")" >/dev/null 2>&1 || true
}
is_enabled() { cq systemctl is-enabled "$1" 2>/dev/null || true; }
swap_unit /etc/systemd/system/swapfile.swap
check "swapfile.swap (in /etc/systemd/system) enabled" test "$(is_enabled swapfile.swap)" = enabled
rc=0
cx systemctl mask --now swapfile.swap >"$out/mask-etc.txt" 2>&1 || rc=$?
log "systemctl mask --now swapfile.swap: exit $rc: $(tr '\n' ' ' <"$out/mask-etc.txt")"
check "systemctl mask refuses a unit whose file is in /etc/systemd/system" \
  grep -q "swapfile.swap already exists" "$out/mask-etc.txt"
cx systemctl disable --now swapfile.swap >/dev/null 2>&1
mv "$jp_work/merged/etc/systemd/system/swapfile.swap" "$jp_work/merged/etc/systemd/system/swapfile.swap.disabled"
cq systemctl daemon-reload
cx systemctl mask --now swapfile.swap >/dev/null 2>&1 || true
check "disable --now, file moved aside, mask: is-enabled swapfile.swap is masked" test "$(is_enabled swapfile.swap)" = masked
swap_unit /usr/lib/systemd/system/swapfile2.swap
check "swapfile2.swap (in /usr/lib/systemd/system) enabled" test "$(is_enabled swapfile2.swap)" = enabled
cx systemctl mask --now swapfile2.swap >/dev/null 2>&1 || true
check "systemctl mask --now swapfile2.swap: is-enabled masked" test "$(is_enabled swapfile2.swap)" = masked
finish_step "3 swap units"

# --- 4: join-prep through agentctl ---------------------------------------------
install -m 0644 "$deb" "$jp_work/merged/var/tmp/nodeagent.deb"  # /tmp is a tmpfs of the container
check "the .deb installs in the container" cx dpkg -i /var/tmp/nodeagent.deb
# join_prep RUN_NAME [--dry-run]: the action as an operator runs it, its record in $out/RUN_NAME.json.
join_prep() {
  local name=$1; shift
  cx agentctl --local -o json run join-prep --set "endpoint=\"$JP_CP_ADDR:6443\"" --set 'cni="none"' \
    --set 'fix=["firewall", "swap-units"]' --set 'connect_timeout="500ms"' "$@" >"$out/$name.json" 2>"$out/$name.err" || true
}
# jp_is FILE EXPR: EXPR over the run record (as r; r["data"]["checks"] by id as c).
jp_is() {
  python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); r=d.get("record", d)
c={x["id"]: x for x in r.get("data", {}).get("checks", [])}
p={(x["proto"], x["port"]): x for x in r.get("data", {}).get("firewall", {}).get("ports", [])}
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}
cx ufw --force delete allow proto tcp from 10.79.0.0/24 to any port 10250 >/dev/null 2>&1 || true
check "ufw: 10250 closed again" unreachable
swap_unit /usr/lib/systemd/system/swapfile3.swap
check "swapfile3.swap enabled" test "$(is_enabled swapfile3.swap)" = enabled
join_prep ufw-plan --dry-run
check "dry run: 10250/tcp dropped by ufw, as the kernel does" jp_is "$out/ufw-plan.json" \
  'p[("tcp", 10250)]["verdict"] == "drop" and p[("tcp", 10250)]["manager"] == "ufw"'
check "dry run: plans ufw allow for 10250 and the mask of swapfile3.swap" jp_is "$out/ufw-plan.json" \
  'any(x["target"].startswith("ufw allow proto tcp from '"$JP_CP_ADDR"' to any port 10250") for x in r["changes"]) and any("swapfile3.swap" in x["target"] for x in r["changes"])'
check "dry run left 10250 closed" unreachable
check "dry run left swapfile3.swap enabled" test "$(is_enabled swapfile3.swap)" = enabled
join_prep ufw-run
check "run: Firewall-10250-tcp and SwapUnits fixed" jp_is "$out/ufw-run.json" \
  'c["Firewall-10250-tcp"]["status"] == "fixed" and c["SwapUnits"]["status"] == "fixed"'
check "ufw: 10250 reachable after join-prep" reachable
check "swapfile3.swap masked after join-prep" test "$(is_enabled swapfile3.swap)" = masked
join_prep ufw-again --dry-run
check "a second dry run plans nothing" jp_is "$out/ufw-again.json" 'not r.get("changes")'
cx ufw --force disable >/dev/null
cq nft flush ruleset
cq systemctl unmask firewalld.service >/dev/null 2>&1
cq systemctl enable --now firewalld.service >/dev/null 2>&1 || true
for _ in $(seq 1 300); do fw_running && break; sleep 0.1; done
cx firewall-cmd --permanent --zone=public --remove-port=10250/tcp >/dev/null 2>&1 || true
cx firewall-cmd --reload >/dev/null
cx firewall-cmd --zone=public --change-interface=eth1 >/dev/null
check "firewalld again: 10250 closed" unreachable
join_prep fw-plan --dry-run
check "dry run: 10250/tcp rejected by firewalld" jp_is "$out/fw-plan.json" \
  'p[("tcp", 10250)]["verdict"] == "reject" and p[("tcp", 10250)]["manager"] == "firewalld"'
join_prep fw-run
check "run: Firewall-10250-tcp fixed through firewall-cmd" jp_is "$out/fw-run.json" \
  'c["Firewall-10250-tcp"]["status"] == "fixed" and any(x["target"].startswith("firewall-cmd --permanent --zone=public") for x in r["changes"])'
check "firewalld: 10250 reachable after join-prep" reachable
cx firewall-cmd --reload >/dev/null
check "firewalld: still reachable after a reload" reachable
join_prep fw-again --dry-run
check "a second dry run plans nothing" jp_is "$out/fw-again.json" 'not r.get("changes")'
finish_step "4 join-prep (agentctl)"

echo "=== join_prep_firewall summary ($(( $(date +%s) - t0 )) s) ==="
for r in "${results[@]}"; do echo "$r"; done
if [[ $failed -ne 0 ]]; then
  for f in "$out"/*.json "$out"/*.err; do
    echo "--- $(basename "$f")"
    # join-prep records: what matters, not every passing check.
    python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); r=d.get("record", d)
if "data" not in r or "checks" not in r.get("data", {}): raise ValueError
print(r.get("status"), r.get("summary"))
for x in r.get("changes", []): print("  change:", x.get("target"))
for x in r["data"]["checks"]:
    if x["status"] != "pass": print("  check:", x["id"], x["status"], x["message"][:300])
for x in r["data"].get("firewall", {}).get("ports", []): print("  port:", json.dumps(x))' "$f" 2>/dev/null || head -c 3000 "$f"
    echo
  done
  exit 1
fi
exit 0
