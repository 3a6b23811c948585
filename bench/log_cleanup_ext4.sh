#!/bin/bash
# Runs bench/log_cleanup.sh on an ext4 made the way distributions make it (a
# journal, data=ordered, mounted without `discard`: Debian, Ubuntu and RHEL
# trim weekly with fstrim.timer instead), in a loop-mounted image file.
# Why: the file system a machine's work dir happens to sit on decides what
# the bench measures. On the build VMs it is ext4 with no journal, mounted
# with `discard`, whose virtual disk serves discards one at a time: there
# deleting is paced by the disk (one synchronous discard per freed block),
# not by either tool, while on an ordinary node's file system deleting is CPU
# work in the kernel. The image is made with one inode per 4 KiB (the bench's
# files are 64 bytes) and removed afterwards. Needs root (mount).
#
# usage: bench/log_cleanup_ext4.sh [SHAPES=500k,200x500,10x10000] [BUILD_DIR=build] [IMAGE_GIB=10]
#   (HOLDERS and BENCH_LOCK are passed on to bench/log_cleanup.sh)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SHAPES=${1:-500k,200x500,10x10000}
BUILD=${2:-$HERE/../build}
GIB=${3:-10}
[ "$(id -u)" = 0 ] || { echo "bench/log_cleanup_ext4.sh: needs root to mount the image" >&2; exit 1; }
IMAGE=$(mktemp /var/tmp/logc-ext4.XXXXXX.img)
MNT=$(mktemp -d /tmp/logc-ext4.XXXXXX)
cleanup() {
  if mountpoint -q "$MNT"; then umount "$MNT"; fi
  rmdir "$MNT" 2>/dev/null || true
  rm -f "$IMAGE"
}
trap cleanup EXIT
truncate -s "${GIB}G" "$IMAGE"
mkfs.ext4 -q -F -i 4096 "$IMAGE"
mount -o loop "$IMAGE" "$MNT"
echo "ext4 image: $IMAGE on $MNT, ${GIB} GiB, options: $(findmnt -n -o OPTIONS "$MNT")"
bash "$HERE/log_cleanup.sh" "$SHAPES" "$BUILD" "$MNT/work"
