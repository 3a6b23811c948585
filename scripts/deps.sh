#!/bin/sh
# Installs what nodeagent needs on Debian 12, by package name only.
#   scripts/deps.sh          build dependencies
#   scripts/deps.sh --test   also what the test suite needs (system tests,
#                            package checks)
set -eu
BUILD="g++ cmake ninja-build pkg-config libboost1.81-dev libcurl4-openssl-dev libssl-dev
libtomlplusplus-dev libspdlog-dev catch2 nlohmann-json3-dev libyaml-cpp-dev libcli11-dev
libsystemd-dev libmnl-dev zlib1g-dev dpkg-dev file tzdata"
TEST="python3 openssl util-linux iproute2 procps systemd-container debootstrap lintian rpmlint rpm
cpio binutils patch nftables iptables containerd python3-yaml curl python3-prometheus-client"
want="$BUILD"
[ "${1:-}" = "--test" ] && want="$BUILD $TEST"
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
