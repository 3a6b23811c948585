#!/usr/bin/python3
"""Holds files open for the log-cleanup benchmark: PROCS processes, each with
FILES of its own files open (created under DIR), so that the open-file check
has PROCS x FILES descriptors to look at. Prints "ready" once every process
holds its files, then waits until its stdin closes (or SIGTERM/SIGINT), ends
the processes and removes DIR. The processes also end on their own when this
one dies (they wait on a pipe only it holds open).
usage: open_files_holders.py DIR [PROCS=500] [FILES=100]"""
import os
import signal
import sys


def main():
    root = sys.argv[1]
    procs = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    files = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    os.makedirs(root, exist_ok=True)
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    children = []
    for p in range(procs):
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            os.close(hold_w)
            d = os.path.join(root, "p%03d" % p)
            os.makedirs(d, exist_ok=True)
            fds = [os.open(os.path.join(d, "held%03d.log" % i), os.O_WRONLY | os.O_CREAT, 0o644) for i in range(files)]
            os.write(ready_w, b"x")
            os.close(ready_w)
            os.read(hold_r, 1)  # EOF once the parent is gone or lets go
            os._exit(0 if fds else 1)
        children.append(pid)
    os.close(ready_w)
    os.close(hold_r)
    got = 0
    while got < procs:
        b = os.read(ready_r, procs - got)
        if not b:
            sys.exit("a holder died before it was ready")
        got += len(b)
    print("ready: %d processes x %d files open" % (procs, files), flush=True)

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    os.close(hold_w)
    for pid in children:
        os.waitpid(pid, 0)
    for dirpath, _, names in os.walk(root, topdown=False):
        for n in names:
            os.unlink(os.path.join(dirpath, n))
        os.rmdir(dirpath)


if __name__ == "__main__":
    main()
