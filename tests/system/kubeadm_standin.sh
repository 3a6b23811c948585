#!/bin/sh
# A stand-in for /usr/bin/kubeadm in the booted test container
# (tests/system/join_prep_join.sh). It answers `kubeadm version -o short`
# and checks, for `kubeadm join --config FILE`, what the join step promises:
# FILE is a regular 0600 file in a 0700 directory, a JoinConfiguration of the
# expected schema with the expected endpoint, token and CA pin; the token is
# on no process's command line and not in kubeadm's environment. Then it
# "joins": writes /etc/kubernetes/kubelet.conf (a kubeconfig the test staged)
# and a marker the host side waits for before it creates the Node, so the
# Node can only turn Ready after a join really ran.
#
# Staged by the test in /etc/kubeadm-standin/: version (e.g. v1.31.2),
# token (0600), expect (lines that must appear exactly in FILE), kubelet.conf,
# fail (if present: fail like a kubeadm preflight would).
# Writes to /var/log/kubeadm-standin/ (writable under nodeagent.service's
# sandbox, where `agentctl run join` runs it): calls (one argv per line, the token
# never in it), report (ok:/FAIL: lines), seen-config.yaml (a 0600 copy for
# the host's YAML parser), joined (the marker).
set -u
conf=/etc/kubeadm-standin
state=/var/log/kubeadm-standin
mkdir -p "$state"
chmod 0700 "$state"
echo "$*" >> "$state/calls"

case "${1:-}" in
  version)
    [ "${2:-}" = "-o" ] && [ "${3:-}" = "short" ] || { echo "stand-in: only 'version -o short'" >&2; exit 2; }
    cat "$conf/version"
    exit 0 ;;
  join) ;;
  *) echo "stand-in kubeadm: unsupported command: ${1:-}" >&2; exit 2 ;;
esac

failures=0
ok() { echo "ok: $1" >> "$state/report"; }
fail() { echo "FAIL: $1" >> "$state/report"; echo "[ERROR StandIn]: $1" >&2; failures=$((failures + 1)); }
check() {  # check DESCRIPTION COMMAND...
  what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

check "argv is exactly: join --config FILE" test $# -eq 3 -a "${2:-}" = "--config"
file=${3:-/nonexistent}
check "the config file is a regular file, not a symlink" test -f "$file" -a ! -L "$file"
check "the config file has mode 600 (got $(stat -c %a "$file" 2>/dev/null))" test "$(stat -c %a "$file" 2>/dev/null)" = 600
check "the config file is owned by root" test "$(stat -c %u "$file" 2>/dev/null)" = 0
dir=$(dirname "$file")
check "its directory has mode 700 (got $(stat -c %a "$dir" 2>/dev/null))" test "$(stat -c %a "$dir" 2>/dev/null)" = 700
check "its directory is /run/nodeagent/join/join-*" sh -c 'case "$1" in /run/nodeagent/join/join-*) true ;; *) false ;; esac' _ "$dir"
cp "$file" "$state/seen-config.yaml" 2>/dev/null && chmod 0600 "$state/seen-config.yaml"

# The token is compared through files (grep -f), so it is never on argv here.
on_cmdline=""
for p in /proc/[0-9]*; do
  [ -r "$p/cmdline" ] || continue
  if tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qF -f "$conf/token"; then on_cmdline="$on_cmdline ${p#/proc/}"; fi
done
check "the token is on no process's command line${on_cmdline:+ (pids$on_cmdline)}" test -z "$on_cmdline"
check "the token is not in kubeadm's environment" sh -c '! tr "\0" "\n" < /proc/$1/environ | grep -qF -f "$2"' _ "$$" "$conf/token"
check "the token is not in the caller's environment" sh -c '! tr "\0" "\n" < /proc/$1/environ | grep -qF -f "$2"' _ "$PPID" "$conf/token"
check "the config file holds the token" grep -qF -f "$conf/token" "$file"
while IFS= read -r line; do
  [ -n "$line" ] || continue
  printf '%s\n' "$line" > "$state/one-line"  # grep -f: the token stays off argv
  check "line present: $(echo "$line" | sed 's/token: .*/token: <the token>/')" grep -qxF -f "$state/one-line" "$file"
done < "$conf/expect"
rm -f "$state/one-line"

echo "[preflight] Running pre-flight checks"
if [ -e "$conf/fail" ]; then
  echo "error execution phase preflight: [preflight] Some fatal errors occurred:" >&2
  echo "	[ERROR Swap]: running with swap on is not supported. Please disable swap" >&2
  echo "[preflight] If you know what you are doing, you can make a check non-fatal with \`--ignore-preflight-errors=...\`" >&2
  echo "To see the stack trace of this error execute with --v=5 or higher" >&2
  exit 1
fi
if [ "$failures" -ne 0 ]; then
  echo "error execution phase standin-checks: $failures check(s) failed" >&2
  exit 1
fi
# A line with the token in it: the join step must blank it out everywhere.
echo "[discovery] (stand-in) using bootstrap token $(cat "$conf/token")"
echo "[kubelet-start] Writing kubelet configuration to file \"/var/lib/kubelet/config.yaml\""
mkdir -p /etc/kubernetes
cp "$conf/kubelet.conf" /etc/kubernetes/kubelet.conf && chmod 0600 /etc/kubernetes/kubelet.conf
date +%s > "$state/joined"
echo "[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap"
echo ""
echo "This node has joined the cluster:"
echo "* Certificate signing request was sent to apiserver and a response was received."
exit 0
