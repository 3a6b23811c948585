#!/bin/sh
# nodeagent daemon benchmark: agentctl status round trip p50/p99 over 1000 calls, and the socket alone (see bench/README.md).
# Needs a build in ${NODEAGENT_BUILD:-build}/ (bin/nodeagent, bin/agentctl, plugins/*.so). Extra args go to daemon_bench.py.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/daemon_bench.py" latency "$@"
