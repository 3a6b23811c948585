#!/usr/bin/env python3
"""The kernel and runtime checks against a real kernel, changing nothing of
the host: join_prep_kernel_check runs inside a network namespace made here,
where net.ipv4.ip_forward is the namespace's own (0 in a new one); the tool
applies only the "write now" steps under /proc/sys/net/ipv4/, so the fix of
FileContent--proc-sys-net-ipv4-ip_forward is carried out on the real
sysctl of that namespace, and a second check passes. The host's value is
read before and after and must not change. The runtime part listens on a
unix socket under a temp root (crictl is not installed: the check falls back
to connect(2)) and stops listening to see the check fail."""
import json
import os
import socket
import subprocess
import sys
import tempfile

BUILD = os.environ["NODEAGENT_BUILD"]
TOOL = os.path.join(BUILD, "plugins", "join_prep", "join_prep_kernel_check")
NS = "jp-kernel-%d" % os.getpid()


def run(*argv, netns=True):
    cmd = (["ip", "netns", "exec", NS] if netns else []) + [TOOL, *argv]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)


def result(doc, check_id):
    for r in doc["results"]:
        if r["id"] == check_id:
            return r
    raise AssertionError("no result %s in %s" % (check_id, doc))


def host_ip_forward():
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        return f.read()


def kernel_part():
    before = host_ip_forward()
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        # A new namespace starts at 0 unless net.core.devconf_inherit_init_net
        # copies the host's value: then set it to 0 there (only there).
        subprocess.run(["ip", "netns", "exec", NS, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward"], check=True)
        ns_value = subprocess.run(["ip", "netns", "exec", NS, "cat", "/proc/sys/net/ipv4/ip_forward"],
                                  check=True, capture_output=True, text=True).stdout
        assert ns_value == "0\n", "ip_forward in %s: %r" % (NS, ns_value)
        first = run()
        fwd = result(first, "FileContent--proc-sys-net-ipv4-ip_forward")
        assert fwd["status"] == "fail", fwd
        assert fwd["fix"]["steps"][0]["kind"] == "write", fwd
        assert fwd["fix"]["steps"][0]["target"] == "/proc/sys/net/ipv4/ip_forward", fwd

        applied = run("--apply-netns-sysctls")
        assert applied["applied"] == [{"path": "/proc/sys/net/ipv4/ip_forward", "ok": True, "error": ""}], applied
        second = run()
        fwd2 = result(second, "FileContent--proc-sys-net-ipv4-ip_forward")
        assert fwd2["status"] == "pass", fwd2
        assert "fix" not in fwd2, fwd2
        assert host_ip_forward() == before, "the host's ip_forward changed"
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=False)
    assert host_ip_forward() == before


def runtime_part():
    with tempfile.TemporaryDirectory(prefix="jp-kernel-") as root:
        os.makedirs(os.path.join(root, "run", "containerd"))
        path = os.path.join(root, "run", "containerd", "containerd.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(4)
        doc = run("--root", root, "--runtime", netns=False)
        cri = result(doc, "CRI")
        assert cri["status"] == "pass", cri
        assert "connect(2) accepted" in cri["message"], cri
        cg = result(doc, "CgroupDriver")
        assert cg["status"] == "fail" and "containerd's default" in cg["message"], cg
        assert cg["fix"]["steps"][0]["target"] == "/etc/containerd/config.toml", cg
        listener.close()  # the socket file stays, nobody listens: a dead runtime
        dead = result(run("--root", root, "--runtime", netns=False), "CRI")
        assert dead["status"] == "fail" and "Connection refused" in dead["message"], dead


def main():
    if not os.path.exists(TOOL):
        print("missing %s: build join_prep_kernel_check" % TOOL, file=sys.stderr)
        return 1
    kernel_part()
    runtime_part()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
