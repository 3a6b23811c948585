#!/usr/bin/env python3
"""Calico's interfaces against a real kernel: in a network namespace of its
own, builds eth1 (a veth, MTU 1500, the default route), a cali veth, and a
tunl0 stand-in (`ip tuntap ... mode tun`: this kernel may have no ipip
module), runs calico_network_interfaces inside it with `ip netns exec`, and
checks the report against what `ip -j -s -d link` and `ip -j addr` say there:
tunl0 at MTU 1500 is too large over eth1's 1500 (IPIP's 20 bytes), 1480 is
fine; pools with ipipMode Always or Never against tunl0 present or gone; a
vxlan.calico stand-in against VXLAN's 50 bytes; and IP pools created with
real kubectl in the test API server (tests/apiserver), read back with
`kubectl get ippools.crd.projectcalico.org -o json`, as the pool file.
Private addresses only; the namespace and the server go away in finally."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ.get("NODEAGENT_BUILD")
if not BUILD:
    sys.exit("NODEAGENT_BUILD is not set")
TOOL = os.path.join(BUILD, "plugins/calico_network/calico_network_interfaces")
if not os.access(TOOL, os.X_OK):
    sys.exit(f"missing {TOOL}: build calico_network_interfaces first")
if not shutil.which("ip"):
    sys.exit("iproute2's ip is missing (scripts/deps.sh installs it)")

SOURCE = os.environ.get("CALICO_NETWORK_SOURCE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(SOURCE, "..", "..", "tests", "apiserver"))
from testserver import TestServer  # noqa: E402

NS = f"cn-if-{os.getpid()}"
failures = []


def check(label, got, want):
    if got != want:
        failures.append(f"{label}: got {got!r}, want {want!r}")


def sh(*args):
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def ns(*args):
    return sh("ip", "netns", "exec", NS, *args)


def report(*args):
    r = subprocess.run(["ip", "netns", "exec", NS, TOOL, *args], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"calico_network_interfaces {' '.join(args)} failed ({r.returncode}): {r.stdout} {r.stderr}")
    return json.loads(r.stdout)


def pools_file(directory, *pools):
    """An IPPoolList with (name, cidr, ipipMode, vxlanMode) pools, as kubectl -o json prints it."""
    items = [{"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": {"name": name},
              "spec": {"cidr": cidr, "ipipMode": ipip, "vxlanMode": vxlan, "natOutgoing": True}}
             for name, cidr, ipip, vxlan in pools]
    path = os.path.join(directory, f"pools-{len(os.listdir(directory))}.json")
    with open(path, "w") as f:
        json.dump({"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPoolList", "items": items}, f)
    return path


def kernel_view(name):
    """What the kernel says of `name`: the report's fields for one interface."""
    links = json.loads(ns("ip", "-j", "-s", "-d", "link", "show", "dev", name))
    link = links[0]
    addrs = json.loads(ns("ip", "-j", "addr", "show", "dev", name))[0].get("addr_info", [])
    stats = link.get("stats64", {})
    return {"name": name, "exists": True, "up": "UP" in link.get("flags", []), "mtu": link["mtu"],
            "kind": link.get("linkinfo", {}).get("info_kind", ""),
            "addresses": [f"{a['local']}/{a['prefixlen']}" for a in addrs],
            "errors": {"rx_errors": stats["rx"]["errors"], "tx_errors": stats["tx"]["errors"],
                       "rx_dropped": stats["rx"]["dropped"], "tx_dropped": stats["tx"]["dropped"]}}


def iface(rep, name):
    for i in rep["interfaces"]:
        if i["name"] == name:
            return i
    return None


def problems(rep, subject, severity="warning"):
    return [p["message"] for p in rep["problems"] if p["subject"] == subject and p["severity"] == severity]


