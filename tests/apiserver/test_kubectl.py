#!/usr/bin/python3
"""Real kubectl (/usr/bin/kubectl, dispatching on the server's /version) against
the test API server: get, cordon/uncordon, drain with a blocking PDB, leases,
ConfigMaps and Calico custom resources with apply, auth can-i, with the
client-cert and the token kubeconfig."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_nodes as mk  # noqa: E402
from testserver import KUBECTL, ServerTestCase, TestServer  # noqa: E402

LEASE_YAML = """apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: nodeagent-reboot
  namespace: kube-system
spec:
  holderIdentity: worker-1
  leaseDurationSeconds: 60
  acquireTime: "2025-01-01T00:00:00.000000Z"
  renewTime: "2025-01-01T00:00:00.000000Z"
"""

CALICO_YAML = """apiVersion: v1
kind: ConfigMap
metadata:
  name: kubeadm-config
  namespace: kube-system
data:
  ClusterConfiguration: |
    networking:
      podSubnet: 192.168.0.0/16
---
apiVersion: crd.projectcalico.org/v1
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: 192.168.0.0/16
  ipipMode: Always
  natOutgoing: true
  nodeSelector: all()
---
apiVersion: operator.tigera.io/v1
kind: Installation
metadata:
  name: default
spec:
  calicoNetwork:
    nodeAddressAutodetectionV4:
      firstFound: true
