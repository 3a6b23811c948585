"""Two network namespaces joined by a veth pair, for the firewall tests: a
"node" (10.78.N.2, fd00:78:N::2) with listeners on the ports under test and
rules loaded into it, and a "control plane" (10.78.N.1, fd00:78:N::1) that
connects to them. What the kernel did is read from the connect: accepted,
refused (a reset or an ICMP unreachable: reject) or silent (drop).

Nothing leaves the two namespaces; close() removes them (use it in finally).
"""
import json
import os
import shutil
import subprocess
import sys
import time

LISTENER = r"""
import select, socket, sys
tcp = [int(p) for p in sys.argv[1].split(",") if p]
udp = [int(p) for p in sys.argv[2].split(",") if p]
socks = {}
for port in tcp:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port)); s.listen(64); socks[s] = "tcp"
for port in udp:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port)); socks[s] = "udp"
print("ready", flush=True)
while True:
    ready, _, _ = select.select(list(socks), [], [])
    for s in ready:
        if socks[s] == "tcp":
            c, _ = s.accept(); c.close()
        else:
            data, peer = s.recvfrom(64); s.sendto(data, peer)
"""

CLIENT = r"""
import json, socket, sys, threading
targets = json.loads(sys.argv[1]); timeout = float(sys.argv[2])
out = [None] * len(targets)
def probe(i, host, proto, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        if proto == "udp":
            s.send(b"x"); s.recv(64)
        out[i] = "accept"
    except socket.timeout:
        out[i] = "drop"
    except ConnectionRefusedError:
        out[i] = "reject"
    except OSError as e:
        out[i] = "error: %s" % e
    finally:
        s.close()
threads = [threading.Thread(target=probe, args=(i, *t)) for i, t in enumerate(targets)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(out))
"""

RESET_V4 = ("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
            "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
            ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n"
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n")


def need(tool):
    path = shutil.which(tool)
    if not path:
        sys.exit("FAIL: %s is not installed (scripts/deps.sh installs it)" % tool)
    return path


class Pair:
    def __init__(self, tag):
        for tool in ("ip", "iptables-legacy-restore", "ip6tables-legacy-restore", "iptables-legacy-save"):
            need(tool)
        n = os.getpid() % 250 + 1
        self.node = "jp-%s-node-%d" % (tag, os.getpid())
        self.cp = "jp-%s-cp-%d" % (tag, os.getpid())
        self.node_ip, self.cp_ip = "10.78.%d.2" % n, "10.78.%d.1" % n
        self.node_ip6, self.cp_ip6 = "fd00:78:%x::2" % n, "fd00:78:%x::1" % n
        self.listener = None
        self.created = []
        for ns in (self.node, self.cp):
            self.run(["ip", "netns", "add", ns])
            self.created.append(ns)
        self.run(["ip", "link", "add", "eth0", "netns", self.node, "type", "veth", "peer", "name", "eth0",
                  "netns", self.cp])
        for ns, ip, ip6 in ((self.node, self.node_ip, self.node_ip6), (self.cp, self.cp_ip, self.cp_ip6)):
            self.inside(ns, ["ip", "addr", "add", ip + "/24", "dev", "eth0"])
            self.inside(ns, ["ip", "-6", "addr", "add", ip6 + "/64", "dev", "eth0", "nodad"])
            self.inside(ns, ["ip", "link", "set", "eth0", "up"])
            self.inside(ns, ["ip", "link", "set", "lo", "up"])

    @staticmethod
    def run(argv, stdin=None, check=True):
        r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("%s exited %d: %s" % (" ".join(argv), r.returncode, r.stderr.strip()))
        return r

    def inside(self, ns, argv, stdin=None, check=True):
        return self.run(["ip", "netns", "exec", ns] + argv, stdin=stdin, check=check)

    def listen(self, tcp, udp):
        self.listener = subprocess.Popen(
            ["ip", "netns", "exec", self.node, sys.executable, "-c", LISTENER,
             ",".join(map(str, tcp)), ",".join(map(str, udp))],
            stdout=subprocess.PIPE, text=True)
        line = self.listener.stdout.readline()  # waits for the bind, not a sleep
        if line.strip() != "ready":
            raise AssertionError("listener did not start: %r" % line)

    def load(self, v4=None, v6=None):
        """Resets raw, mangle and filter of both families, then loads the rule sets."""
        self.inside(self.node, ["iptables-legacy-restore"], stdin=RESET_V4)
        self.inside(self.node, ["ip6tables-legacy-restore"], stdin=RESET_V4)
        if v4:
            self.inside(self.node, ["iptables-legacy-restore"], stdin=v4)
        if v6:
            self.inside(self.node, ["ip6tables-legacy-restore"], stdin=v6)

    def connect(self, targets, timeout=1.5):
        """targets: [(family, proto, port)] -> ["accept"|"reject"|"drop"|"error: ..."]."""
        hosts = [[self.node_ip6 if fam == 6 else self.node_ip, proto, port] for fam, proto, port in targets]
        r = self.inside(self.cp, [sys.executable, "-c", CLIENT, json.dumps(hosts), str(timeout)])
        return json.loads(r.stdout)

    def probe(self, argv, check=True):
        build = os.environ.get("NODEAGENT_BUILD")
        if not build:
            sys.exit("FAIL: NODEAGENT_BUILD is not set")
        exe = os.path.join(build, "plugins", "join_prep", "join_prep_firewall_probe")
        if not os.path.exists(exe):
            sys.exit("FAIL: %s is not built (ninja join_prep_firewall_probe)" % exe)
        r = self.inside(self.node, [exe] + argv, check=False)
        if check and r.returncode != 0:
            raise AssertionError("probe %s exited %d: %s %s" % (argv, r.returncode, r.stdout, r.stderr))
        return json.loads(r.stdout) if r.stdout.strip() else {}

    def close(self):
        if self.listener:
            self.listener.kill()
            self.listener.wait()
        for ns in self.created:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def elapsed(start):
    return "%.1f s" % (time.monotonic() - start)
