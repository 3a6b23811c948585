#!/usr/bin/python3
"""Builds the log-cleanup benchmark tree: N empty-ish files over nested
directories (a/b/c, FANOUT per level), half named *.log, half *.txt, and,
independently, half with an mtime 20-40 days ago and half 0-5 days ago.
The tree is deterministic, so two calls build identical twins.
usage: log_cleanup_gen.py DIR FILES [FILES_PER_DIR]"""
import os
import sys
import time


def main():
    root, total = sys.argv[1], int(sys.argv[2])
    per_dir = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    now = time.time_ns()
    day = 86400 * 10**9
    dirs = (total + per_dir - 1) // per_dir
    fan = max(2, round(dirs ** (1 / 3)) + 1)
    made = 0
    payload = b"x" * 64
    for d in range(dirs):
        path = os.path.join(root, "a%03d" % (d // (fan * fan)), "b%03d" % (d // fan % fan), "c%03d" % (d % fan))
        os.makedirs(path, exist_ok=True)
        dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for i in range(min(per_dir, total - made)):
                n = made + i
                name = "f%07d.%s" % (n, "log" if n % 2 == 0 else "txt")
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=dfd)
                os.write(fd, payload)
                age = (20 + n % 20) * day if (n // 2) % 2 == 0 else (n % 5) * day + 3600 * 10**9
                os.utime(fd, ns=(now - age, now - age))
                os.close(fd)
        finally:
            os.close(dfd)
        made += min(per_dir, total - made)
    print("built %s: %d files in %d directories" % (root, made, dirs))


if __name__ == "__main__":
    main()
