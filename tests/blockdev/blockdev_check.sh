#!/usr/bin/env bash
# Block-device-level crash check (the dm-log-writes method, without device-mapper): the storage
# engine runs on ext4 on a loop device whose backing file is served by flush_log_fs, which logs
# every write and every flush the device receives. The device is then rebuilt as it was at
# flush points spread over the run (blockdev_replay.py), mounted (ext4 replays its journal), and
# the engine recovers from each: recovery succeeds, every commit acknowledged before that flush
# reads back byte-exact, nothing of an attempt that never called Commit is served.
# Needs root, /dev/fuse and loop devices (tools/setup installs fuse3 and e2fsprogs).
#
#   blockdev_check.sh <flush_log_fs> <blockdev_workload> [points] [iterations]
set -euo pipefail
fuse_bin=$1 workload=$2 points=${3:-30} iterations=${4:-3}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "blockdev_check: needs root (loop devices, mount)" >&2; exit 1; }
[ -c /dev/fuse ] || { echo "blockdev_check: /dev/fuse missing" >&2; exit 1; }

work=$(mktemp -d /tmp/shuffle-blockdev-XXXXXX)
loop="" fuse_pid="" mounted=()
cleanup() {
  for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null || true
  if [ -n "$fuse_pid" ]; then
    fusermount3 -u "$work/fuse" 2>/dev/null || true
    kill "$fuse_pid" 2>/dev/null || true
    wait "$fuse_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/fuse" "$work/mnt" "$work/replay"

truncate -s 256M "$work/base.img"
mkfs.ext4 -q -F "$work/base.img"
cp --sparse=always "$work/base.img" "$work/device.img"
"$fuse_bin" "$work/device.img" "$work/log.bin" "$work/fuse" >"$work/fuse.log" 2>&1 &
fuse_pid=$!
for _ in $(seq 100); do [ -e "$work/fuse/disk" ] && break; sleep 0.05; done
[ -e "$work/fuse/disk" ] || { echo "blockdev_check: flush_log_fs did not mount" >&2; cat "$work/fuse.log" >&2; exit 1; }
loop=$(losetup -f --show "$work/fuse/disk")
mount -t ext4 "$loop" "$work/mnt"
mounted=("$work/mnt")
start=$(date +%s)
"$workload" run "$work/mnt" "$work/records.txt" "$iterations"
umount "$work/mnt"
mounted=()
losetup -d "$loop"
loop=""
fusermount3 -u "$work/fuse"
wait "$fuse_pid"
fuse_pid=""
flushes=$(python3 "$here/blockdev_replay.py" list "$work/log.bin" | wc -l)
acks=$(grep -c ' A ' "$work/records.txt" || true)
echo "blockdev_check: workload wrote $(stat -c %s "$work/log.bin") log bytes, $flushes flushes, $acks acknowledged commits in $(( $(date +%s) - start )) s"
[ "$flushes" -gt 0 ] && [ "$acks" -gt 0 ] || { echo "blockdev_check: nothing to check" >&2; exit 1; }

# Flush points spread evenly over the run, the last one included.
checked=0
for i in $(seq 1 "$points"); do
  k=$(( (flushes - 1) * i / points ))
  img="$work/replay.img"
  ns=$(python3 "$here/blockdev_replay.py" build "$work/base.img" "$work/log.bin" "$k" "$img")
  mount -o loop -t ext4 "$img" "$work/replay"
  mounted=("$work/replay")
  if ! "$workload" verify "$work/replay" "$work/records.txt" "$ns" $(( iterations - 1 )) \
      >"$work/verify.log" 2>&1; then
    echo "blockdev_check: FAILED at flush $k of $flushes:" >&2
    cat "$work/verify.log" >&2
    exit 1
  fi
  grep -h "acknowledged commits checked" "$work/verify.log" | sed "s/^/flush $k: /"
  umount "$work/replay"
  mounted=()
  rm -f "$img"
  checked=$((checked + 1))
done
echo "blockdev_check: $checked flush points of $flushes replayed, the engine recovered from each"
