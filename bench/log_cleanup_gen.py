#!/usr/bin/python3
"""Builds a log-cleanup benchmark tree: N files of 64 bytes, FILES_PER_DIR per
directory. With the default layout the directories are nested (a/b/c, the same
fan-out per level); with "flat" they are DIR/dNNNN. Half the files are named
*.log and half *.txt, and, independently, half have an mtime 20-40 days ago and
half 0-5 days ago, so a quarter of the files are old *.log files. With
MATCH=all every file is an old *.log (the worst case for memory).
The tree is deterministic, so two calls build identical twins.
usage: log_cleanup_gen.py DIR FILES [FILES_PER_DIR=100] [nested|flat] [quarter|all]"""
import os
import sys
import time


def main():
    root, total = sys.argv[1], int(sys.argv[2])
    per_dir = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    layout = sys.argv[4] if len(sys.argv) > 4 else "nested"
    match = sys.argv[5] if len(sys.argv) > 5 else "quarter"
    now = time.time_ns()
    day = 86400 * 10**9
    dirs = (total + per_dir - 1) // per_dir
    fan = max(2, round(dirs ** (1 / 3)) + 1)
    made = 0
    payload = b"x" * 64
    for d in range(dirs):
        if layout == "flat":
            path = os.path.join(root, "d%04d" % d)
        else:
            path = os.path.join(root, "a%03d" % (d // (fan * fan)), "b%03d" % (d // fan % fan), "c%03d" % (d % fan))
        os.makedirs(path, exist_ok=True)
        dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for i in range(min(per_dir, total - made)):
                n = made + i
                log = match == "all" or n % 2 == 0
                name = "f%07d.%s" % (n, "log" if log else "txt")
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=dfd)
                os.write(fd, payload)
                old = match == "all" or (n // 2) % 2 == 0
                age = (20 + n % 20) * day if old else (n % 5) * day + 3600 * 10**9
                os.utime(fd, ns=(now - age, now - age))
                os.close(fd)
        finally:
            os.close(dfd)
        made += min(per_dir, total - made)
    print("built %s: %d files in %d directories" % (root, made, dirs))


if __name__ == "__main__":
    main()
