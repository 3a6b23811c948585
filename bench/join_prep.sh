#!/bin/sh
# join-prep --dry-run on a realistic node root and network namespace, beside
# the shell runbook it replaces (bench/join_prep_bench.py says what is
# measured). Needs root, ip, nft and a build in ${NODEAGENT_BUILD:-build}/.
# Usage: bench/join_prep.sh [--runs N]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/join_prep_bench.py" "$@"