def run(tmp):
    always = pools_file(tmp, ("default-ipv4-ippool", "10.244.0.0/16", "Always", "Never"))
    never = pools_file(tmp, ("default-ipv4-ippool", "10.244.0.0/16", "Never", "Never"))
    vxlan = pools_file(tmp, ("vxlan-pool", "10.245.0.0/16", "Never", "Always"))

    # tunl0 at 1500 over eth1 at 1500: too large by IPIP's 20 bytes.
    rep = report("--underlying", "eth1", "--pools", always)
    check("underlying", (rep["underlying"], rep["underlying_mtu"]), ("eth1", 1500))
    check("cali veths", rep["cali_veths"], 1)
    check("tunl0 as the kernel has it", iface(rep, "tunl0"), kernel_view("tunl0"))
    check("tunl0 addresses", iface(rep, "tunl0")["addresses"], ["10.244.1.0/32"])
    warned = problems(rep, "tunl0")
    check("tunl0 1500 warned once", len(warned), 1)
    if warned:
        check("tunl0 1500 message", warned[0].split(": set ")[0], "tunl0 MTU 1500 > eth1 MTU 1500 - 20 (IPIP)")
        check("tunl0 1500 fix", "set FELIX_IPINIPMTU" in warned[0] and "to 1480 or lower" in warned[0], True)
    check("only tunl0 listed", [i["name"] for i in rep["interfaces"]], ["tunl0"])

    # The default route's device when --underlying is not given.
    rep = report("--pools", always)
    check("underlying from the default route", rep["underlying"], "eth1")

    # 1480 is exactly 1500 - 20: fine, and with an IPIP pool nothing is said.
    ns("ip", "link", "set", "tunl0", "mtu", "1480")
    rep = report("--underlying", "eth1", "--pools", always)
    check("tunl0 1480", iface(rep, "tunl0"), kernel_view("tunl0"))
    check("tunl0 1480 problems", rep["problems"], [])

    # 1481: one byte over.
    ns("ip", "link", "set", "tunl0", "mtu", "1481")
    check("tunl0 1481 warned", len(problems(report("--underlying", "eth1", "--pools", always), "tunl0")), 1)
    ns("ip", "link", "set", "tunl0", "mtu", "1480")

    # Every pool Never while tunl0 is up with an address: the node and the pools disagree.
    warned = problems(report("--underlying", "eth1", "--pools", never), "tunl0")
    check("tunl0 vs Never warned once", len(warned), 1)
    if warned:
        check("tunl0 vs Never message", "every IP pool has ipipMode Never (default-ipv4-ippool)" in warned[0], True)

    # No pools given: said, and nothing compared.
    rep = report("--underlying", "eth1")
    check("pools unknown", len(problems(rep, "IP pools", "info")), 1)
    check("pools unknown: no warnings", [p for p in rep["problems"] if p["severity"] != "info"], [])

    # A VXLAN stand-in at 1451 over 1500: VXLAN's 50 bytes; 1450 is fine.
    ns("ip", "tuntap", "add", "vxlan.calico", "mode", "tun")
    ns("ip", "link", "set", "vxlan.calico", "mtu", "1451", "up")
    rep = report("--underlying", "eth1", "--pools", vxlan)
    check("vxlan.calico listed", iface(rep, "vxlan.calico"), kernel_view("vxlan.calico"))
    warned = problems(rep, "vxlan.calico")
    check("vxlan.calico 1451 warned once", len(warned), 1)
    if warned:
        check("vxlan.calico message", warned[0].split(": set ")[0], "vxlan.calico MTU 1451 > eth1 MTU 1500 - 50 (VXLAN)")
    ns("ip", "link", "set", "vxlan.calico", "mtu", "1450")
    check("vxlan.calico 1450", problems(report("--underlying", "eth1", "--pools", vxlan), "vxlan.calico"), [])

    # tunl0 gone while a pool wants IPIP.
    ns("ip", "tuntap", "del", "tunl0", "mode", "tun")
    rep = report("--underlying", "eth1", "--pools", always)
    check("tunl0 absent", (iface(rep, "tunl0")["exists"], iface(rep, "tunl0")["mtu"]), (False, 0))
    warned = problems(rep, "pool default-ipv4-ippool")
    check("IPIP pool without tunl0 warned once", len(warned), 1)
    if warned:
        check("IPIP pool without tunl0 message", "has ipipMode Always but tunl0 does not exist" in warned[0], True)
    check("no tunl0, pools Never", problems(report("--underlying", "eth1", "--pools", never), "pool default-ipv4-ippool"), [])


