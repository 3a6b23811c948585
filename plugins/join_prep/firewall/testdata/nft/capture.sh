#!/bin/sh
# Regenerates NAME.json and NAME.txt from each NAME.nft, as nft 1.0.6 lists
# them, each in a throw-away network namespace of its own (root), which has
# the eth1 device that ingress chains name. Usage: ./capture.sh [NAME.nft...]
set -eu
cd "$(dirname "$0")"
ns="jp-nftcap-$$"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
[ $# -gt 0 ] || set -- *.nft
for f in "$@"; do
  ip netns add "$ns"
  ip -n "$ns" link add eth1 type veth peer name cp1
  ip netns exec "$ns" nft -f "$f"
  ip netns exec "$ns" nft -j list ruleset > "${f%.nft}.json"
  ip netns exec "$ns" nft -a list ruleset > "${f%.nft}.txt"
  ip netns del "$ns"
done
