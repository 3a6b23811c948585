#!/usr/bin/env python3
"""The cluster side of calico-network against the test API server, with real
kubectl as the witness: calico_network_cluster reads a manifest install
(kube-system DaemonSet with env) and an operator install (calico-system
DaemonSet owned by Installation default), this Node's addresses and
calico-node's annotation, a calico-node pod that is not Ready with its
Unhealthy Event, and probes the other nodes' BGP port (loopback addresses
with a listener this test opens, and one where nothing listens).
--set-method patches the DaemonSet's env: `kubectl get ds -o yaml` must show
that one variable changed and nothing else; an edit made meanwhile makes the
patch fail cleanly; the operator's DaemonSet is refused and the printed
`kubectl patch installation default` command works. A missing DaemonSet,
an API error and a missing kubeconfig are each reported while the other
parts still run."""
import copy
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import unittest

import yaml  # /usr/bin/python3's (python3-yaml)

BUILD = os.environ.get("NODEAGENT_BUILD")
SRC = os.environ.get("CALICO_NETWORK_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if not BUILD:
    sys.exit("NODEAGENT_BUILD is not set")
TOOL = os.path.join(BUILD, "plugins/calico_network/calico_network_cluster")
if not os.access(TOOL, os.X_OK):
    sys.exit(f"missing {TOOL}: build calico_network_cluster first")
sys.path.insert(0, os.path.join(SRC, "..", "..", "tests", "apiserver"))
from testserver import ServerTestCase  # noqa: E402

SELF = "worker-1"
BIRD_MESSAGE = ("Readiness probe failed: calico/node is not ready: BIRD is not ready: "
                "BGP not established with 127.0.0.2")


def env_manifest():
    return [{"name": "DATASTORE_TYPE", "value": "kubernetes"},
            {"name": "CLUSTER_TYPE", "value": "k8s,bgp"},
            {"name": "IP", "value": "autodetect"},
            {"name": "IP_AUTODETECTION_METHOD", "value": "first-found"},
            {"name": "CALICO_IPV4POOL_CIDR", "value": "10.244.0.0/16"},
            {"name": "NODENAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]


def daemonset(namespace, env, owner=None):
    md = {"name": "calico-node", "namespace": namespace, "labels": {"k8s-app": "calico-node"}}
    if owner:
        md["ownerReferences"] = [owner]
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": md,
            "spec": {"selector": {"matchLabels": {"k8s-app": "calico-node"}},
                     "template": {"metadata": {"labels": {"k8s-app": "calico-node"}},
                                  "spec": {"hostNetwork": True,
                                           "initContainers": [{"name": "install-cni", "image": "calico/cni:v3.27.3"}],
                                           "containers": [{"name": "calico-node", "image": "calico/node:v3.27.3",
                                                           "env": env}]}}}}


def node(name, internal_ip, annotation=None):
    md = {"name": name, "annotations": {}}
    if annotation:
        md["annotations"]["projectcalico.org/IPv4Address"] = annotation
    return {"apiVersion": "v1", "kind": "Node", "metadata": md,
            "status": {"addresses": [{"type": "InternalIP", "address": internal_ip},
                                     {"type": "Hostname", "address": name}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0"}}}


def calico_pod(namespace, name, node_name, ready):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"k8s-app": "calico-node"}},
            "spec": {"nodeName": node_name, "containers": [{"name": "calico-node", "image": "calico/node:v3.27.3"}]},
            "status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "containerStatuses": [{"name": "calico-node", "ready": ready, "restartCount": 4,
                                              "image": "calico/node:v3.27.3", "imageID": "", "started": True,
                                              "state": {"running": {"startedAt": "2026-12-06T20:00:00Z"}}}]}}


def unhealthy_event(namespace, pod, message, when):
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{pod}.{abs(hash(message)) % 100000}", "namespace": namespace},
            "involvedObject": {"kind": "Pod", "name": pod, "namespace": namespace},
            "reason": "Unhealthy", "type": "Warning", "message": message, "count": 12,
            "firstTimestamp": "2026-12-06T20:00:00Z", "lastTimestamp": when}


