#!/usr/bin/env python3
"""The kernel decides, not us: each rule set under testdata/nft/ is loaded
into a fresh network namespace (the "node", 10.77.0.2 and fd00:77::2 on
eth1), listeners answer on every probed port, and a second namespace (the
"control plane", 10.77.0.1, 10.77.0.3, fd00:77::1, fd00:77::3) connects. What happened to each packet (accepted,
dropped, rejected) must equal the evaluator's verdict, read by
join_prep_nft_probe inside the node namespace through the real nft. Then the
probe applies its fix there and every packet must get through.

Runs as root; fails (never skips) when ip, nft or the probe is missing.
"""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time

BUILD = os.environ.get("NODEAGENT_BUILD", "")
SOURCE = os.environ.get("JOIN_PREP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), ".."))
PROBE = os.path.join(BUILD, "plugins", "join_prep", "join_prep_nft_probe")
RULESETS = os.path.join(SOURCE, "firewall", "testdata", "nft")
NODE_ADDR = "10.77.0.2"
CONTROL_PLANE = "10.77.0.1"
OTHER_ADDR = "10.77.0.3"
NODE_ADDR6 = "fd00:77::2"
CLIENT_ADDRS6 = ("fd00:77::1", "fd00:77::3")
TCP_TIMEOUT = 1.5
UDP_TIMEOUT = 1.5

# A listener per port inside the node namespace: TCP accepts, UDP echoes.
SERVER = r"""
import socket, sys, threading
socks = []
for spec in sys.argv[1:]:
    proto, port = spec.split(":")
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 too, as mapped addresses
    s.bind(("::", int(port)))
    if proto == "tcp":
        s.listen(16)
    socks.append((proto, s))
def serve(proto, s):
    while True:
        if proto == "tcp":
            c, _ = s.accept()
            c.close()
        else:
            data, peer = s.recvfrom(2048)
            s.sendto(data, peer)
for proto, s in socks:
    threading.Thread(target=serve, args=(proto, s), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""

# Connects from the control plane namespace to each port at once and says
# what the kernel did: accept, drop (no answer), reject (refused/unreachable).
CLIENT = r"""
import concurrent.futures, errno, json, socket, sys
src, node, tcp_timeout, udp_timeout = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
REJECT = (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES)
family = socket.AF_INET6 if ":" in src else socket.AF_INET
def probe(spec):
    proto, port = spec.split(":")
    if proto == "tcp":
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(tcp_timeout)
        try:
            s.connect((node, int(port)))
            return "accept"
        except socket.timeout:
            return "drop"
        except OSError as e:
            return "reject" if e.errno in REJECT else "error %s" % e
        finally:
            s.close()
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(udp_timeout)
    try:
        s.connect((node, int(port)))
        s.send(b"ping")
        return "accept" if s.recv(2048) == b"ping" else "error: wrong echo"
    except socket.timeout:
        return "drop"
    except OSError as e:
        return "reject" if e.errno in REJECT else "error %s" % e
    finally:
        s.close()
specs = sys.argv[5:]
with concurrent.futures.ThreadPoolExecutor(len(specs)) as pool:
    print(json.dumps(dict(zip(specs, pool.map(probe, specs)))))
"""


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s exited %d: %s%s" % (" ".join(argv), r.returncode, r.stderr, r.stdout))
    return r.stdout


def read_header(path):
    """The `# probe:`, `# from:`, `# expect ADDR:`, `# unknown:`, `# no-fix:` lines."""
    spec = {"probe": [], "from": [CONTROL_PLANE], "expect": {}, "unknown": set(), "no_fix": False}
    for line in open(path):
        if not line.startswith("#"):
            continue
        m = re.match(r"#\s*(probe|from|unknown|no-fix|expect\s+(\S+)):\s*(.*)$", line)
        if not m:
            continue
        words = m.group(3).split()
        if m.group(1) == "probe":
            spec["probe"] = words
        elif m.group(1) == "from":
            spec["from"] = words
        elif m.group(1) == "unknown":
            spec["unknown"] = set(words)
        elif m.group(1) == "no-fix":
            spec["no_fix"] = True
        else:
            spec["expect"][m.group(2)] = dict(w.split("=") for w in words)
    if not spec["probe"]:
        raise RuntimeError("%s: no `# probe:` line" % path)
    for src in spec["from"]:
        if set(spec["expect"].get(src, {})) != set(spec["probe"]):
            raise RuntimeError("%s: `# expect %s:` does not cover every probe" % (path, src))
    return spec


class Namespaces:
    """A node and a control plane namespace joined by a veth pair."""

    def __init__(self, tag):
        self.node = "jp-nft-%d-%s-n" % (os.getpid(), tag)
        self.client = "jp-nft-%d-%s-c" % (os.getpid(), tag)
        self.server = None

    def __enter__(self):
        run(["ip", "netns", "add", self.node])
        run(["ip", "netns", "add", self.client])
        run(["ip", "-n", self.node, "link", "add", "eth1", "type", "veth", "peer", "name", "cp1", "netns", self.client])
        run(["ip", "-n", self.node, "addr", "add", NODE_ADDR + "/24", "dev", "eth1"])
        run(["ip", "-n", self.client, "addr", "add", CONTROL_PLANE + "/24", "dev", "cp1"])
        run(["ip", "-n", self.client, "addr", "add", OTHER_ADDR + "/24", "dev", "cp1"])
        run(["ip", "-n", self.node, "addr", "add", NODE_ADDR6 + "/64", "dev", "eth1", "nodad"])
        for a in CLIENT_ADDRS6:
            run(["ip", "-n", self.client, "addr", "add", a + "/64", "dev", "cp1", "nodad"])
        for ns, dev in ((self.node, "eth1"), (self.client, "cp1")):
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "-n", ns, "link", "set", dev, "up"])
        # Static neighbours: IPv6 needs no neighbour discovery, which the
        # rule sets under test would drop like any other packet.
        node_mac = self.mac(self.node, "eth1")
        client_mac = self.mac(self.client, "cp1")
        run(["ip", "-n", self.client, "neigh", "replace", NODE_ADDR6, "lladdr", node_mac, "dev", "cp1", "nud", "permanent"])
        for a in CLIENT_ADDRS6:
            run(["ip", "-n", self.node, "neigh", "replace", a, "lladdr", client_mac, "dev", "eth1", "nud", "permanent"])
        return self

    @staticmethod
    def mac(ns, dev):
        return json.loads(run(["ip", "-n", ns, "-j", "link", "show", dev]))[0]["address"]

    def __exit__(self, *exc):
        if self.server:
            self.server.kill()
            self.server.wait()
        for ns in (self.node, self.client):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def listen(self, probes):
        self.server = subprocess.Popen(["ip", "netns", "exec", self.node, sys.executable, "-c", SERVER] + probes,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.server.stdout.readline()  # waits for the bind, not for a time
        if line.strip() != "ready":
            raise RuntimeError("listeners did not start: " + self.server.stderr.read())

    def connect(self, src, probes):
        node = NODE_ADDR6 if ":" in src else NODE_ADDR
        out = run(["ip", "netns", "exec", self.client, sys.executable, "-c", CLIENT, src, node,
                   str(TCP_TIMEOUT), str(UDP_TIMEOUT)] + probes)
        return json.loads(out)

    def probe(self, src, probes, fix=False):
        v6 = ":" in src
        argv = ["ip", "netns", "exec", self.node, PROBE, "--family", "6" if v6 else "4", "--saddr", src,
                "--daddr", NODE_ADDR6 if v6 else NODE_ADDR, "--iif", "eth1"]
        return json.loads(run(argv + (["--fix"] if fix else []) + probes))


def spec_name(v):
    return "%s:%d" % (v["proto"], v["dport"])


def check_case(index, path):
    """Returns a list of failures (strings) for one rule set."""
    name = os.path.basename(path)
    spec = read_header(path)
    failures = []
    with Namespaces(str(index)) as ns:
        run(["ip", "netns", "exec", ns.node, "nft", "-f", path])
        ns.listen(spec["probe"])
        for src in spec["from"]:
            kernel = ns.connect(src, spec["probe"])
            ours = {spec_name(v): v for v in ns.probe(src, spec["probe"])["verdicts"]}
            for p in spec["probe"]:
                where = "%s from %s %s" % (name, src, p)
                if kernel[p] != spec["expect"][src][p]:
                    failures.append("%s: the kernel did %s, the rule set's header expects %s" %
                                    (where, kernel[p], spec["expect"][src][p]))
                want = "unknown" if p in spec["unknown"] else kernel[p]
                if ours[p]["verdict"] != want:
                    failures.append("%s: kernel %s, evaluator %s (%s)" % (where, kernel[p], ours[p]["verdict"],
                                                                          json.dumps(ours[p])))
        # The fix, for every source address the header names: planned and run by the probe.
        for src in spec["from"]:
            fixed = ns.probe(src, spec["probe"], fix=True)
            steps = fixed["fix"]["steps"]
            if spec["no_fix"]:
                if steps:
                    failures.append("%s: a fix was planned for unknown verdicts: %s" % (name, steps))
                continue
            if fixed["fix"]["steps_again"] != 0:
                failures.append("%s from %s: the fix is not idempotent: %d steps after it" %
                                (name, src, fixed["fix"]["steps_again"]))
            for v in fixed["after"]:
                if v["verdict"] != "accept":
                    failures.append("%s from %s: after the fix the evaluator says %s" % (name, src, json.dumps(v)))
            for v in fixed["fix"]["simulated"]:
                if v["verdict"] != "accept":
                    failures.append("%s from %s: the simulated fix leaves %s" % (name, src, json.dumps(v)))
            kernel = ns.connect(src, spec["probe"])
            for p, what in kernel.items():
                if what != "accept":
                    failures.append("%s from %s %s: after the fix (%s) the kernel did %s" % (name, src, p, steps, what))
    return failures


def main():
    for tool in ("ip", "nft"):
        if not shutil.which(tool):
            print("FAIL: %s is not installed (scripts/deps.sh installs it)" % tool)
            return 1
    if not os.access(PROBE, os.X_OK):
        print("FAIL: %s is missing (build join_prep_nft_probe; NODEAGENT_BUILD=%r)" % (PROBE, BUILD))
        return 1
    files = sorted(os.path.join(RULESETS, f) for f in os.listdir(RULESETS) if f.endswith(".nft"))
    if len(files) < 12:
        print("FAIL: only %d rule sets under %s" % (len(files), RULESETS))
        return 1
    start = time.monotonic()
    failures = []
    with concurrent.futures.ThreadPoolExecutor(len(files)) as pool:
        futures = {pool.submit(check_case, i, f): f for i, f in enumerate(files)}
        for fut in concurrent.futures.as_completed(futures):
            name = os.path.basename(futures[fut])
            try:
                errs = fut.result()
            except Exception as e:  # a setup failure is a test failure
                errs = ["%s: %s" % (name, e)]
            print("%s %s" % ("ok  " if not errs else "FAIL", name), flush=True)
            failures += errs
    print("%d rule sets in %.1f s" % (len(files), time.monotonic() - start))
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
