#!/usr/bin/env python3
"""calico-network end to end through `agentctl --local`, against the test API
server and real kubectl, on real interfaces. Everything runs inside network
namespaces this test creates and removes:

  node (the agent's namespace): lo, eth1 192.168.56.11/24 (the cluster
        network), then eth0 10.0.2.15/24 (a NAT network, created later so its
        ifindex is higher and first-found takes it), default route via eth0.
        The test API server listens on the namespace's 127.0.0.1.
  peer: the other end of eth1, with 192.168.56.12 (node-2, a BGP listener on
        the probed port); 192.168.56.13 (node-3) answers nothing.

The cluster: node-1 (InternalIP 192.168.56.11, calico-node chose 10.0.2.15),
node-2, node-3, a manifest install (kube-system/calico-node, IP_AUTODETECTION_
METHOD=first-found, calico/node:v3.27.2), this node's calico-node pod not Ready
with BIRD's readiness message in an Unhealthy Event, an IPIP pool. Checked:
the dry run names the wrong pick and the setting that fixes it, shows the pod's
message and restarts and which peers answer on the BGP port, and changes
nothing; with allow_cluster_changes the DaemonSet's env is patched and real
`kubectl get ds -o yaml` shows exactly that variable changed; an operator
install is never patched (the kubectl patch for the Installation is printed).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ.get("NODEAGENT_BUILD")
SRC = os.environ.get("CALICO_NETWORK_SOURCE_DIR") or os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(SRC, "../.."))
if not BUILD:
    sys.exit("NODEAGENT_BUILD is not set")
AGENTCTL = os.path.join(BUILD, "bin/agentctl")
PLUGINS = os.path.join(BUILD, "plugins")
sys.path.insert(0, os.path.join(REPO, "tests/apiserver"))
BGP_PORT = 1790  # the probe's port parameter: a listener needs no privilege games

TAG = os.environ.setdefault("CN_E2E_TAG", str(os.getpid()))  # the inner run inherits it
NODE_NS = "cn-e2e-node-" + TAG
PEER_NS = "cn-e2e-peer-" + TAG


def sh(*args, check=True, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


def setup_namespaces():
    sh("ip", "netns", "add", NODE_NS)
    sh("ip", "netns", "add", PEER_NS)
    sh("ip", "-n", NODE_NS, "link", "set", "lo", "up")
    sh("ip", "-n", PEER_NS, "link", "set", "lo", "up")
    sh("ip", "-n", NODE_NS, "link", "add", "eth1", "type", "veth", "peer", "name", "p1", "netns", PEER_NS)
    sh("ip", "-n", NODE_NS, "addr", "add", "192.168.56.11/24", "dev", "eth1")
    sh("ip", "-n", NODE_NS, "link", "set", "eth1", "up")
    sh("ip", "-n", PEER_NS, "addr", "add", "192.168.56.12/24", "dev", "p1")
    sh("ip", "-n", PEER_NS, "link", "set", "p1", "up")
    sh("ip", "-n", NODE_NS, "link", "add", "eth0", "type", "veth", "peer", "name", "nat0")
    sh("ip", "-n", NODE_NS, "addr", "add", "10.0.2.15/24", "dev", "eth0")
    sh("ip", "-n", NODE_NS, "link", "set", "eth0", "up")
    sh("ip", "-n", NODE_NS, "link", "set", "nat0", "up")
    sh("ip", "-n", NODE_NS, "route", "add", "default", "via", "10.0.2.2", "dev", "eth0")


def teardown_namespaces():
    for ns in (NODE_NS, PEER_NS):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def env_of(ds):
    return {e["name"]: e for e in ds["spec"]["template"]["spec"]["containers"][0].get("env", [])}


def fixture(operator=False):
    def node(name, ip, calico_ip, kubelet="v1.29.3"):
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "annotations": {"projectcalico.org/IPv4Address": calico_ip}},
                "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                           "nodeInfo": {"kubeletVersion": kubelet},
                           "conditions": [{"type": "Ready", "status": "True"}]}}
    ns = "calico-system" if operator else "kube-system"
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet",
          "metadata": {"name": "calico-node", "namespace": ns, "labels": {"k8s-app": "calico-node"}},
          "spec": {"selector": {"matchLabels": {"k8s-app": "calico-node"}},
                   "template": {"metadata": {"labels": {"k8s-app": "calico-node"}},
                                "spec": {"containers": [{"name": "calico-node", "image": "docker.io/calico/node:v3.27.2",
                                                         "env": [{"name": "DATASTORE_TYPE", "value": "kubernetes"},
                                                                 {"name": "IP", "value": "autodetect"},
                                                                 {"name": "IP_AUTODETECTION_METHOD",
                                                                  "value": "first-found"},
                                                                 {"name": "CALICO_IPV4POOL_IPIP", "value": "Always"},
                                                                 {"name": "FELIX_IPINIPMTU", "value": "1480"}]}]}}}}
    items = [node("node-1", "192.168.56.11", "10.0.2.15/24"), node("node-2", "192.168.56.12", "192.168.56.12/24"),
             node("node-3", "192.168.56.13", "192.168.56.13/24"),
             {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "calico-system"}},
             ds,
             {"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": "calico-node-x7k2p", "namespace": ns, "labels": {"k8s-app": "calico-node"}},
              "spec": {"nodeName": "node-1", "containers": [{"name": "calico-node",
                                                               "image": "docker.io/calico/node:v3.27.2"}]},
              "status": {"phase": "Running",
                         "conditions": [{"type": "Ready", "status": "False"}],
                         "containerStatuses": [{"name": "calico-node", "ready": False, "restartCount": 3,
                                                "image": "docker.io/calico/node:v3.27.2",
                                                "state": {"running": {}}}]}},
             {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": "calico-node-x7k2p.1", "namespace": ns},
              "involvedObject": {"kind": "Pod", "namespace": ns, "name": "calico-node-x7k2p"},
              "reason": "Unhealthy", "type": "Warning", "count": 12,
              "message": "Readiness probe failed: calico/node is not ready: BIRD is not ready: "
                         "BGP not established with 192.168.56.12"},
             {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
              "metadata": {"name": "default-ipv4-ippool"},
              "spec": {"cidr": "10.244.0.0/16", "ipipMode": "Always", "vxlanMode": "Never", "natOutgoing": True}}]
    if operator:
        inst = {"apiVersion": "operator.tigera.io/v1", "kind": "Installation",
                "metadata": {"name": "default", "uid": "inst-uid-1"},
                "spec": {"calicoNetwork": {"nodeAddressAutodetectionV4": {"firstFound": True}}}}
        items.insert(0, inst)
        ds["metadata"]["ownerReferences"] = [{"apiVersion": "operator.tigera.io/v1", "kind": "Installation",
                                              "name": "default", "uid": "inst-uid-1", "controller": True}]
        env = ds["spec"]["template"]["spec"]["containers"][0]["env"]
        for e in env:
            if e["name"] == "IP_AUTODETECTION_METHOD":
                e["value"] = "first-found"
    return items


def inner():
    from testserver import TestServer
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    listener = subprocess.Popen(["ip", "netns", "exec", PEER_NS, "/usr/bin/python3", "-c",
                                 "import socket,sys\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                                 "s.bind(('192.168.56.12',%d))\ns.listen(16)\nprint('listening',flush=True)\n"
                                 "while True:\n  c,_=s.accept()\n  c.close()\n" % BGP_PORT],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "listening"
        for operator in (False, True):
            tmp = tempfile.mkdtemp(prefix="cn-e2e-")
            try:
                with TestServer(dir=os.path.join(tmp, "api")) as srv:
                    srv.post_objects(fixture(operator))
                    root = os.path.join(tmp, "root")
                    os.makedirs(os.path.join(root, "proc/sys/kernel/random"))
                    os.makedirs(os.path.join(root, "etc/nodeagent"))
                    with open(os.path.join(root, "proc/sys/kernel/random/boot_id"), "w") as f:
                        f.write("boot-1\n")
                    shutil.copy(srv.kubeconfig_token, os.path.join(root, "etc/nodeagent/kubeconfig"))
                    config = os.path.join(tmp, "agent.toml")
                    with open(config, "w") as f:
                        f.write('[agent]\nroot = "%s"\nstate_dir = "%s/state"\nsocket = "%s/agent.sock"\n'
                                'plugin_dir = "%s"\nnode_name = "node-1"\n' % (root, tmp, tmp, PLUGINS))

                    def run(*args):
                        r = subprocess.run([AGENTCTL, "--local", "--config", config, "-o", "json", "run",
                                            "calico-network", "--set", "bgp_port=%d" % BGP_PORT,
                                            "--set", "probe_timeout=\"1s\""] + list(args),
                                           capture_output=True, text=True, timeout=120)
                        try:
                            return r.returncode, json.loads(r.stdout)
                        except ValueError:
                            raise RuntimeError("agentctl said: %s %s" % (r.stdout, r.stderr))

                    label = "operator" if operator else "manifest"
                    ds_path = "/apis/apps/v1/namespaces/%s/daemonsets/calico-node" % (
                        "calico-system" if operator else "kube-system")
                    before = srv.ok("GET", ds_path)
                    rc, plan = run("--dry-run")
                    msgs = [f["message"] for f in plan.get("findings", [])]
                    print("\n".join("    " + m for m in msgs))
                    ad = plan["data"]["autodetection"]
                    check(rc == 1, "%s: dry run exits 1 while Calico picks the wrong address" % label)
                    check(ad["picks"]["first-found"]["address"] == "10.0.2.15/24",
                          "%s: first-found picks the NAT eth0, as calico-node would" % label)
                    check(ad["internal_ip"] == "192.168.56.11" and ad["ok"] is False,
                          "%s: compared with the InternalIP" % label)
                    check(any("interface=eth1" in m and "kubernetes-internal-ip" in m for m in msgs),
                          "%s: the finding names the setting that fixes it" % label)
                    check(any("BGP not established with 192.168.56.12" in m and "3 restart" in m for m in msgs),
                          "%s: the pod's readiness message and restart count" % label)
                    peers = {p["address"]: p["state"] for p in plan["data"]["bgp_peers"]}
                    check(peers.get("192.168.56.12") == "open" and peers.get("192.168.56.13") in ("timeout", "error"),
                          "%s: BGP port reachability per peer, from the real network: %s" % (label, peers))
                    check(srv.ok("GET", ds_path) == before, "%s: the dry run changed nothing" % label)

                    rc, out = run("--set", "allow_cluster_changes=true")
                    after = srv.ok("GET", ds_path)
                    if not operator:
                        y = srv.kubectl("get", "ds", "-n", "kube-system", "calico-node", "-o", "yaml")
                        import yaml
                        shown = yaml.safe_load(y.stdout)
                        env_b, env_a = env_of(before), env_of(shown)
                        check(env_a["IP_AUTODETECTION_METHOD"].get("value") == "kubernetes-internal-ip",
                              "manifest: kubectl get ds -o yaml shows IP_AUTODETECTION_METHOD=kubernetes-internal-ip")
                        check({k: v for k, v in env_a.items() if k != "IP_AUTODETECTION_METHOD"} ==
                              {k: v for k, v in env_b.items() if k != "IP_AUTODETECTION_METHOD"},
                              "manifest: every other variable is as it was")
                        check(any(c.get("target", "").endswith("kube-system/calico-node") for c in out["changes"]),
                              "manifest: the run lists the DaemonSet change")
                        rc2, again = run("--dry-run", "--set", "allow_cluster_changes=true")
                        check(not [c for c in again.get("changes", []) if "calico-node" in c.get("target", "")],
                              "manifest: a second run plans no DaemonSet change")
                    else:
                        check(after == before, "operator: the operator's DaemonSet is never patched")
                        msgs = [f["message"] for f in out.get("findings", [])]
                        check(any("kubectl patch installation default" in m for m in msgs),
                              "operator: the kubectl patch for the Installation is printed")
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    finally:
        listener.kill()
    if failures:
        sys.exit("FAIL: %d check(s): %s" % (len(failures), "; ".join(failures)))
    print("PASS")


def main():
    if "--inner" in sys.argv:
        inner()
        return
    for path in (AGENTCTL, os.path.join(PLUGINS, "calico_network.so")):
        if not os.path.exists(path):
            sys.exit("FAIL: %s is not built" % path)
    if not shutil.which("ip") or not shutil.which("kubectl"):
        sys.exit("FAIL: ip and kubectl are needed")
    try:
        setup_namespaces()
        r = subprocess.run(["ip", "netns", "exec", NODE_NS, "/usr/bin/python3", os.path.abspath(__file__), "--inner"],
                           timeout=280)
        sys.exit(r.returncode)
    finally:
        teardown_namespaces()


if __name__ == "__main__":
    main()
