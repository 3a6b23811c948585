#!/bin/bash
# Builds (once) the cached Debian 12 root the system tests boot with
# systemd-nspawn. The root is never modified by a test: run.sh mounts an
# overlay on top of it per run. Rebuild by deleting the directory.
#
# Usage: build-root.sh [--flavour joinprep] [ROOT]
#   default flavour: /var/cache/nodeagent-test/bookworm-root.2
#   joinprep: the default packages plus firewalld, ufw, nftables, iptables,
#   python3, netbase and procps, for tests/system/join_prep_firewall.sh and
#   plugins/join_prep/firewall/testdata/capture.sh; firewalld and ufw are
#   both masked (they conflict: a test unmasks the one it uses). Directory
#   /var/cache/nodeagent-test/bookworm-joinprep-root.2 (env
#   NODEAGENT_JOINPREP_TEST_ROOT)
#   nm: the default packages plus network-manager (Debian 12: 1.42), for
#   tests/system/calico_nm.sh; NetworkManager is enabled and starts at boot.
#   Boot it only with --private-network. Directory
#   /var/cache/nodeagent-test/bookworm-nm-root.1 (env NODEAGENT_NM_TEST_ROOT)
set -euo pipefail

flavour=default
if [[ ${1:-} == --flavour ]]; then flavour=${2:?--flavour needs a name}; shift 2; fi

# The root's recipe; bump when the package list changes so stale caches
# rebuild. The default directory carries it (bookworm-root.N): a run of an
# older checkout keeps booting its own root instead of this script deleting
# it under that run's overlay.
recipe_version=2
joinprep_recipe_version=2
nm_recipe_version=1
case $flavour in
  default) root=${1:-${NODEAGENT_TEST_ROOT:-/var/cache/nodeagent-test/bookworm-root.$recipe_version}} ;;
  joinprep)
    recipe_version=joinprep.$joinprep_recipe_version
    root=${1:-${NODEAGENT_JOINPREP_TEST_ROOT:-/var/cache/nodeagent-test/bookworm-joinprep-root.$joinprep_recipe_version}} ;;
  nm)
    recipe_version=nm.$nm_recipe_version
    root=${1:-${NODEAGENT_NM_TEST_ROOT:-/var/cache/nodeagent-test/bookworm-nm-root.$nm_recipe_version}} ;;
  *) echo "build-root: unknown flavour $flavour (default, joinprep, nm)" >&2; exit 2 ;;
esac
# One builder per root at a time (scripts/test.sh builds them in the
# background while the code compiles; a test may ask for the same root).
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9
mirror=${NODEAGENT_TEST_MIRROR:-http://deb.debian.org/debian}
# systemd + dbus to boot; libcurl4/libssl3/zlib1g are the .deb's runtime
# dependencies (dpkg -i does not fetch dependencies); passwd for useradd.
# No procps: a minimal Debian (minbase, containers, cloud images) has no
# /bin/kill, ps or pkill, and the package must work there (run.sh checks
# that the root has none of them).
packages=systemd,systemd-sysv,dbus,iproute2,passwd,libcurl4,libssl3,zlib1g
# joinprep: the firewall managers a node may run and the tools its checks
# read, installed with apt-get in the new root after debootstrap (polkitd,
# which firewalld pulls in, fails to configure inside debootstrap's own
# package configuration pass). netbase: /etc/protocols, which firewalld
# checks protocol names against. procps: `ufw status verbose` runs sysctl
# and fails without it.
extra_packages=""
[[ $flavour == joinprep ]] && extra_packages="firewalld ufw nftables iptables python3 netbase procps"
# nm: NetworkManager from Debian 12 without recommends (no wpasupplicant,
# modemmanager); its nmcli is what the calico-network action runs.
[[ $flavour == nm ]] && extra_packages="network-manager"

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
if [[ -n $extra_packages ]]; then
  echo "build-root: apt-get install $extra_packages" >&2
  mount -t proc proc "$tmp/proc"
  trap 'umount "$tmp/proc" 2>/dev/null; rm -rf "$tmp"' EXIT
  chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $extra_packages \
      >>"$tmp.log" 2>&1 || { echo "build-root: apt-get install failed, last lines of $tmp.log:" >&2; tail -20 "$tmp.log" >&2; exit 1; }
  chroot "$tmp" apt-get clean
  umount "$tmp/proc"
  trap 'rm -rf "$tmp"' EXIT
fi
rm -f "$tmp.log"

# Quiet, fast boots: no getty on the console, no units that wait for hardware.
ln -sf /dev/null "$tmp/etc/systemd/system/getty@.service"
ln -sf /dev/null "$tmp/etc/systemd/system/console-getty.service"
ln -sf /dev/null "$tmp/etc/systemd/system/systemd-networkd-wait-online.service"
echo nodeagent-test > "$tmp/etc/hostname"
if [[ $flavour == joinprep ]]; then
  # firewalld and ufw both claim the firewall: neither starts unless a test
  # unmasks it (systemctl unmask, then enable --now).
  ln -sf /dev/null "$tmp/etc/systemd/system/firewalld.service"
  ln -sf /dev/null "$tmp/etc/systemd/system/ufw.service"
fi
rm -f "$tmp/var/cache/apt/archives/"*.deb
echo "$recipe_version" > "$tmp/.nodeagent-root-recipe"
mv "$tmp" "$root"
trap - EXIT
echo "build-root: done" >&2