"""


class KubectlPresent:
    """Real kubectl is how we know the test API server is faithful: without
    it these tests fail loudly instead of skipping (a skip would pass CI)."""

    def setUp(self):
        if not os.access(KUBECTL, os.X_OK):
            self.fail(f"{KUBECTL} is missing: these tests need the real kubectl (1.27-1.33 dispatcher), "
                      "which every machine here has; see tests/apiserver/README.md")
        super().setUp()


class KubectlTest(KubectlPresent, ServerTestCase):
    terminating_seconds = 0.3

    def kubectl(self, *args, kubeconfig="cert", ok=True):
        r = self.srv.kubectl(*args, kubeconfig=kubeconfig)
        if ok:
            self.assertEqual(r.returncode, 0, "kubectl %s failed:\n%s\n%s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def cluster(self):
        """Two workers; on worker-1: 2 ReplicaSet pods under a PDB (minAvailable 1), a DaemonSet
        pod, a pod with emptyDir, an unmanaged pod and a mirror pod."""
        rs, ds = mk.replicaset("web", 2), mk.daemonset("node-agent")
        items = [mk.node("worker-1", labels={"node-role.kubernetes.io/worker": ""}), mk.node("worker-2"), rs, ds,
                 mk.pod("web-aaaaa", "worker-1", owner=rs), mk.pod("web-bbbbb", "worker-1", owner=rs),
                 mk.pod("node-agent-ccccc", "worker-1", "kube-system", owner=ds),
                 mk.pod("scratch", "worker-1", empty_dir=True),
                 mk.pod("lonely", "worker-1"),
                 mk.pdb("web", {"app": "web"}, min_available=1)]
        self.srv.post_objects(items)

    def test_get_nodes_and_pods(self):
        self.cluster()
        out = self.kubectl("get", "nodes").stdout.splitlines()
        self.assertEqual(out[0].split(), ["NAME", "STATUS", "ROLES", "AGE", "VERSION"])
        self.assertEqual(out[1].split()[:3], ["worker-1", "Ready", "worker"])
        self.assertEqual(out[2].split()[:3], ["worker-2", "Ready", "<none>"])
        self.assertEqual(out[1].split()[4], "v1.32.0")
        out = self.kubectl("get", "pods", "-A").stdout.splitlines()
        self.assertEqual(out[0].split()[:3], ["NAMESPACE", "NAME", "READY"])
        rows = {tuple(line.split()[:2]) for line in out[1:]}
        self.assertIn(("kube-system", "node-agent-ccccc"), rows)
        self.assertEqual(len(rows), 5)
        nodes = json.loads(self.kubectl("get", "nodes", "-o", "json").stdout)
        self.assertEqual(nodes["kind"], "List")
        self.assertEqual([n["metadata"]["name"] for n in nodes["items"]], ["worker-1", "worker-2"])
        self.assertTrue(nodes["items"][0]["status"]["nodeInfo"]["bootID"])
        out = self.kubectl("get", "pdb").stdout.splitlines()
        self.assertEqual(out[1].split()[:4], ["web", "1", "N/A", "1"])

    def test_cordon_and_uncordon(self):
        self.cluster()
        self.assertIn("node/worker-1 cordoned", self.kubectl("cordon", "worker-1").stdout)
        node = self.srv.ok("GET", "/api/v1/nodes/worker-1")
        self.assertTrue(node["spec"]["unschedulable"])
        self.assertIn("Ready,SchedulingDisabled", self.kubectl("get", "nodes").stdout)
        patch = [r for r in self.srv.requests() if r["method"] == "PATCH"][0]
        self.assertEqual(patch["content_type"], "application/strategic-merge-patch+json")
        self.assertEqual(json.loads(patch["body"]), {"spec": {"unschedulable": True}})
        self.assertIn("node/worker-1 uncordoned", self.kubectl("uncordon", "worker-1").stdout)
        node = self.srv.ok("GET", "/api/v1/nodes/worker-1")
        self.assertFalse(node["spec"].get("unschedulable", False))

    def test_drain_with_blocking_pdb(self):
        self.cluster()
        start = time.monotonic()
        r = self.kubectl("drain", "worker-1", "--ignore-daemonsets", "--delete-emptydir-data", "--force",
                         "--timeout=60s")
        took = time.monotonic() - start
        self.assertIn("node/worker-1 drained", r.stdout)
        self.assertIn("violate the pod's disruption budget", r.stderr)   # kubectl retried after 429
        node = self.srv.ok("GET", "/api/v1/nodes/worker-1")
        self.assertTrue(node["spec"]["unschedulable"])
        pods = self.srv.ok("GET", "/api/v1/pods")["items"]
        on1 = [p["metadata"]["name"] for p in pods if p["spec"].get("nodeName") == "worker-1"]
        self.assertEqual(on1, ["node-agent-ccccc"])
        web = [p for p in pods if p["metadata"].get("labels", {}).get("app") == "web"]
        self.assertEqual(len(web), 2)
        self.assertTrue(all(p["spec"]["nodeName"] == "worker-2" for p in web))
        self.assertTrue(all(p["metadata"]["name"] not in ("web-aaaaa", "web-bbbbb") for p in web))
        names = {p["metadata"]["name"] for p in pods}
        self.assertFalse({"scratch", "lonely"} & names)
        log = self.srv.requests()
        evictions = [(r["path"].split("/")[-2], r["status"]) for r in log if r["path"].endswith("/eviction")]
        self.assertIn(429, [s for _, s in evictions])
        self.assertEqual(sorted({n for n, s in evictions if s == 201}), ["lonely", "scratch", "web-aaaaa", "web-bbbbb"])
        self.assertTrue(any(r["path"] == "/apis/apps/v1/namespaces/kube-system/daemonsets/node-agent" for r in log))
        self.assertLess(took, 30)

    def test_leases_with_cert_and_token(self):
        path = os.path.join(self.srv.dir, "lease.yaml")
        with open(path, "w") as f:
            f.write(LEASE_YAML)
        for kc in ("cert", "token"):
            r = self.kubectl("create", "-f", path, kubeconfig=kc)
            self.assertIn("lease.coordination.k8s.io/nodeagent-reboot created", r.stdout)
            r = self.kubectl("create", "-f", path, kubeconfig=kc, ok=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("AlreadyExists", r.stderr)
            out = self.kubectl("get", "lease", "-n", "kube-system", kubeconfig=kc).stdout.splitlines()
            self.assertEqual(out[0].split(), ["NAME", "HOLDER", "AGE"])
            self.assertEqual(out[1].split()[:2], ["nodeagent-reboot", "worker-1"])
            got = json.loads(self.kubectl("get", "lease", "-n", "kube-system", "nodeagent-reboot", "-o", "json",
                                          kubeconfig=kc).stdout)
            self.assertEqual(got["spec"]["leaseDurationSeconds"], 60)
            r = self.kubectl("delete", "lease", "-n", "kube-system", "nodeagent-reboot", kubeconfig=kc)
            self.assertIn('"nodeagent-reboot" deleted', r.stdout)
            r = self.kubectl("get", "lease", "-n", "kube-system", "nodeagent-reboot", kubeconfig=kc, ok=False)
            self.assertIn("NotFound", r.stderr)
        agents = {r["user_agent"].split(" ")[0].split("/")[0] for r in self.srv.requests()}
        self.assertEqual(agents, {"kubectl", "kubectl-dispatcher"})

    def test_configmaps_and_calico_custom_resources(self):
        """A namespaced ConfigMap and Calico's cluster-scoped IPPool and Installation: kubectl
        applies, gets, patches and deletes them as on a real cluster."""
        path = os.path.join(self.srv.dir, "objects.yaml")
        with open(path, "w") as f:
            f.write(CALICO_YAML)
        r = self.kubectl("apply", "-f", path)
        for line in ("configmap/kubeadm-config created", "ippool.crd.projectcalico.org/default-ipv4-ippool created",
                     "installation.operator.tigera.io/default created"):
            self.assertIn(line, r.stdout)
        out = self.kubectl("get", "configmaps", "-n", "kube-system").stdout.splitlines()
        self.assertEqual(out[0].split()[0], "NAME")
        self.assertEqual(out[1].split()[0], "kubeadm-config")
        pools = json.loads(self.kubectl("get", "ippools.crd.projectcalico.org", "-o", "json").stdout)
        self.assertEqual([p["metadata"]["name"] for p in pools["items"]], ["default-ipv4-ippool"])
        self.assertEqual(pools["items"][0]["spec"]["cidr"], "192.168.0.0/16")
        self.assertNotIn("namespace", pools["items"][0]["metadata"])
        inst = json.loads(self.kubectl("get", "installation", "default", "-o", "json").stdout)
        self.assertEqual(inst["spec"]["calicoNetwork"]["nodeAddressAutodetectionV4"], {"firstFound": True})
        # Applying a change again patches (a merge patch for the custom resource).
        with open(path, "w") as f:
            f.write(CALICO_YAML.replace("cidr: 192.168.0.0/16", "cidr: 10.244.0.0/16"))
        r = self.kubectl("apply", "-f", path)
        self.assertIn("ippool.crd.projectcalico.org/default-ipv4-ippool configured", r.stdout)
        self.assertIn("configmap/kubeadm-config unchanged", r.stdout)
        pool = self.srv.ok("GET", "/apis/crd.projectcalico.org/v1/ippools/default-ipv4-ippool")
        self.assertEqual(pool["spec"]["cidr"], "10.244.0.0/16")
        patches = [q for q in self.srv.requests() if q["method"] == "PATCH"]
        self.assertEqual([q["content_type"] for q in patches], ["application/merge-patch+json"])
        self.kubectl("delete", "ippool", "default-ipv4-ippool")
        r = self.kubectl("get", "ippool", "default-ipv4-ippool", ok=False)
        self.assertIn("NotFound", r.stderr)

    def test_auth_can_i_follows_rbac_control(self):
        # (kubectl reads "pods/eviction" as TYPE/NAME; the subresource needs --subresource)
        can = ("auth", "can-i", "create", "pods", "--subresource=eviction")
        self.assertEqual(self.kubectl(*can).stdout.strip(), "yes")
        self.srv.rbac([{"verb": "create", "resource": "pods", "subresource": "eviction"}])
        r = self.kubectl(*can, ok=False)
        self.assertEqual(r.stdout.strip(), "no")
        self.assertEqual(self.kubectl("auth", "can-i", "patch", "nodes").stdout.strip(), "yes")

    def test_rbac_objects_authorize_the_node_identity(self):
        """kubectl applies RBAC objects; the node token (outside system:masters) may do what they grant."""
        rbac = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
  - apiGroups: [""]
    resources: [nodes, pods/eviction]
    verbs: [get, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects: [{kind: Group, apiGroup: rbac.authorization.k8s.io, name: "nodeagent:nodes"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: leases, namespace: kube-system}
rules: [{apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: leases, namespace: kube-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: leases}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: "nodeagent:node:test"}]
"""
        self.srv.post_objects([mk.node("n1")])
        denied = self.kubectl("get", "node", "n1", kubeconfig="node", ok=False)
        self.assertNotEqual(denied.returncode, 0)
        self.assertIn('User "nodeagent:node:test" cannot get resource "nodes"', denied.stderr)
        r = self.srv.kubectl("apply", "-f", "-", input=rbac)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("rolebinding.rbac.authorization.k8s.io/leases created", r.stdout)
        self.kubectl("get", "node", "n1", kubeconfig="node")
        self.kubectl("get", "leases", "-n", "kube-system", kubeconfig="node")
        for args, want in ((("create", "pods", "--subresource=eviction"), "yes"), (("delete", "nodes"), "no"),
                           (("get", "leases", "-n", "kube-system"), "yes"), (("get", "leases", "-n", "default"), "no"),
                           (("update", "leases", "-n", "kube-system"), "no")):
            r = self.kubectl("auth", "can-i", *args, kubeconfig="node", ok=False)
            self.assertEqual(r.stdout.strip(), want, args)
        r = self.kubectl("get", "leases", "-n", "default", kubeconfig="node", ok=False)
        self.assertIn("cannot list resource \"leases\" in API group \"coordination.k8s.io\" in the namespace "
                      "\"default\"", r.stderr)


class KubectlMinorTest(KubectlPresent, unittest.TestCase):
    def test_minor_selects_kubectl_version(self):
        with TestServer(minor=30) as srv:
            r = srv.kubectl("version", "-o", "json")
            self.assertEqual(r.returncode, 0, r.stderr)
            v = json.loads(r.stdout)
            self.assertEqual(v["serverVersion"]["gitVersion"], "v1.30.0")
            srv.post_objects([mk.node("n1")])
            r = srv.kubectl("get", "nodes", "-o", "name")
            self.assertEqual(r.stdout.strip(), "node/n1")
            self.assertTrue(any("kubectl/v1.30" in q["user_agent"] for q in srv.requests()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
