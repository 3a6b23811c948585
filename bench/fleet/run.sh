#!/bin/sh
# Fleet benchmark (issue 15): a rolling reboot of N simulated nodes, each a
# fleet_node process running reboot-if-required's real code, against the test
# API server (tests/apiserver/). Needs a build with bin/fleet_node
# (`ninja -C build fleet_node`). Writes result.json, summary.txt and
# requests.svg into --out. See bench/fleet/README.md.
# Usage: bench/fleet/run.sh [--build DIR] [-n N] [--concurrency C] [--faults] [--out DIR]
#                           [--jitter S] [--down-time S] [--seed N] [--check]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/fleet.py" --build "${NODEAGENT_BUILD:-$here/../../build}" "$@"
