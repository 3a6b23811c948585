#!/bin/sh
# Regenerates NAME.json and NAME.txt from each NAME.nft, as nft 1.0.6 lists
# them, in a throw-away network namespace (root). Usage: ./capture.sh [NAME.nft...]
set -eu
cd "$(dirname "$0")"
ns="jp-nftcap-$$"
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
[ $# -gt 0 ] || set -- *.nft
for f in "$@"; do
  ip netns exec "$ns" nft flush ruleset
  ip netns exec "$ns" nft -f "$f"
  ip netns exec "$ns" nft -j list ruleset > "${f%.nft}.json"
  ip netns exec "$ns" nft -a list ruleset > "${f%.nft}.txt"
done
