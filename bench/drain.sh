#!/bin/sh
# Drain benchmark: nodeagent's `drain` vs `kubectl drain` on twin nodes with
# 100 ReplicaSet pods each, on the test API server (tests/apiserver/).
# Needs a build in ${NODEAGENT_BUILD:-build}/ (bin/agentctl, plugins/drain_and_reboot.so).
# Usage: bench/drain.sh [--pods N] [--qps Q] [--burst B] [--max-in-flight M] [--terminating-seconds S]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/drain_bench.py" "$@"
