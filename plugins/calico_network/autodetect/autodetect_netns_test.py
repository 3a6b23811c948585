#!/usr/bin/env python3
"""Calico IP autodetection against a real kernel: in a network namespace of
its own, builds interfaces named like a Vagrant node (eth0 NAT 10.0.2.15/24,
eth1 cluster 192.168.56.11/24, docker0, a cali veth, a tunl0 stand-in, a
default route via eth0), runs calico_network_autodetect inside it for each
method and checks each pick against what `ip -j addr` / `ip -j route get`
say there. Private addresses only; the namespace is removed in finally."""
import json
import os
import re
import shutil
import subprocess
import sys

BUILD = os.environ.get("NODEAGENT_BUILD")
if not BUILD:
    sys.exit("NODEAGENT_BUILD is not set")
TOOL = os.path.join(BUILD, "plugins/calico_network/calico_network_autodetect")
if not os.access(TOOL, os.X_OK):
    sys.exit(f"missing {TOOL}: build calico_network_autodetect first")
if not shutil.which("ip"):
    sys.exit("iproute2's ip is missing (scripts/deps.sh installs it)")

NS = f"cn-ad-{os.getpid()}"
DEFAULT_EXCLUDE = [r"^docker.*", r"^cbr.*", r"^dummy.*", r"^podman.*", r"^virbr.*", r"^lxcbr.*", r"^veth.*",
                   r"^lo", r"^br-.*", r"^cali.*", r"^tunl.*", r"^flannel.*", r"^kube-ipvs.*", r"^cni.*",
                   r"^vxlan\.calico.*", r"^vxlan-v6\.calico.*", r"^wireguard\.cali.*", r"^wg-v6\.cali.*",
                   r"^nodelocaldns.*"]
failures = []


def sh(*args):
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def ns(*args):
    return sh("ip", "netns", "exec", NS, *args)


def veth(name, peer, *addrs):
    sh("ip", "-n", NS, "link", "add", name, "type", "veth", "peer", "name", peer)
    for a in addrs:
        extra = ["nodad"] if ":" in a else []
        sh("ip", "-n", NS, "addr", "add", a, "dev", name, *extra)
    sh("ip", "-n", NS, "link", "set", peer, "up")
    sh("ip", "-n", NS, "link", "set", name, "up")


def autodetect(method, family=4, internal_ips=()):
    args = ["ip", "netns", "exec", NS, TOOL, "--method", method, "--family", str(family)]
    for ip in internal_ips:
        args += ["--internal-ip", ip]
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if r.returncode == 2:
        return {"ok": False, "rc": 2, "stderr": r.stderr}
    out = json.loads(r.stdout)
    out["rc"] = r.returncode
    return out


def addr_table(family):
    """[(ifindex, name, ["ip/len", ...])] from ip -j addr, highest ifindex first."""
    links = json.loads(ns("ip", "-j", f"-{family}", "addr", "show"))
    rows = []
    for link in links:
        cidrs = [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])]
        rows.append((link["ifindex"], link["ifname"], cidrs, link.get("addr_info", [])))
    return sorted(rows, key=lambda r: -r[0])


def expected_first(family, include=(), exclude=(), cidr_scope="global"):
    """The first global-scope address walking from the highest ifindex down."""
    for _, name, _, infos in addr_table(family):
        if include and not any(re.search(r, name) for r in include):
            continue
        if any(re.search(r, name) for r in exclude):
            continue
        for a in infos:
            if a.get("scope") == cidr_scope:
                return name, f"{a['local']}/{a['prefixlen']}"
    return None


def owner_of(ip, family):
    for _, name, cidrs, _ in addr_table(family):
        for c in cidrs:
            if c.split("/")[0] == ip:
                return name, c
    return None


def check(label, got, want):
    if got != want:
        failures.append(f"{label}: got {got!r}, want {want!r}")
        print(f"FAIL {label}: got {got!r}, want {want!r}")
    else:
        print(f"ok   {label}: {got!r}")


def pick_of(out):
    return (out["interface"], out["address"]) if out.get("ok") else ("error", out.get("error") or out.get("stderr"))


