#!/usr/bin/env python3
"""join-prep end to end through `agentctl --local`, in a network namespace
whose rules close ports a worker needs: nftables (a policy-drop input chain
and an ip table that drops the kubelet's port after an inet accept), then
iptables-nft (policy DROP, conntrack and multiport matches, as ufw and
Debian 12's `iptables` write them).

The agent's root is a temp dir (so the file checks see an empty node) and
`fix = ["firewall"]`, so the only thing the run may change is the
namespace's rule set. Asserts: the dry run's verdicts in data.firewall.ports
equal what a connect from the control plane's namespace gets, and changes
nothing; the run opens the ports (the kernel now accepts), reports the
checks fixed, and a second dry run plans no change.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns_fixture  # noqa: E402

BUILD = os.environ.get("NODEAGENT_BUILD") or sys.exit("FAIL: NODEAGENT_BUILD is not set")
AGENTCTL = os.path.join(BUILD, "bin", "agentctl")
PLUGINS = os.path.join(BUILD, "plugins")

RULES = """
table inet filter {
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iifname "lo" accept
    tcp dport 22 accept
    tcp dport 10250 accept
  }
}
table ip late {
  chain input {
    type filter hook input priority 10; policy accept;
    tcp dport 10250 drop
  }
}
"""


def agentctl(pair, config, *args):
    r = pair.inside(pair.node, [AGENTCTL, "--local", "--config", config, "-o", "json", "run", "join-prep",
                                "--set", 'endpoint="%s:6443"' % pair.cp_ip, "--set", 'cni="none"',
                                "--set", 'fix=["firewall"]', "--set", 'connect_timeout="300ms"'] + list(args),
                    check=False)
    try:
        out = json.loads(r.stdout)
    except ValueError:
        raise AssertionError("agentctl printed no JSON (exit %d): %s %s" % (r.returncode, r.stdout, r.stderr))
    return out.get("record", out)


def verdicts(record):
    ports = record.get("data", {}).get("firewall", {}).get("ports", [])
    return {(p["proto"], p["port"]): p for p in ports}


# The shape ufw and hand-written iptables rules take on Debian 12, where
# `iptables` is iptables-nft: nftables tables whose xt matches (conntrack)
# nft's JSON does not carry, judged from iptables-nft-save instead.
IPTABLES_NFT = """*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p tcp -m multiport --dports 6443,10250 -m conntrack --ctstate NEW -j DROP
COMMIT
"""


def main():
    if not os.path.exists(AGENTCTL):
        sys.exit("FAIL: %s is not built" % AGENTCTL)
    netns_fixture.need("nft")
    netns_fixture.need("iptables-nft-restore")
    scenario("nft", lambda pair: pair.inside(pair.node, ["nft", "-f", "-"], stdin=RULES), "late")
    scenario("iptables-nft", lambda pair: pair.inside(pair.node, ["iptables-nft-restore"], stdin=IPTABLES_NFT),
             "filter", manager="iptables-nft")


def scenario(name, load, table_10250, manager=None):
    pair = netns_fixture.Pair("e2e")
    tmp = tempfile.mkdtemp(prefix="jp-e2e-")
    try:
        root = os.path.join(tmp, "root")
        os.makedirs(os.path.join(root, "proc/sys/kernel/random"))
        with open(os.path.join(root, "proc/sys/kernel/random/boot_id"), "w") as f:
            f.write("boot-1\n")
        config = os.path.join(tmp, "agent.toml")
        with open(config, "w") as f:
            f.write('[agent]\nroot = "%s"\nstate_dir = "%s/state"\nsocket = "%s/agent.sock"\nplugin_dir = "%s"\n'
                    'node_name = "node-1"\n' % (root, tmp, tmp, PLUGINS))
        load(pair)
        pair.listen([10250, 10256, 30000, 32767], [30000, 32767])
        targets = [(4, "tcp", 10250), (4, "tcp", 10256), (4, "tcp", 30000), (4, "tcp", 32767), (4, "udp", 30000),
                   (4, "udp", 32767)]
        before = dict(zip(targets, pair.connect(targets)))
        assert all(v == "drop" for v in before.values()), "the rules should drop every port: %s" % before
        ruleset_before = pair.inside(pair.node, ["nft", "-s", "list", "ruleset"]).stdout

        plan = agentctl(pair, config, "--dry-run")
        v = verdicts(plan)
        for (fam, proto, port), kernel in before.items():
            got = v.get((proto, port))
            assert got, "no verdict for %s/%d in %s" % (port, proto, sorted(v))
            assert got["verdict"] == kernel, "%s/%d: evaluator %s, kernel %s (%s)" % (port, proto, got, kernel, plan)
        assert v[("tcp", 10250)]["table"] == table_10250, v[("tcp", 10250)]
        if manager:
            assert v[("tcp", 10250)]["manager"] == manager, v[("tcp", 10250)]
        assert pair.inside(pair.node, ["nft", "-s", "list", "ruleset"]).stdout == ruleset_before, "the dry run changed rules"
        planned = [c["target"] for c in plan.get("changes", [])]
        if manager is None:
            assert any(t.startswith("nft insert rule ip late input") or t.startswith("nft add rule ip late input")
                       for t in planned), planned
            assert any("30000-32767" in t for t in planned), "one rule for the NodePort range: %s" % planned
        else:
            assert any(t.startswith(manager + " -t filter -I INPUT") for t in planned), planned
            assert any("30000:32767" in t for t in planned), "one rule for the NodePort range: %s" % planned

        run = agentctl(pair, config)
        after = dict(zip(targets, pair.connect(targets)))
        assert all(x == "accept" for x in after.values()), "after the fix the kernel says %s (%s)" % (after, run)
        checks = {c["id"]: c for c in run["data"]["checks"]}
        for cid in ("Firewall-10250-tcp", "Firewall-10256-tcp", "Firewall-30000-32767-tcp", "Firewall-30000-32767-udp"):
            assert checks[cid]["status"] == "fixed", checks.get(cid)
        assert all(p["verdict"] == "accept" for p in run["data"]["firewall"]["ports"]), run["data"]["firewall"]

        again = agentctl(pair, config, "--dry-run")
        assert not again.get("changes"), "a second run plans %s" % again.get("changes")
        print("PASS %s: verdicts match the kernel before (%d ports), the fix opens them, a second run plans nothing"
              % (name, len(targets)))
    finally:
        pair.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
