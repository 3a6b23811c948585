#!/bin/bash
# System test of the join step (plugins/join_prep/join/) in a booted Debian 12
# container (systemd-nspawn, sharing the host network like run.sh): a
# stand-in kubeadm (kubeadm_standin.sh, as /usr/bin/kubeadm) checks what the
# step hands it (a 0600 JoinConfiguration in a 0700 directory, the expected
# endpoint, token and CA pin, the token on no command line and in no
# environment), the host-side test API server (tests/apiserver/apiserver.py)
# gets the Node only after the stand-in ran, and real kubectl reads it back.
#   J1: a join that kubeadm refuses (preflight errors): kubeadm's [ERROR]
#       lines and the reset advice come back, no reset is run, no file is left.
#   J2: the join succeeds, the Node turns Ready (NotReady first), the step
#       sees it through a client made from the kubeconfig the join wrote.
# Until the join action is in the package, the step runs through the driver
# join_prep_join_probe (plugins/join_prep/tools/join_probe.cpp); with
# --agentctl it runs `agentctl run join` from the installed .deb instead.
#
# Usage: tests/system/join_prep_join.sh [--build-dir DIR] [--probe FILE] [--agentctl --deb FILE] [--keep]
#   --build-dir  build tree with plugins/join_prep/join_prep_join_probe (default: build)
#   --agentctl   install --deb and drive `agentctl run join` (needs the plugin glue)
# Env: NODEAGENT_TEST_ROOT (cached root; default build-root.sh's).
# Exit: 0 all steps passed, 1 a step failed, 2 setup problem. Needs root,
# systemd-container, debootstrap, python3 (with yaml), openssl, curl, kubectl.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build_dir=$repo/build
probe="" deb="" keep=0 mode=probe
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --probe) probe=$2; shift 2 ;;
    --deb) deb=$2; shift 2 ;;
    --agentctl) mode=agentctl; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "join_prep_join.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n $probe ]] || probe=$build_dir/plugins/join_prep/join_prep_join_probe
[[ $(id -u) -eq 0 ]] || { echo "join_prep_join.sh: must run as root" >&2; exit 2; }
if [[ $mode == probe ]]; then
  [[ -x $probe ]] || { echo "join_prep_join.sh: no probe at $probe (ninja -C $build_dir join_prep_join_probe)" >&2; exit 2; }
else
  [[ -f $deb ]] || { echo "join_prep_join.sh: --agentctl needs --deb FILE" >&2; exit 2; }
fi
for tool in systemd-nspawn nsenter python3 openssl curl kubectl; do
  command -v "$tool" >/dev/null || { echo "join_prep_join.sh: $tool missing (scripts/deps.sh)" >&2; exit 2; }
done
# Debian's python3 with python3-yaml (scripts/deps.sh --test), whatever python3 comes first in PATH.
/usr/bin/python3 -c 'import yaml' 2>/dev/null || { echo "join_prep_join.sh: python3-yaml missing (scripts/deps.sh --test)" >&2; exit 2; }

root=${NODEAGENT_TEST_ROOT:-/var/cache/nodeagent-test/bookworm-root.$(sed -n 's/^recipe_version=//p' "$here/build-root.sh")}
"$here/build-root.sh" "$root" || { echo "join_prep_join.sh: cannot build the container root" >&2; exit 2; }

# --- bookkeeping (as in run.sh) ---------------------------------------------
declare -a results=()
step_failed=0 current_step=""
log() { echo "[join-systest ${current_step:-setup}] $*"; }
begin() { current_step=$1; step_failed=0; log "BEGIN $2"; }
check() {
  local what=$1; shift
  if "$@"; then log "ok: $what"; else log "FAIL: $what"; step_failed=1; fi
}
end() {
  local status=PASS
  [[ $step_failed -eq 0 ]] || status=FAIL
  results+=("$current_step $status"); log "END $status"
}

