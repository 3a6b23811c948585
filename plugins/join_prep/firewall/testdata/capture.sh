#!/bin/bash
# Captures the outputs the firewalld/ufw unit tests parse, from the real
# tools: boots the joinprep root (tests/system/build-root.sh --flavour
# joinprep) in a network namespace of its own (never the host's network),
# configures firewalld zones, then ufw rules, and saves what `firewall-cmd`,
# `ufw status verbose`, `nft -j list ruleset` and `iptables-save` print into
# testdata/firewalld/ and testdata/ufw/. Run as root; takes about a minute.
#
# Usage: plugins/join_prep/firewall/testdata/capture.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../../.." && pwd)
source "$repo/tests/system/joinprep_container.sh"
trap jp_cleanup EXIT
trap 'exit 130' INT TERM

fw=$here/firewalld
uf=$here/ufw
mkdir -p "$fw" "$uf"

# save FILE cmd...: stdout of a command in the container; its exit code and
# stderr go to FILE.rc / FILE.stderr when non-zero or non-empty.
save() {
  local file=$1 rc=0; shift
  rm -f "$file.rc" "$file.stderr"
  cx "$@" >"$file" 2>"$file.stderr" || rc=$?
  [[ -s $file.stderr ]] || rm -f "$file.stderr"
  [[ $rc -eq 0 ]] || echo "$rc" >"$file.rc"
  return 0
}
# note TEXT cmd...: a command's exit code and output, for notes.txt.
note() {
  local out rc=0
  out=$(cx "$@" 2>&1) || rc=$?
  printf '$ %s\nexit %s\n%s\n\n' "$*" "$rc" "$out"
}

jp_boot
jp_log "booted: PID 1 is $pid1"

# --- firewalld -----------------------------------------------------------------
save "$fw/state-not-running.txt" firewall-cmd --state
cq systemctl unmask firewalld.service >/dev/null
cq systemctl enable --now firewalld.service >/dev/null 2>&1 || true
jp_wait_active firewalld.service 60
for _ in $(seq 1 100); do [[ $(cq firewall-cmd --state 2>/dev/null) == running ]] && break; sleep 0.1; done

# A node: eth1 in public with the apiserver and etcd ports; the control
# plane's /32 bound to internal (kubelet, kube-worker services, a rich rule);
# a trusted subnet; a DROP zone for an IPv6 source.
fc() { cx firewall-cmd "$@" >/dev/null; }
for opt in "" --permanent; do
  fc $opt --zone=public --change-interface=eth1
  fc $opt --zone=public --add-port=6443/tcp --add-port=2379-2380/tcp
  fc $opt --zone=public --add-protocol=ipencap
  fc $opt --zone=internal --add-source=10.79.0.2/32
  fc $opt --zone=internal --add-service=kubelet
  fc $opt --zone=internal --add-service=kube-worker
  fc $opt --zone=internal --add-rich-rule='rule family="ipv4" source address="10.79.0.9" port port="10255" protocol="tcp" reject'
  fc $opt --zone=internal --add-rich-rule='rule family="ipv4" source address="10.79.0.0/24" service name="bgp" accept'
  fc $opt --zone=trusted --add-source=10.79.5.0/24
  fc $opt --zone=drop --add-source=fd00:79::/64
done
save "$fw/state-running.txt" firewall-cmd --state
save "$fw/default-zone.txt" firewall-cmd --get-default-zone
save "$fw/active-zones.txt" firewall-cmd --get-active-zones
for z in public internal trusted drop block work; do
  save "$fw/zone-$z.txt" firewall-cmd --zone=$z --list-all
done
save "$fw/nft-ruleset.json" nft -j list ruleset
save "$fw/nft-ruleset.txt" nft list ruleset
for s in kubelet kube-worker kube-apiserver etcd-client etcd-server kube-nodeport-services bgp ssh dhcpv6-client mdns samba-client netbios-ns kube-api; do
  # Only what decides a verdict (ports, protocols, includes): the
  # descriptions are firewalld's prose, not ours to copy.
  python3 - "$jp_work/merged/usr/lib/firewalld/services/$s.xml" "$fw/service-$s.xml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r"\s*<(short|description)>.*?</\1>", "", text, flags=re.S)
open(sys.argv[2], "w").write(text)
PY
done
{
  echo "# What firewall-cmd 1.3 (Debian 12) accepts and answers; captured by capture.sh."
  note firewall-cmd --version
  note firewall-cmd --zone=public --add-port=6443/tcp
  note firewall-cmd --zone=public --add-protocol=4
  note firewall-cmd --zone=public --add-protocol=ipip
  note firewall-cmd --zone=public --add-protocol=ipencap
  note firewall-cmd --zone=public --add-port=30000-32767/tcp --add-port=10250/tcp
  note firewall-cmd --zone=public --add-port=10251/tcp --add-protocol=gre
  note firewall-cmd --zone=public --add-service=kubelet --add-service=bgp
  note firewall-cmd --zone=nosuchzone --list-all
  note grep -wE '^(ipencap|ipip)' /etc/protocols
} >"$fw/notes.txt"
cq systemctl disable --now firewalld.service >/dev/null 2>&1
cq systemctl mask firewalld.service >/dev/null
cq nft flush ruleset

# --- ufw -------------------------------------------------------------------------
cq systemctl unmask ufw.service >/dev/null
save "$uf/status-inactive.txt" ufw status verbose
save "$uf/status-not-root.txt" -p User=nobody ufw status verbose
uw() { cx ufw "$@" >/dev/null; }
uw default deny incoming
uw allow 22/tcp
uw allow proto tcp from 10.79.0.0/24 to any port 6443
uw allow 30000:32767/tcp
uw deny from 10.79.0.9
uw allow in on eth1 to any port 10250 proto tcp
uw limit 2222/tcp
uw reject 10255
uw allow 80,443/tcp
uw allow proto gre from 10.79.0.0/24
uw allow proto tcp from fd00:79::/64 to any port 179 comment 'calico bgp'
uw allow to 10.79.0.1 port 9100 proto tcp
uw allow log 8080/tcp
uw allow out 53/udp
uw allow 4789/udp
cx ufw --force enable >/dev/null
save "$uf/status-active.txt" ufw status verbose
save "$uf/status-numbered.txt" ufw status numbered
save "$uf/nft-ruleset.json" nft -j list ruleset
save "$uf/iptables-save.txt" iptables-save
save "$uf/ip6tables-save.txt" ip6tables-save
{
  echo "# What ufw 0.36 (Debian 12) accepts and answers; captured by capture.sh."
  note ufw version
  note ufw allow proto ipip from 10.79.0.0/24
  note ufw allow proto 4 from 10.79.0.0/24
  note ufw allow 6443/tcp
  note ufw allow 6443/tcp
  note ufw allow proto tcp from 10.79.0.0/24 to any port 6443
  note ufw allow 30000-32767/tcp
} >"$uf/notes.txt"
# The rules file as `ufw status verbose` reads it back: a second status after
# the notes' additions (6443/tcp from anywhere now too).
save "$uf/status-active-after.txt" ufw status verbose
# firewall-cmd prints a zone's rich rules in no fixed order: the tests look
# them up by content.
jp_log "saved into $fw and $uf"
