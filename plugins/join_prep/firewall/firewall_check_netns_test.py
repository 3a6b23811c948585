#!/usr/bin/env python3
"""The whole firewall check in a network namespace: the node's namespace
holds iptables-legacy rules (and an ip6tables set that must not matter),
join_prep_firewall_probe check runs inside it with the control plane's
address as endpoint, and every port it reports must match what the kernel
does with a connect from the control plane's namespace. Then --fix carries
the planned steps out; every port must be reachable, and the check must
come back clean with no fix planned (idempotent).
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns_fixture  # noqa: E402

RULES = ("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:GUARD - [0:0]\n"
         "-A INPUT -i lo -j ACCEPT\n"
         "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
         "-A INPUT -j GUARD\n"
         "-A INPUT -s {cp}/32 -p tcp -m tcp --dport 10250 -j ACCEPT\n"
         "-A INPUT -p udp -m multiport --dports 4789,30000:32767 -j ACCEPT\n"
         "-A GUARD -p tcp -m tcp --dport 179 -j REJECT --reject-with tcp-reset\n"
         "COMMIT\n")
RULES6 = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"

# worker + calico: what the kernel should do before the fix.
EXPECTED = {
    ("tcp", 10250): "accept", ("tcp", 10256): "drop", ("tcp", 30000): "drop", ("tcp", 32767): "drop",
    ("udp", 30000): "accept", ("udp", 32767): "accept", ("tcp", 179): "reject", ("udp", 4789): "accept",
    ("tcp", 5473): "drop",
}


def check(pair, root, *extra):
    return pair.probe(["check", "--root", root, "--role", "worker", "--cni", "calico",
                       "--endpoint", "%s:6443" % pair.cp_ip] + list(extra), check="--fix" not in extra)


def main():
    start = time.monotonic()
    pair = netns_fixture.Pair("fwck")
    root = tempfile.mkdtemp(prefix="jp-fwck-root-")
    failures = []
    try:
        pair.listen(sorted({p for proto, p in EXPECTED if proto == "tcp"}),
                    sorted({p for proto, p in EXPECTED if proto == "udp"}))
        pair.load(RULES.replace("{cp}", pair.cp_ip), RULES6)
        report = check(pair, root)
        entries = {(e["proto"], e["port"]): e for e in report["ports"] if e["proto"] != "ipip"}
        keys = sorted(EXPECTED)
        kernel = dict(zip(keys, pair.connect([(4, proto, port) for proto, port in keys])))
        for key in keys:
            e = entries.get(key)
            line = "%s/%d: check %s (%s %s: %s), kernel %s" % (key[0], key[1], e and e["verdict"], e and e["manager"],
                                                              e and e["chain"], e and e["rule"], kernel[key])
            print(line)
            if not e or e["verdict"] != kernel[key] or kernel[key] != EXPECTED[key]:
                failures.append(line + ", expected " + EXPECTED[key])
        ids = sorted(c["id"] for c in report["checks"])
        want = ["Firewall-10256-tcp", "Firewall-179-tcp", "Firewall-30000-32767-tcp", "Firewall-5473-tcp", "Firewall-ipip"]
        if ids != want:
            failures.append("check ids %s, expected %s" % (ids, want))
        for c in report["checks"]:
            if "fix" not in c:
                failures.append("%s has no fix: %s" % (c["id"], c))
            elif c["severity"] != "error":
                failures.append("%s is a %s" % (c["id"], c["severity"]))
        print("fix steps:", [s["run"] for c in report["checks"] for s in c.get("fix", {}).get("steps", [])])

        fixed = check(pair, root, "--fix")
        if not fixed.get("applied"):
            failures.append("the fix was not applied: %s" % fixed.get("apply_error"))
        after = pair.connect([(4, proto, port) for proto, port in keys])
        for key, happened in zip(keys, after):
            if happened != "accept":
                failures.append("after the fix %s/%d: kernel %s" % (key[0], key[1], happened))
        again = check(pair, root)
        left = [c["id"] for c in again["checks"]]
        if left:
            failures.append("after the fix the check still reports %s" % left)
        if any(e["verdict"] != "accept" for e in again["ports"]):
            failures.append("after the fix not every port is accepted: %s" % again["ports"])
        print("after the fix: kernel %s, check %s" % (after, left or "clean"))
    finally:
        pair.close()
        import shutil
        shutil.rmtree(root, ignore_errors=True)
    print("%s" % netns_fixture.elapsed(start))
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