POOLS_YAML = """\
apiVersion: crd.projectcalico.org/v1
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: 10.244.0.0/16
  ipipMode: Always
  natOutgoing: true
  nodeSelector: all()
---
apiVersion: crd.projectcalico.org/v1
kind: IPPool
metadata:
  name: spare
spec:
  cidr: 10.246.0.0/16
  disabled: true
"""


def run_with_kubectl(tmp):
    """Pools as kubectl prints them: tunl0 present at 1480 with an IPIP pool is quiet; with
    ipipMode Never on every pool, tunl0 (up, addressed) is a warning."""
    with TestServer() as srv:
        r = srv.kubectl("create", "-f", "-", input=POOLS_YAML)
        if r.returncode != 0:
            raise RuntimeError(f"kubectl create: {r.stderr}")
        path = os.path.join(tmp, "kubectl-pools.json")
        r = srv.kubectl("get", "ippools.crd.projectcalico.org", "-o", "json")
        if r.returncode != 0:
            raise RuntimeError(f"kubectl get: {r.stderr}")
        with open(path, "w") as f:
            f.write(r.stdout)
        rep = report("--underlying", "eth1", "--pools", path)
        check("kubectl pools, tunl0 1480 and an IPIP pool", rep["problems"], [])

        r = srv.kubectl("patch", "ippools.crd.projectcalico.org", "default-ipv4-ippool", "--type", "merge",
                        "-p", '{"spec":{"ipipMode":"Never"}}')
        if r.returncode != 0:
            raise RuntimeError(f"kubectl patch: {r.stderr}")
        r = srv.kubectl("get", "ippools.crd.projectcalico.org", "-o", "json")
        with open(path, "w") as f:
            f.write(r.stdout)
        warned = problems(report("--underlying", "eth1", "--pools", path), "tunl0")
        check("kubectl pools all Never: tunl0 warned once", len(warned), 1)
        if warned:
            check("kubectl pools all Never: message",
                  "every IP pool has ipipMode Never (default-ipv4-ippool, spare)" in warned[0], True)


def main():
    sh("ip", "netns", "add", NS)
    tmp = tempfile.mkdtemp(prefix="cn-if-")
    try:
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        sh("ip", "-n", NS, "link", "add", "eth1", "type", "veth", "peer", "name", "p-eth1")
        sh("ip", "-n", NS, "link", "set", "eth1", "mtu", "1500")
        sh("ip", "-n", NS, "addr", "add", "192.168.56.11/24", "dev", "eth1")
        sh("ip", "-n", NS, "link", "set", "p-eth1", "up")
        sh("ip", "-n", NS, "link", "set", "eth1", "up")
        sh("ip", "-n", NS, "route", "add", "default", "via", "192.168.56.1", "dev", "eth1")
        sh("ip", "-n", NS, "link", "add", "cali1234abcd", "type", "veth", "peer", "name", "p-cali")
        sh("ip", "-n", NS, "tuntap", "add", "tunl0", "mode", "tun")
        sh("ip", "-n", NS, "addr", "add", "10.244.1.0/32", "dev", "tunl0")
        sh("ip", "-n", NS, "link", "set", "tunl0", "mtu", "1480", "up")
        run_with_kubectl(tmp)
        sh("ip", "-n", NS, "link", "set", "tunl0", "mtu", "1500")
        run(tmp)
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s):\n  " + "\n  ".join(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
