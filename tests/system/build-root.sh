#!/bin/bash
# Builds (once) the cached Debian 12 root the system tests boot with
# systemd-nspawn. The root is never modified by a test: run.sh mounts an
# overlay on top of it per run. Rebuild by deleting the directory.
#
# Usage: build-root.sh [ROOT]   (default /var/cache/nodeagent-test/bookworm-root.2)
set -euo pipefail

# The root's recipe; bump when the package list changes so stale caches
# rebuild. The default directory carries it (bookworm-root.N): a run of an
# older checkout keeps booting its own root instead of this script deleting
# it under that run's overlay.
recipe_version=2
root=${1:-${NODEAGENT_TEST_ROOT:-/var/cache/nodeagent-test/bookworm-root.$recipe_version}}
mirror=${NODEAGENT_TEST_MIRROR:-http://deb.debian.org/debian}
# systemd + dbus to boot; libcurl4/libssl3/zlib1g are the .deb's runtime
# dependencies (dpkg -i does not fetch dependencies); passwd for useradd.
# No procps: a minimal Debian (minbase, containers, cloud images) has no
# /bin/kill, ps or pkill, and the package must work there (run.sh checks
# that the root has none of them).
packages=systemd,systemd-sysv,dbus,iproute2,passwd,libcurl4,libssl3,zlib1g

if [[ -f $root/.nodeagent-root-recipe && $(cat "$root/.nodeagent-root-recipe") == "$recipe_version" ]]; then
  exit 0
fi

command -v debootstrap >/dev/null || { echo "build-root: debootstrap missing: apt-get install -y debootstrap systemd-container" >&2; exit 2; }

tmp=$root.tmp.$$
trap 'rm -rf "$tmp"' EXIT
rm -rf "$root"
mkdir -p "$(dirname "$root")"
echo "build-root: debootstrap bookworm into $root (about a minute)" >&2
debootstrap --variant=minbase --include="$packages" bookworm "$tmp" "$mirror" >"$tmp.log" 2>&1 || {
  echo "build-root: debootstrap failed, last lines of $tmp.log:" >&2; tail -20 "$tmp.log" >&2; exit 1; }
rm -f "$tmp.log"

# Quiet, fast boots: no getty on the console, no units that wait for hardware.
ln -sf /dev/null "$tmp/etc/systemd/system/getty@.service"
ln -sf /dev/null "$tmp/etc/systemd/system/console-getty.service"
ln -sf /dev/null "$tmp/etc/systemd/system/systemd-networkd-wait-online.service"
echo nodeagent-test > "$tmp/etc/hostname"
rm -f "$tmp/var/cache/apt/archives/"*.deb
echo "$recipe_version" > "$tmp/.nodeagent-root-recipe"
mv "$tmp" "$root"
trap - EXIT
echo "build-root: done" >&2