def run_methods():
    # first-found: eth1 was made after eth0, so it has the higher ifindex.
    want = expected_first(4, exclude=DEFAULT_EXCLUDE)
    check("first-found (ip -j addr)", pick_of(autodetect("first-found")), want)
    check("first-found (known)", want, ("eth1", "192.168.56.11/24"))
    check("interface=eth0", pick_of(autodetect("interface=eth0")), expected_first(4, include=["eth0"]))
    check("interface=docker.*", pick_of(autodetect("interface=docker.*")), ("docker0", "172.17.0.1/16"))
    check("skip-interface=eth1", pick_of(autodetect("skip-interface=eth1")),
          expected_first(4, exclude=DEFAULT_EXCLUDE + ["eth1"]))
    check("cidr=172.16.0.0/12", pick_of(autodetect("cidr=172.16.0.0/12")), ("docker0", "172.17.0.1/16"))
    for dest in ["10.10.10.10", "192.168.56.12"]:
        route = json.loads(ns("ip", "-j", "route", "get", dest))[0]
        check(f"can-reach={dest}", pick_of(autodetect(f"can-reach={dest}")), owner_of(route["prefsrc"], 4))
    check("can-reach=10.10.10.10 (known)", pick_of(autodetect("can-reach=10.10.10.10"))[0], "eth0")
    # A name, resolved through getaddrinfo: localhost is 127.0.0.1 on lo (no global-unicast test here).
    check("can-reach=localhost", pick_of(autodetect("can-reach=localhost")), ("lo", "127.0.0.1/8"))
    out = autodetect("kubernetes-internal-ip", internal_ips=["192.168.56.11"])
    check("kubernetes-internal-ip", pick_of(out), owner_of("192.168.56.11", 4))
    check("kubernetes-internal-ip matches", out.get("matches_internal_ip"), True)
    # IPv6: eth0 has only its link-local address, eth1 the ULA.
    want6 = expected_first(6, exclude=DEFAULT_EXCLUDE)
    check("first-found v6", pick_of(autodetect("first-found", 6)), want6)
    check("first-found v6 (known)", want6, ("eth1", "fd00:56::11/64"))
    # Calico finds nothing: the reasons come back, exit 1; a bad method is exit 2.
    out = autodetect("interface=ens.*")
    check("interface=ens.* rc", out["rc"], 1)
    check("interface=ens.* error", "no valid host interfaces found" in out.get("error", ""), True)
    out = autodetect("can-reach=fd00:99::1", 6)
    check("can-reach unreachable rc", out["rc"], 1)
    check("bad method rc", autodetect("first_found")["rc"], 2)


def run_vagrant_trap():
    # Recreate eth0 so that it has the highest ifindex: first-found now picks NAT.
    sh("ip", "-n", NS, "link", "del", "eth0")
    veth("eth0", "p-eth0b", "10.0.2.15/24")
    sh("ip", "-n", NS, "route", "add", "default", "via", "10.0.2.2", "dev", "eth0")
    out = autodetect("first-found", internal_ips=["192.168.56.11"])
    check("trap first-found", pick_of(out), expected_first(4, exclude=DEFAULT_EXCLUDE))
    check("trap first-found (known)", pick_of(out), ("eth0", "10.0.2.15/24"))
    check("trap matches", out.get("matches_internal_ip"), False)
    check("trap suggestion", out.get("suggestion"),
          "first-found picks 10.0.2.15 on eth0; InternalIP is 192.168.56.11 on eth1; "
          "set IP_AUTODETECTION_METHOD=interface=eth1 or kubernetes-internal-ip")
    # The suggestion, run for real, picks the InternalIP.
    check("suggested method", pick_of(autodetect("interface=eth1")), ("eth1", "192.168.56.11/24"))


def main():
    sh("ip", "netns", "add", NS)
    try:
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        veth("eth0", "p-eth0", "10.0.2.15/24")
        veth("eth1", "p-eth1", "192.168.56.11/24", "fd00:56::11/64")
        veth("docker0", "p-docker0", "172.17.0.1/16")
        veth("cali1234abcd", "p-cali")
        sh("ip", "-n", NS, "tuntap", "add", "tunl0", "mode", "tun")
        sh("ip", "-n", NS, "addr", "add", "10.244.1.0/32", "dev", "tunl0")
        sh("ip", "-n", NS, "link", "set", "tunl0", "mtu", "1480", "up")
        sh("ip", "-n", NS, "route", "add", "default", "via", "10.0.2.2", "dev", "eth0")
        run_methods()
        run_vagrant_trap()
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=False)
    if failures:
        print(f"{len(failures)} failure(s):\n  " + "\n  ".join(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
