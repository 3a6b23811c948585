#!/bin/sh
# Regenerates NAME.json and NAME.txt from each NAME.nft, as nft 1.0.6 lists
# them, each in a throw-away network namespace of its own (root), which has
# the eth1 device that ingress chains name. NAME.iptables files are loaded
# with iptables-nft-restore instead. Usage: ./capture.sh [NAME.nft|NAME.iptables...]
set -eu
cd "$(dirname "$0")"
ns="jp-nftcap-$$"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
[ $# -gt 0 ] || set -- *.nft *.iptables
for f in "$@"; do
  ip netns add "$ns"
  ip -n "$ns" link add eth1 type veth peer name cp1
  case "$f" in
    *.iptables) ip netns exec "$ns" iptables-nft-restore < "$f" ;;
    *) ip netns exec "$ns" nft -f "$f" ;;
  esac
  stem="${f%.*}"
  ip netns exec "$ns" nft -j list ruleset > "$stem.json"
  # nft says on stderr which tables iptables-nft manages: kept after the listing.
  ip netns exec "$ns" nft -a list ruleset > "$stem.txt" 2> "$stem.err"
  cat "$stem.err" >> "$stem.txt"
  rm -f "$stem.err"
  ip netns del "$ns"
done