# --- container lifecycle (the parts of run.sh this test needs; no reboots) ---
work=$(mktemp -d /var/tmp/nodeagent-join-systest.XXXXXX)
merged=$work/merged
cg_name=nodeagent-join-systest.$$
launcher_pid="" pid1="" api_pid=""
cleanup() {
  set +e
  [[ -n $api_pid ]] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null
  if [[ -n $launcher_pid ]] && kill -0 "$launcher_pid" 2>/dev/null; then
    [[ -n $pid1 ]] && kill -0 "$pid1" 2>/dev/null && nsenter -t "$pid1" -a systemctl poweroff >/dev/null 2>&1
    for _ in $(seq 1 100); do kill -0 "$launcher_pid" 2>/dev/null || break; sleep 0.1; done
    pkill -KILL -P "$launcher_pid" 2>/dev/null  # our nspawn only
    kill -KILL "$launcher_pid" 2>/dev/null
    wait "$launcher_pid" 2>/dev/null
  fi
  mountpoint -q "$merged" && umount "$merged"
  for hierarchy in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
    [[ -d $hierarchy/$cg_name ]] && find "$hierarchy/$cg_name" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  if [[ $keep -eq 1 ]]; then echo "join_prep_join.sh: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work"/{upper,ovl,merged}
mount -t overlay overlay -o "lowerdir=$root,upperdir=$work/upper,workdir=$work/ovl" "$merged" ||
  { echo "join_prep_join.sh: overlay mount failed" >&2; exit 2; }
(
  for hierarchy in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
    if [[ -d $hierarchy ]] && mkdir -p "$hierarchy/$cg_name" 2>/dev/null; then
      echo "$BASHPID" > "$hierarchy/$cg_name/cgroup.procs" 2>/dev/null
    fi
  done
  exec systemd-nspawn --register=no --keep-unit -b -D "$merged" --console=read-only \
    --machine="nodeagent-join-systest-$$" >>"$work/console.log" 2>&1
) &
launcher_pid=$!

container_pid1() {  # the child of nspawn that is PID 1 of its pid namespace
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    if awk '$1 == "NSpid:" { exit !(NF > 2 && $NF == 1) }' "/proc/$child/status" 2>/dev/null; then
      echo "$child"; return 0
    fi
  done
  return 1
}
wait_booted() {
  local i state=""
  for i in $(seq 1 1200); do
    pid1=$(container_pid1 "$launcher_pid") || pid1=""
    if [[ -n $pid1 ]]; then
      state=$(nsenter -t "$pid1" -a systemctl is-system-running 2>/dev/null)
      [[ $state == running || $state == degraded ]] && return 0
    elif ! kill -0 "$launcher_pid" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  log "boot did not finish (state: ${state:-no answer}); console:"; tail -30 "$work/console.log"
  return 1
}
cx() { nsenter -t "$pid1" -a systemd-run --quiet --wait --pipe --collect --service-type=exec "$@"; }
cq() { nsenter -t "$pid1" -a "$@"; }

t0=$(date +%s)
wait_booted || exit 2
log "container up after $(( $(date +%s) - t0 )) s (PID 1 = $pid1)"

# --- the cluster side: test API server on the host ---------------------------
api=$work/api
mkdir -p "$api"
python3 "$repo/tests/apiserver/apiserver.py" --dir "$api" --host 127.0.0.1 --port 0 >"$api/server.log" 2>&1 &
api_pid=$!
for _ in $(seq 1 100); do [[ -s $api/ready.json ]] && break; sleep 0.1; done
[[ -s $api/ready.json ]] || { log "test API server did not start"; cat "$api/server.log"; exit 2; }
api_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$api/ready.json")
endpoint=${api_url#https://}
kc() { kubectl --kubeconfig "$api/kubeconfig-cert" "$@"; }
apitest() { curl -sf --cacert "$api/ca.crt" --cert "$api/client.crt" --key "$api/client.key" \
  -H 'Content-Type: application/json' -X POST -d "$2" "$api_url$1"; }
# The CA pin as kubeadm computes it: sha256 of the CA certificate's SubjectPublicKeyInfo.
ca_hash=sha256:$(openssl x509 -in "$api/ca.crt" -pubkey -noout | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)
token=$(tr -dc 'a-z0-9' </dev/urandom | head -c 6).$(tr -dc 'a-z0-9' </dev/urandom | head -c 16)
node=$(cq hostname)
log "API server $api_url, node $node, CA pin $ca_hash"

# --- the node side: stand-in kubeadm, its expectations, the token file -------
install -m 0755 "$here/kubeadm_standin.sh" "$merged/usr/bin/kubeadm"
install -d -m 0700 "$merged/etc/kubeadm-standin"
echo v1.31.2 > "$merged/etc/kubeadm-standin/version"
install -d -m 0755 "$merged/etc/nodeagent"
# What the JoinConfiguration's ignorePreflightErrors must hold: the probe
# passes Swap; the action passes the operator's list (here "all", see run_join).
ignored=Swap
[[ $mode == agentctl ]] && ignored=all
(umask 077; printf '%s\n' "$token" > "$merged/etc/kubeadm-standin/token"; printf '%s\n' "$token" > "$merged/etc/nodeagent/join-token")
cat > "$merged/etc/kubeadm-standin/expect" <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
    apiServerEndpoint: "$endpoint"
    token: "$token"
    - "$ca_hash"
  name: "$node"
  - "$ignored"
EOF
chmod 0600 "$merged/etc/kubeadm-standin/expect"
kc config view --flatten --minify > "$merged/etc/kubeadm-standin/kubelet.conf"
chmod 0600 "$merged/etc/kubeadm-standin/kubelet.conf"
if [[ $mode == probe ]]; then
  install -d "$merged/opt/join-probe"
  install -m 0755 "$probe" "$merged/opt/join-probe/join_prep_join_probe"
else
  cp "$deb" "$merged/root/nodeagent.deb"
  cx dpkg -i /root/nodeagent.deb >/dev/null || { log "dpkg -i failed"; exit 2; }
  cat > "$merged/etc/nodeagent/conf.d/60-join-systest.toml" <<TOML
# join system test: the agent's client is the kubelet's, written by the join
[agent]
node_name = "$node"
[kubernetes]
kubeconfig = "/etc/kubernetes/kubelet.conf"
TOML
  mkdir -p "$merged/etc/systemd/system/nodeagent.service.d"
  cp "$repo/packaging/examples/join-prep.conf" "$merged/etc/systemd/system/nodeagent.service.d/join-prep.conf"
  cq systemctl daemon-reload
  cq systemctl restart nodeagent.service
fi

# run_join OUT_PREFIX: the join step as the mode runs it; stdout (JSON) to
# OUT_PREFIX.out, stderr (log, progress) to OUT_PREFIX.err; returns its exit.
run_join() {
  if [[ $mode == probe ]]; then
    cx /opt/join-probe/join_prep_join_probe --endpoint "$endpoint" --token-file /etc/nodeagent/join-token \
      --ca-cert-hash "$ca_hash" --node-name "$node" --ignore Swap \
      --kubeconfig /etc/kubernetes/kubelet.conf --ready-timeout 60 --join-timeout 120 >"$1.out" 2>"$1.err"
  else
    # The token only as a file, never on agentctl's argv. The container is
    # no node (no kubelet, no runtime, a read-only /proc/sys): the preflight
    # reports, fixes nothing (fix=[]) and every check is ignored, so that
    # the join itself is what this test looks at.
    cx agentctl -o json run join --set "endpoint=\"$endpoint\"" --set 'token_file="/etc/nodeagent/join-token"' \
      --set "ca_cert_hashes=[\"$ca_hash\"]" --set 'ignore=["all"]' --set 'fix=[]' --set 'ready_timeout="60s"' \
      >"$1.out" 2>"$1.err"
    local rc=$? id
    # -o json holds the outcome only; the run's log lines (kubeadm's output,
    # the Node's states while waiting) are in its history.
    id=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("record", d).get("id", ""))' "$1.out" 2>/dev/null)
    [[ -n $id ]] && cx agentctl logs "$id" >"$1.log" 2>&1
    return $rc
  fi
}
# json_get FILE EXPR: EXPR on d, where d["join"], d["ready"] and d["error"]
# are the first objects under those keys anywhere in FILE's JSON (the probe
# prints them at the top; agentctl -o json nests the run's Outcome.data).
json_get() {
  python3 - "$1" "$2" <<'PY' 2>/dev/null
import json, sys
found = {}
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k in ("join", "ready", "error") and k not in found and not isinstance(v, list):
                found[k] = v
            walk(v)
    elif isinstance(x, list):
        for v in x: walk(v)
walk(json.load(open(sys.argv[1])))
d = found
print(eval(sys.argv[2]))
PY
}
no_token_in() { ! grep -qF -- "$token" "$@"; }
private_dirs_left() { cq sh -c 'ls -A /run/nodeagent/join 2>/dev/null' | tr '\n' ' '; }

# --- J1: kubeadm refuses the join --------------------------------------------
begin J1 "a failed join: kubeadm's errors and the advice, no reset, nothing left"
touch "$merged/etc/kubeadm-standin/fail"
run_join "$work/j1"; rc=$?
sed 's/^/    /' "$work/j1.err" | tail -12
check "the join step fails (non-zero exit, got $rc)" test "$rc" -ne 0
check "result: not joined" test "$(json_get "$work/j1.out" 'd["join"]["joined"]')" = False
check "result: kubeadm's [ERROR Swap] line" grep -q '\[ERROR Swap\]: running with swap on is not supported' "$work/j1.out"
check "result: kubeadm's 'error execution phase' line" grep -q 'error execution phase preflight' "$work/j1.out"
check "result: the advice names kubeadm reset -f" grep -q 'kubeadm reset -f' "$work/j1.out"
check "kubeadm reset was never run" sh -c "! grep -q '^reset' '$merged/var/log/kubeadm-standin/calls'"
check "the stand-in's checks passed" sh -c "! grep -q '^FAIL' '$merged/var/log/kubeadm-standin/report'"
check "no private directory left under /run/nodeagent/join (left: $(private_dirs_left))" test -z "$(private_dirs_left)"
check "no Node was created" sh -c "! kubectl --kubeconfig '$api/kubeconfig-cert' get node '$node' >/dev/null 2>&1"
check "the token is in neither output" no_token_in "$work/j1.out" "$work/j1.err"
rm -f "$merged/etc/kubeadm-standin/fail" "$merged/var/log/kubeadm-standin/report"
end

# --- J2: the join succeeds and the Node turns Ready ---------------------------
begin J2 "a join that succeeds; the Node turns Ready only after it"
check "no Node $node before the join" sh -c "! kubectl --kubeconfig '$api/kubeconfig-cert' get node '$node' >/dev/null 2>&1"
check "no kubelet.conf before the join" test ! -e "$merged/etc/kubernetes/kubelet.conf"
# The harness plays the kubelet: once the stand-in has run, the Node appears
# NotReady (no CNI yet) and turns Ready two seconds later.
(
  for _ in $(seq 1 600); do [[ -e $merged/var/log/kubeadm-standin/joined ]] && break; sleep 0.1; done
  [[ -e $merged/var/log/kubeadm-standin/joined ]] || exit 1
  apitest /_test/objects "{\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$node\"},\"spec\":{},\"status\":{}}]}" >/dev/null
  apitest /_test/node-status "{\"name\":\"$node\",\"ready\":false}" >/dev/null
  sleep 2
  apitest /_test/node-status "{\"name\":\"$node\",\"ready\":true}" >/dev/null
) &
kubelet_pid=$!
j2_t0=$(date +%s.%N)
run_join "$work/j2"; rc=$?
j2_s=$(python3 -c "import sys; print(round($(date +%s.%N) - $j2_t0, 1))")
wait "$kubelet_pid"
sed 's/^/    /' "$work/j2.err" | tail -14
log "the join step took $j2_s s"
check "the join step succeeds (exit 0, got $rc)" test "$rc" -eq 0
check "result: joined" test "$(json_get "$work/j2.out" 'd["join"]["joined"]')" = True
check "result: kubeadm v1.31.2, kubeadm.k8s.io/v1beta4" \
  test "$(json_get "$work/j2.out" 'd["join"]["kubeadm_version"] + " " + d["join"]["api_version"]')" = "v1.31.2 kubeadm.k8s.io/v1beta4"
check "result: Ready" test "$(json_get "$work/j2.out" 'd["ready"]["ready"]')" = True
check "the stand-in's checks all passed" sh -c "test -s '$merged/var/log/kubeadm-standin/report' && ! grep -q '^FAIL' '$merged/var/log/kubeadm-standin/report'"
grep '^FAIL' "$merged/var/log/kubeadm-standin/report" 2>/dev/null | sed 's/^/    stand-in /'
check "the stand-in checked mode 600, the 0700 directory and the command lines" \
  sh -c 'grep -q "ok: the config file has mode 600" "$1" && grep -q "ok: its directory has mode 700" "$1" &&
    grep -q "ok: the token is on no process.s command line" "$1"' _ "$merged/var/log/kubeadm-standin/report"
check "the JoinConfiguration parses as YAML with the expected values" /usr/bin/python3 - "$merged/var/log/kubeadm-standin/seen-config.yaml" "$endpoint" "$token" "$ca_hash" "$node" "$ignored" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
bt = d["discovery"]["bootstrapToken"]
ok = (d["apiVersion"] == "kubeadm.k8s.io/v1beta4" and d["kind"] == "JoinConfiguration"
      and bt["apiServerEndpoint"] == sys.argv[2] and bt["token"] == sys.argv[3]
      and bt["caCertHashes"] == [sys.argv[4]] and "unsafeSkipCAVerification" not in bt
      and d["nodeRegistration"]["name"] == sys.argv[5]
      and d["nodeRegistration"]["ignorePreflightErrors"] == [sys.argv[6]] and "controlPlane" not in d)
sys.exit(0 if ok else 1)
PY
check "progress showed the Node before it was Ready" grep -qE "node $node: (not found yet|Ready=False)" "$work/j2.err" "$work/j2.out" $([[ -f $work/j2.log ]] && echo "$work/j2.log")
check "the Node is Ready (kubectl)" \
  test "$(kc get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True
check "no private directory left under /run/nodeagent/join (left: $(private_dirs_left))" test -z "$(private_dirs_left)"
check "the token's line was streamed, redacted" grep -q 'using bootstrap token <redacted>' "$work/j2.err" "$work/j2.out" $([[ -f $work/j2.log ]] && echo "$work/j2.log")
check "the token is in neither output" no_token_in "$work/j2.out" "$work/j2.err" $([[ -f $work/j2.log ]] && echo "$work/j2.log")
check "the token is not in the container's journal" sh -c "! nsenter -t $pid1 -a journalctl -o cat --no-pager 2>/dev/null | grep -qF -- '$token'"
check "kubeadm was called only for version and join" \
  test -z "$(grep -vE '^(version -o short|join --config /run/nodeagent/join/join-[0-9a-f]+/join-configuration.yaml)$' "$merged/var/log/kubeadm-standin/calls")"
end

echo "=== join system test summary ($(( $(date +%s) - t0 )) s) ==="
rc=0
for r in "${results[@]}"; do echo "step $r"; [[ $r == *FAIL ]] && rc=1; done
exit $rc
