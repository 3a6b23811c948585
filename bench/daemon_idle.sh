#!/bin/sh
# nodeagent daemon benchmark: idle RSS, CPU time and wake-ups over 60 s (see bench/README.md).
# Needs a build in ${NODEAGENT_BUILD:-build}/ (bin/nodeagent, bin/agentctl, plugins/*.so). Extra args go to daemon_bench.py.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/daemon_bench.py" idle "$@"
