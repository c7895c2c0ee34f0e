#!/usr/bin/env python3
"""Replays a flush_log_fs log: the device as it was at a flush (test-only).

  blockdev_replay.py list <log>                     one line per flush: index, monotonic ns
  blockdev_replay.py build <base> <log> <k> <out>   <out> = <base> + every write logged before
                                                    flush k (0-based); prints flush k's ns
Every write that reached the device before a flush is durable at that flush; later ones are
dropped, as a power cut right after the flush would drop them (dm-log-writes' replay-log idea).
"""
import mmap
import struct
import subprocess
import sys


def records(log):
    """Yields ('W', ns, offset, memoryview) and ('F', ns, None, None) in log order."""
    with open(log, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if f.seek(0, 2) else b""
    view = memoryview(data)
    i = 0
    while i + 9 <= len(view):
        kind = bytes(view[i:i + 1])
        (ns,) = struct.unpack_from("<Q", view, i + 1)
        i += 9
        if kind == b"W":
            offset, length = struct.unpack_from("<QI", view, i)
            i += 12
            yield "W", ns, offset, view[i:i + length]
            i += length
        elif kind == b"F":
            yield "F", ns, None, None
        else:
            raise SystemExit(f"corrupt log at byte {i - 9}: kind {kind!r}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "list":
        k = 0
        for kind, ns, _, _ in records(sys.argv[2]):
            if kind == "F":
                print(k, ns)
                k += 1
        return
    if len(sys.argv) == 6 and sys.argv[1] == "build":
        base, log, target, out = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
        subprocess.run(["cp", "--sparse=always", base, out], check=True)
        flushes = 0
        with open(out, "r+b") as image:
            for kind, ns, offset, data in records(log):
                if kind == "F":
                    if flushes == target:
                        print(ns)
                        return
                    flushes += 1
                    continue
                image.seek(offset)
                image.write(data)
        raise SystemExit(f"the log has only {flushes} flushes")
    raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
