#!/usr/bin/env python3
"""SocketTcpProbe against a real kernel, in a network namespace of its own:
a listener there (open), a port with nothing on it (refused), a port whose
SYNs an nft rule in that namespace drops (timeout, within the bound), and an
address with no route (error), all probed at once by
calico_network_bgp_probe run inside the namespace. Nothing leaves the
namespace; it is removed in finally."""
import json
import os
import shutil
import subprocess
import sys
import time

BUILD = os.environ.get("NODEAGENT_BUILD")
if not BUILD:
    sys.exit("NODEAGENT_BUILD is not set")
TOOL = os.path.join(BUILD, "plugins/calico_network/calico_network_bgp_probe")
if not os.access(TOOL, os.X_OK):
    sys.exit(f"missing {TOOL}: build calico_network_bgp_probe first")
for prog in ("ip", "nft"):
    if not shutil.which(prog):
        sys.exit(f"{prog} is missing (scripts/deps.sh installs it)")

NS = f"cn-bgp-{os.getpid()}"
OPEN_PORT, DROP_PORT, CLOSED_PORT = 1790, 179, 1791
failures = []


def sh(*args, check=True):
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def expect(what, got, want):
    if got != want:
        failures.append(f"{what}: got {got!r}, want {want!r}")


def probe(*args):
    start = time.monotonic()
    r = sh("ip", "netns", "exec", NS, TOOL, *args)
    return json.loads(r.stdout), time.monotonic() - start


def main():
    sh("ip", "netns", "add", NS)
    listener = None
    try:
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        rules = (f"table inet cn_bgp_test {{\n  chain input {{\n    type filter hook input priority 0;\n"
                 f"    tcp dport {DROP_PORT} drop\n  }}\n}}\n")
        r = subprocess.run(["ip", "netns", "exec", NS, "nft", "-f", "-"], input=rules, capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"nft failed: {r.stderr.strip()}")
        listener = subprocess.Popen(
            ["ip", "netns", "exec", NS, "/usr/bin/python3", "-c",
             "import socket,sys,time\n"
             f"s=socket.socket(); s.bind(('127.0.0.1',{OPEN_PORT})); s.listen(16)\n"
             "print('ready', flush=True)\n"
             "time.sleep(120)\n"],
            stdout=subprocess.PIPE, text=True)
        if listener.stdout.readline().strip() != "ready":
            raise RuntimeError("the listener in the namespace did not start")

        out, _ = probe("--port", str(OPEN_PORT), "--timeout-ms", "2000", "127.0.0.1")
        expect("listener", out[0]["state"], "open")
        out, _ = probe("--port", str(CLOSED_PORT), "--timeout-ms", "2000", "127.0.0.1")
        expect("nothing listening", out[0]["state"], "refused")
        # No route in the namespace for 10.0.0.0/8: connect fails at once.
        out, _ = probe("--port", str(DROP_PORT), "--timeout-ms", "2000", "10.20.30.40")
        expect("no route", out[0]["state"], "error")
        expect("no route message", out[0]["message"], "Network is unreachable")
        # Dropped SYNs: a timeout, for several targets at once within one timeout.
        out, took = probe("--port", str(DROP_PORT), "--timeout-ms", "700", "127.0.0.1", "127.0.0.2", "127.0.0.3")
        expect("dropped", [p["state"] for p in out], ["timeout"] * 3)
        if not 0.65 <= took < 3.0:
            failures.append(f"three dropped targets took {took:.2f}s; want about one timeout (0.7s), concurrently")
    finally:
        if listener:
            listener.kill()
            listener.wait()
        sh("ip", "netns", "del", NS, check=False)
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