OPERATOR_OWNER = {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "name": "default",
                  "uid": "7d2c3b1a-0000-4000-8000-00000000aa01", "controller": True, "blockOwnerDeletion": True}


class ClusterTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        # Peers: 127.0.0.2 has a listener (open), 127.0.0.3 has none on that port (refused).
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.2", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.addCleanup(self.listener.close)

    def tool(self, *args, kubeconfig=True):
        cmd = [TOOL, "--node", SELF, "--port", str(self.port), "--timeout-ms", "1500"]
        if kubeconfig:
            cmd += ["--kubeconfig", self.srv.kubeconfig_cert]
        r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60)
        try:
            out = json.loads(r.stdout)
        except ValueError:
            self.fail(f"tool printed no JSON (exit {r.returncode}): {r.stdout}\n{r.stderr}")
        return r.returncode, out

    def kubectl_yaml(self, *args):
        r = self.srv.kubectl("get", *args, "-o", "yaml")
        self.assertEqual(r.returncode, 0, r.stderr)
        return yaml.safe_load(r.stdout)

    def post_cluster(self, operator=False):
        ns = "calico-system" if operator else "kube-system"
        objs = [node(SELF, "192.168.56.11", "10.0.2.15/24"),
                node("worker-2", "192.168.56.12", "127.0.0.2/8"),
                node("worker-3", "127.0.0.3"),
                calico_pod(ns, "calico-node-x7k2p", SELF, ready=False),
                calico_pod(ns, "calico-node-b9q4r", "worker-2", ready=True),
                unhealthy_event(ns, "calico-node-x7k2p", BIRD_MESSAGE, "2026-12-06T20:30:00Z"),
                unhealthy_event(ns, "calico-node-x7k2p",
                                "Readiness probe failed: calico/node is not ready: felix is not ready",
                                "2026-12-06T20:05:00Z")]
        if operator:
            objs.append(daemonset(ns, [{"name": "IP", "value": "autodetect"},
                                       {"name": "IP_AUTODETECTION_METHOD", "value": "first-found"}],
                                  owner=OPERATOR_OWNER))
            objs.append({"apiVersion": "operator.tigera.io/v1", "kind": "Installation",
                         "metadata": {"name": "default"},
                         "spec": {"calicoNetwork": {"nodeAddressAutodetectionV4": {"firstFound": True}}}})
        else:
            objs.append(daemonset(ns, env_manifest()))
        self.srv.post_objects(objs)

    # -- reading ------------------------------------------------------------------------------

    def test_reads_manifest_install_node_pod_and_probes_peers(self):
        self.post_cluster()
        rc, out = self.tool()
        self.assertEqual(rc, 0, out)
        inst = out["install"]
        self.assertTrue(inst["found"])
        self.assertEqual(inst["namespace"], "kube-system")
        self.assertFalse(inst["operator_managed"])
        self.assertEqual(inst["image"], "calico/node:v3.27.3")
        self.assertEqual(inst["method_v4"], {"known": True, "value": "first-found",
                                             "source": "DaemonSet kube-system/calico-node env IP_AUTODETECTION_METHOD"})
        self.assertEqual(inst["env"]["IP"]["value"], "autodetect")
        self.assertEqual(out["node"]["ipv4_annotation"], "10.0.2.15/24")
        self.assertEqual(out["node"]["addresses"][0], {"type": "InternalIP", "address": "192.168.56.11"})
        pod = out["pod"]
        self.assertEqual(pod["name"], "calico-node-x7k2p")
        self.assertFalse(pod["ready"])
        self.assertEqual(pod["restart_count"], 4)
        self.assertEqual(pod["readiness_message"], BIRD_MESSAGE)
        self.assertEqual(out["peers"], ["127.0.0.2", "127.0.0.3"])
        self.assertEqual([p["state"] for p in out["probe"]], ["open", "refused"])
        # Only reads were sent.
        methods = {r["method"] for r in self.srv.requests()}
        self.assertEqual(methods, {"GET"})

    def test_ready_pod_is_not_probed(self):
        self.post_cluster()
        self.srv.pod_status("kube-system", "calico-node-x7k2p", ready=True)
        rc, out = self.tool()
        self.assertEqual(rc, 0, out)
        self.assertTrue(out["pod"]["ready"])
        self.assertNotIn("probe", out)

    def test_missing_daemonset_api_error_and_no_kubeconfig_are_findings(self):
        self.post_cluster()
        self.srv.kubectl("delete", "ds", "-n", "kube-system", "calico-node")
        rc, out = self.tool()
        self.assertEqual(rc, 0, out)
        self.assertEqual(out["install"], {"found": False,
                                          "not_found": "DaemonSet calico-node not found in kube-system, calico-system"})
        self.assertEqual(out["node"]["ipv4_annotation"], "10.0.2.15/24")  # the other parts still ran
        self.assertEqual(out["pod"]["readiness_message"], BIRD_MESSAGE)

        self.srv.fault("/daemonsets/", status=403, count=-1)
        rc, out = self.tool()
        self.assertIn("error", out["install"])
        self.assertIn("reading DaemonSet kube-system/calico-node", out["install"]["error"])
        self.assertEqual(out["node"]["name"], SELF)
        self.assertEqual(out["pod"]["restart_count"], 4)

        rc, out = self.tool(kubeconfig=False)
        self.assertEqual(rc, 1)
        self.assertIn("no kubeconfig", out["kube_error"])

    # -- fixing -------------------------------------------------------------------------------

    def test_set_method_patches_only_that_variable(self):
        self.post_cluster()
        before = self.kubectl_yaml("ds", "-n", "kube-system", "calico-node")
        rc, out = self.tool("--set-method", "interface=eth1")
        self.assertEqual(rc, 0, out)
        s = out["set_method"]
        self.assertTrue(s["applied"], s)
        self.assertEqual(s["plan"]["object"], "kube:daemonsets/kube-system/calico-node")
        self.assertIn("every calico-node pod restarts", s["plan"]["description"])
        after = self.kubectl_yaml("ds", "-n", "kube-system", "calico-node")

        env = after["spec"]["template"]["spec"]["containers"][0]["env"]
        self.assertEqual(env[3], {"name": "IP_AUTODETECTION_METHOD", "value": "interface=eth1"})
        want = copy.deepcopy(before)
        want["spec"]["template"]["spec"]["containers"][0]["env"][3]["value"] = "interface=eth1"
        for doc in (want, after):  # what the server itself changes on a write
            for key in ("resourceVersion", "generation", "managedFields"):
                doc["metadata"].pop(key, None)
            doc.pop("status", None)
        self.assertEqual(after, want)
        self.assertNotEqual(before["metadata"]["resourceVersion"],
                            self.kubectl_yaml("ds", "-n", "kube-system", "calico-node")["metadata"]["resourceVersion"])

        # The same value again: nothing sent.
        self.srv.clear_requests()
        rc, out = self.tool("--set-method", "interface=eth1")
        self.assertEqual(rc, 0, out)
        self.assertTrue(out["set_method"]["plan"]["unchanged"])
        self.assertNotIn("PATCH", {r["method"] for r in self.srv.requests()})

    def test_set_method_replaces_value_from(self):
        env = env_manifest()
        env[3] = {"name": "IP_AUTODETECTION_METHOD",
                  "valueFrom": {"configMapKeyRef": {"name": "calico-config", "key": "ip_method"}}}
        self.srv.post_objects([daemonset("kube-system", env), node(SELF, "192.168.56.11"),
                               {"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "calico-config", "namespace": "kube-system"},
                                "data": {"ip_method": "can-reach=192.168.56.1"}}])
        rc, out = self.tool()
        self.assertEqual(out["install"]["method_v4"]["value"], "can-reach=192.168.56.1")
        self.assertIn("from ConfigMap kube-system/calico-config key ip_method", out["install"]["method_v4"]["source"])
        rc, out = self.tool("--set-method", "kubernetes-internal-ip")
        self.assertEqual(rc, 0, out)
        after = self.kubectl_yaml("ds", "-n", "kube-system", "calico-node")
        self.assertEqual(after["spec"]["template"]["spec"]["containers"][0]["env"][3],
                         {"name": "IP_AUTODETECTION_METHOD", "value": "kubernetes-internal-ip"})

    def test_concurrent_edit_makes_the_patch_fail_cleanly(self):
        self.post_cluster()
        # Hold the tool's PATCH for a while at the server; meanwhile someone edits the variable.
        self.srv.fault("/daemonsets/calico-node$", method="PATCH", count=1, delay=3)
        proc = subprocess.Popen([TOOL, "--node", SELF, "--kubeconfig", self.srv.kubeconfig_cert, "--port",
                                 str(self.port), "--timeout-ms", "500", "--set-method", "interface=eth1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while not any(r["method"] == "GET" and r["path"].endswith("/daemonsets/calico-node")
                      for r in self.srv.requests()):
            self.assertLess(time.time(), deadline, "the tool never read the DaemonSet")
            time.sleep(0.05)
        edit = self.srv.kubectl("patch", "ds", "-n", "kube-system", "calico-node", "-p", json.dumps(
            {"spec": {"template": {"spec": {"containers": [
                {"name": "calico-node", "env": [{"name": "IP_AUTODETECTION_METHOD", "value": "can-reach=10.0.0.1"}]}]}}}}))
        self.assertEqual(edit.returncode, 0, edit.stderr)
        stdout, stderr = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 1, stdout + stderr)
        s = json.loads(stdout)["set_method"]
        self.assertFalse(s["applied"])
        self.assertIn("changed since it was read", s["error"])
        after = self.kubectl_yaml("ds", "-n", "kube-system", "calico-node")
        env = {e["name"]: e.get("value") for e in after["spec"]["template"]["spec"]["containers"][0]["env"]}
        self.assertEqual(env["IP_AUTODETECTION_METHOD"], "can-reach=10.0.0.1")  # the other edit stands

    def test_operator_install_is_read_from_installation_and_never_written(self):
        self.post_cluster(operator=True)
        rc, out = self.tool()
        self.assertEqual(rc, 0, out)
        inst = out["install"]
        self.assertEqual(inst["namespace"], "calico-system")
        self.assertTrue(inst["operator_managed"])
        self.assertEqual(inst["method_v4"]["value"], "first-found")
        self.assertEqual(inst["method_v4"]["source"],
                         "Installation default spec.calicoNetwork.nodeAddressAutodetectionV4")
        self.assertEqual(out["pod"]["namespace"], "calico-system")
        self.assertEqual(out["pod"]["readiness_message"], BIRD_MESSAGE)

        before = self.kubectl_yaml("ds", "-n", "calico-system", "calico-node")
        self.srv.clear_requests()
        rc, out = self.tool("--set-method", "interface=eth1")
        self.assertEqual(rc, 1, out)
        s = out["set_method"]
        self.assertIn("managed by tigera/operator", s["error"])
        self.assertNotIn("PATCH", {r["method"] for r in self.srv.requests()})
        after = self.kubectl_yaml("ds", "-n", "calico-system", "calico-node")
        self.assertEqual(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"])

        # The printed command works with real kubectl and sets exactly one method.
        cmd = shlex.split(s["operator_command"])
        self.assertEqual(cmd[:3], ["kubectl", "patch", "installation"])
        r = self.srv.kubectl(*cmd[1:])
        self.assertEqual(r.returncode, 0, r.stderr)
        installation = self.kubectl_yaml("installation", "default")
        self.assertEqual(installation["spec"]["calicoNetwork"]["nodeAddressAutodetectionV4"], {"interface": "eth1"})
        rc, out = self.tool()
        self.assertEqual(out["install"]["method_v4"]["value"], "interface=eth1")
        self.assertTrue(any("not reconciled" in n for n in out["install"]["notes"]), out["install"]["notes"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
