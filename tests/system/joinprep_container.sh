# Sourced by tests/system/join_prep_firewall.sh and
# plugins/join_prep/firewall/testdata/capture.sh: boots the joinprep root
# (build-root.sh --flavour joinprep) under an overlay in a network namespace
# of its own, joined by a veth pair to a second namespace that plays the
# control plane:
#   node ns   $JP_NODE_NS: eth1 10.79.0.1/24   (the container's network)
#   cp ns     $JP_CP_NS:   cp0  10.79.0.2/24
# Never the host's network: firewalld and ufw inside change the firewall of
# the namespace they run in.
# Provides jp_boot, jp_cleanup, cx (a command in a transient unit of the
# container), cq (a read-only look), cp_exec (in the control plane ns).
# Needs: bash, root, systemd-nspawn, nsenter, ip.

JP_NODE_ADDR=10.79.0.1
JP_CP_ADDR=10.79.0.2
jp_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
JP_ROOT=${NODEAGENT_JOINPREP_TEST_ROOT:-/var/cache/nodeagent-test/bookworm-joinprep-root.$(sed -n 's/^joinprep_recipe_version=//p' "$jp_here/build-root.sh")}
JP_NODE_NS=jp-fwnode-$$
JP_CP_NS=jp-fwcp-$$
jp_work=""
jp_launcher=""
pid1=""
jp_cg=nodeagent-jpfw.$$

jp_log() { echo "[jp-container] $*" >&2; }

jp_cleanup() {
  set +e
  if [[ -n $jp_launcher ]] && kill -0 "$jp_launcher" 2>/dev/null; then
    [[ -n $pid1 ]] && kill -0 "$pid1" 2>/dev/null && nsenter -t "$pid1" -a systemctl poweroff >/dev/null 2>&1
    for _ in $(seq 1 100); do kill -0 "$jp_launcher" 2>/dev/null || break; sleep 0.1; done

    kill -KILL "$jp_launcher" 2>/dev/null
    wait "$jp_launcher" 2>/dev/null
  fi
  [[ -n $jp_work ]] && mountpoint -q "$jp_work/merged" && umount "$jp_work/merged"
  for hierarchy in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
    [[ -d $hierarchy/$jp_cg ]] && find "$hierarchy/$jp_cg" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  ip netns del "$JP_NODE_NS" 2>/dev/null
  ip netns del "$JP_CP_NS" 2>/dev/null
  [[ -n $jp_work ]] && rm -rf "$jp_work"
  return 0
}

# container_pid1 NSPAWN_PID: nspawn's child that is PID 1 in its pid namespace.
jp_container_pid1() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    if awk '$1 == "NSpid:" { exit !(NF > 2 && $NF == 1) }' "/proc/$child/status" 2>/dev/null; then
      echo "$child"; return 0
    fi
  done
  return 1
}

# jp_boot: namespaces, veth, overlay, boot; sets pid1 and jp_work. Returns
# non-zero (with the console's tail) when the boot does not finish in 120 s.
jp_boot() {
  "$jp_here/build-root.sh" --flavour joinprep "$JP_ROOT" || { jp_log "cannot build $JP_ROOT"; return 1; }
  ip netns add "$JP_NODE_NS" && ip netns add "$JP_CP_NS" || return 1
  ip link add jpfw-n$$ netns "$JP_NODE_NS" type veth peer name jpfw-c$$ netns "$JP_CP_NS" || return 1
  ip -n "$JP_NODE_NS" link set jpfw-n$$ name eth1
  ip -n "$JP_CP_NS" link set jpfw-c$$ name cp0
  ip -n "$JP_NODE_NS" addr add "$JP_NODE_ADDR/24" dev eth1
  ip -n "$JP_CP_NS" addr add "$JP_CP_ADDR/24" dev cp0
  for ns in "$JP_NODE_NS" "$JP_CP_NS"; do ip -n "$ns" link set lo up; done
  ip -n "$JP_NODE_NS" link set eth1 up
  ip -n "$JP_CP_NS" link set cp0 up
  jp_work=$(mktemp -d /var/tmp/nodeagent-jpfw.XXXXXX)
  mkdir -p "$jp_work"/{upper,ovl,merged}
  mount -t overlay overlay -o "lowerdir=$JP_ROOT,upperdir=$jp_work/upper,workdir=$jp_work/ovl" "$jp_work/merged" || return 1
  # A namespace given by path is private, but nspawn only keeps
  # CAP_NET_ADMIN for --private-network: firewalld's nft calls need it.
  (
    for hierarchy in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
      if [[ -d $hierarchy ]] && mkdir -p "$hierarchy/$jp_cg" 2>/dev/null; then
        echo "$BASHPID" > "$hierarchy/$jp_cg/cgroup.procs" 2>/dev/null
      fi
    done
    exec systemd-nspawn --register=no --keep-unit -b -D "$jp_work/merged" --console=read-only \
      --machine="jpfw-$$" --network-namespace-path="/run/netns/$JP_NODE_NS" \
      --capability=CAP_NET_ADMIN >>"$jp_work/console.log" 2>&1
  ) &
  jp_launcher=$!
  local i state=""
  pid1=""
  for i in $(seq 1 1200); do
    pid1=$(jp_container_pid1 "$jp_launcher") || pid1=""
    if [[ -n $pid1 ]]; then
      state=$(nsenter -t "$pid1" -a systemctl is-system-running 2>/dev/null) || true
      [[ $state == running || $state == degraded ]] && return 0
    elif ! kill -0 "$jp_launcher" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  jp_log "boot did not finish (state: ${state:-no answer}); console:"
  tail -30 "$jp_work/console.log" >&2
  return 1
}

# cx: a command in a transient unit of the container (its sandbox), piped.
cx() { nsenter -t "$pid1" -a systemd-run --quiet --wait --pipe --collect --service-type=exec "$@"; }
# cq: a read-only look into the container.
cq() { nsenter -t "$pid1" -a "$@"; }
# cp_exec: a command in the control plane's namespace.
cp_exec() { ip netns exec "$JP_CP_NS" "$@"; }

# jp_connect PORT [TIMEOUT_S]: a TCP connect from the control plane to the
# node; 0 connected, 1 refused or timed out (the message says which).
jp_connect() {
  cp_exec python3 - "$JP_NODE_ADDR" "$1" "${2:-2}" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("connected")
    sys.exit(0)
except socket.timeout:
    print("timed out (dropped)")
except ConnectionRefusedError:
    print("refused (rejected or no listener)")
except OSError as e:
    print("error: %s" % e)
sys.exit(1)
PY
}

# jp_wait_active UNIT [SECONDS]
jp_wait_active() {
  local i state=""
  for i in $(seq 1 $((${2:-30} * 10))); do
    state=$(cq systemctl is-active "$1" 2>/dev/null) || true
    [[ $state == active ]] && return 0
    [[ $state == failed ]] && break
    sleep 0.1
  done
  jp_log "$1 is $state"; cq systemctl status --no-pager -l "$1" | tail -15 >&2
  return 1
}
