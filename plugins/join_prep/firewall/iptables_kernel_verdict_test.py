#!/usr/bin/env python3
"""The kernel decides: iptables-legacy rule sets are loaded into a network
namespace of our own, the control plane's namespace connects to each port,
and the evaluator's verdict (join_prep_firewall_probe evaluate, run inside
the node's namespace so it reads that namespace's rules) must equal what
happened: accepted, refused (reject) or silent (drop). A rule the evaluator
cannot read must give `unknown` quoting it. Then the fix (the planned
`iptables-legacy -I`) is applied and the port must be reachable; a saved
rules file that holds the running rules gets the same line.
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns_fixture  # noqa: E402

HEAD = "*filter\n:INPUT %s [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"

# name, v4 rules, v6 rules, probes [(family, proto, port, expected verdict)]
CASES = [
    ("policy-drop", HEAD % "DROP" + "-A INPUT -i lo -j ACCEPT\nCOMMIT\n", None,
     [(4, "tcp", 6443, "drop"), (4, "udp", 4789, "drop")]),
    ("accept-then-drop", HEAD % "ACCEPT" + "-A INPUT -p tcp -m tcp --dport 6443 -j ACCEPT\n"
     "-A INPUT -p tcp -j DROP\nCOMMIT\n", None,
     [(4, "tcp", 6443, "accept"), (4, "tcp", 10250, "drop"), (4, "udp", 4789, "accept")]),
    ("established-only", HEAD % "DROP" + "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
     "-A INPUT -m state --state INVALID -j DROP\nCOMMIT\n", None,
     [(4, "tcp", 10250, "drop")]),
    ("multiport-range", HEAD % "ACCEPT" + "-A INPUT -p tcp -m multiport --dports 6443,2379:2380 -j ACCEPT\n"
     "-A INPUT -p udp -m udp --dport 30000:32767 -j ACCEPT\n"
     "-A INPUT -p tcp -j REJECT --reject-with icmp-port-unreachable\n"
     "-A INPUT -p udp -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n", None,
     [(4, "tcp", 2380, "accept"), (4, "tcp", 2381, "reject"), (4, "udp", 32767, "accept"), (4, "udp", 4789, "reject")]),
    ("saddr-restricted", HEAD % "DROP" + "-A INPUT -s 10.99.0.0/16 -p tcp -m tcp --dport 6443 -j ACCEPT\n"
     "-A INPUT -s {cp}/32 -p tcp -m tcp --dport 10250 -j ACCEPT\n"
     "-A INPUT ! -s {cp}/32 -p tcp -m tcp --dport 179 -j ACCEPT\nCOMMIT\n", None,
     [(4, "tcp", 6443, "drop"), (4, "tcp", 10250, "accept"), (4, "tcp", 179, "drop")]),
    ("user-chain-return", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:GUARD - [0:0]\n"
     "-A INPUT -j GUARD\n-A INPUT -p tcp -m tcp --dport 10250 -j ACCEPT\n-A INPUT -j DROP\n"
     "-A GUARD -p tcp -m tcp --dport 10250 -j RETURN\n"
     "-A GUARD -p tcp -m tcp --dport 2379 -j REJECT --reject-with tcp-reset\n"
     "-A GUARD -p tcp -m tcp --dport 6443 -j ACCEPT\n-A GUARD -p tcp -m tcp --dport 5473 -j RETURN\nCOMMIT\n", None,
     [(4, "tcp", 10250, "accept"), (4, "tcp", 2379, "reject"), (4, "tcp", 6443, "accept"), (4, "tcp", 5473, "drop")]),
    ("goto-reject", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:FINAL - [0:0]\n"
     "-A INPUT -p tcp -m tcp --dport 179 -g FINAL\n-A INPUT -p tcp -m tcp --dport 10256 -g FINAL\n-A INPUT -j DROP\n"
     "-A FINAL -p tcp -m tcp --dport 10256 -j RETURN\n-A FINAL -j REJECT\nCOMMIT\n", None,
     [(4, "tcp", 179, "reject"), (4, "tcp", 10256, "accept")]),
    ("raw-notrack", "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
     "-A PREROUTING -p tcp -m tcp --dport 6443 -j CT --notrack\nCOMMIT\n" + HEAD % "DROP" +
     "-A INPUT -m conntrack --ctstate NEW -j ACCEPT\nCOMMIT\n", None,
     [(4, "tcp", 6443, "drop"), (4, "tcp", 10250, "accept")]),
    ("mangle-drop", "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
     ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -m tcp --dport 10259 -j DROP\n"
     "-A INPUT -j MARK --set-xmark 0x1/0xffffffff\nCOMMIT\n", None,
     [(4, "tcp", 10259, "drop"), (4, "tcp", 10257, "accept")]),
    ("unknown-match", HEAD % "DROP" + "-A INPUT -p tcp -m tcp --dport 6443 -m length --length 0:200 -j ACCEPT\n"
     "-A INPUT -p tcp -m tcp --dport 10250 -m ttl --ttl-gt 0 -j DROP\nCOMMIT\n", None,
     [(4, "tcp", 6443, "unknown"), (4, "tcp", 10250, "drop")]),
    ("addrtype-log", HEAD % "DROP" + "-A INPUT -m addrtype --dst-type BROADCAST -j DROP\n"
     "-A INPUT -m addrtype ! --dst-type LOCAL -j DROP\n"
     "-A INPUT -m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix \"[BLOCK] \"\n"
     "-A INPUT -p tcp -m addrtype --src-type UNICAST -m tcp --dport 6443 -j ACCEPT\nCOMMIT\n", None,
     [(4, "tcp", 6443, "accept"), (4, "tcp", 10250, "drop")]),
    ("ip6-only", None, HEAD % "DROP" + "-A INPUT -p ipv6-icmp -j ACCEPT\nCOMMIT\n",
     [(4, "tcp", 6443, "accept"), (6, "tcp", 6443, "drop")]),
]


def main():
    start = time.monotonic()
    pair = netns_fixture.Pair("iptv")
    root = tempfile.mkdtemp(prefix="jp-iptv-root-")
    failures = []
    checked = 0
    try:
        tcp = sorted({p[2] for c in CASES for p in c[3] if p[1] == "tcp"})
        udp = sorted({p[2] for c in CASES for p in c[3] if p[1] == "udp"})
        pair.listen(tcp, udp)
        for name, v4, v6, probes in CASES:
            v4 = v4.replace("{cp}", pair.cp_ip) if v4 else None
            pair.load(v4, v6)
            # The saved file of the first case is the running set: the fix must persist into it.
            saved = os.path.join(root, "etc", "iptables", "rules.v4")
            if os.path.exists(saved):
                os.remove(saved)
            if name == "policy-drop":
                os.makedirs(os.path.dirname(saved), exist_ok=True)
                with open(saved, "w") as f:
                    f.write(v4)
            kernel = pair.connect([(fam, proto, port) for fam, proto, port, _ in probes])
            for (fam, proto, port, expected), happened in zip(probes, kernel):
                checked += 1
                ev = pair.probe(["evaluate", "--root", root, "--family", str(fam), "--proto", proto,
                                 "--port", str(port), "--saddr", pair.cp_ip6 if fam == 6 else pair.cp_ip,
                                 "--daddr", pair.node_ip6 if fam == 6 else pair.node_ip, "--iif", "eth0"])
                what = "%s: %s %s/%d: evaluator %s (%s), kernel %s" % (name, "v%d" % fam, proto, port,
                                                                      ev["verdict"], ev["rule"], happened)
                print(what)
                if ev["verdict"] != expected:
                    failures.append(what + ", case expects " + expected)
                if expected == "unknown":
                    if "-m length" not in ev["rule"]:
                        failures.append(what + ": the unknown verdict does not quote the rule")
                    fix = pair.probe(["evaluate", "--root", root, "--family", str(fam), "--proto", proto,
                                      "--port", str(port), "--saddr", pair.cp_ip, "--daddr", pair.node_ip,
                                      "--iif", "eth0", "--fix"], check=False)
                    if "fix_error" not in fix:
                        failures.append(what + ": an unknown verdict planned a fix: %s" % fix)
                    continue
                if ev["verdict"] != happened:
                    failures.append(what)
                if ev["verdict"] in ("drop", "reject"):
                    fixed = pair.probe(["evaluate", "--root", root, "--family", str(fam), "--proto", proto,
                                        "--port", str(port), "--saddr", pair.cp_ip6 if fam == 6 else pair.cp_ip,
                                        "--daddr", pair.node_ip6 if fam == 6 else pair.node_ip, "--iif", "eth0",
                                        "--fix"])
                    after = pair.connect([(fam, proto, port)])[0]
                    again = pair.probe(["evaluate", "--root", root, "--family", str(fam), "--proto", proto,
                                        "--port", str(port), "--saddr", pair.cp_ip6 if fam == 6 else pair.cp_ip,
                                        "--daddr", pair.node_ip6 if fam == 6 else pair.node_ip, "--iif", "eth0"])
                    print("   fix %s -> kernel %s, evaluator %s" % ([s.get("run", s.get("edit")) for s in fixed["fix"]],
                                                                   after, again["verdict"]))
                    if after != "accept" or again["verdict"] != "accept":
                        failures.append(what + ": after the fix kernel %s, evaluator %s" % (after, again["verdict"]))
                    if name == "policy-drop" and fam == 4 and proto == "tcp":
                        with open(saved) as f:
                            text = f.read()
                        if "-A INPUT -p tcp -m tcp --dport 6443 -j ACCEPT" not in text:
                            failures.append("policy-drop: the saved rules file did not get the line:\n" + text)
                        # What the file restores at boot lets the port in too.
                        pair.load(text, None)
                        if pair.connect([(4, "tcp", 6443)])[0] != "accept":
                            failures.append("policy-drop: the edited rules file does not accept 6443")
                    elif name != "policy-drop" and fixed.get("fix_warning", "").find("runtime only") < 0:
                        failures.append(what + ": no runtime-only warning without a saved file")
    finally:
        pair.close()
        import shutil
        shutil.rmtree(root, ignore_errors=True)
    print("%d probes in %d rule sets, %s" % (checked, len(CASES), netns_fixture.elapsed(start)))
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
