#!/bin/sh
# The newcomer's command: install dependencies, build, and start the agent in
# the foreground in its safe demo mode: the embedded default config, every task
# forced to a dry run, state and socket in a temp dir. Nothing on this machine
# is changed. Ctrl-C stops it.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
exec build/bin/nodeagent --demo
