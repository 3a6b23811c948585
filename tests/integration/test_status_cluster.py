"""`agentctl status` with the cluster's view of the node, against the test
API server (tests/apiserver) and the real daemon: a node cordoned by
drain-and-reboot (its nodeagent.io/ annotations), a NodeAgent condition
beside the kubelet's, the reboot lock's Lease held by another node, two
Events from nodeagent and one from the kubelet; human output and -o json,
through a node identity bound by the shipped conf/rbac.yaml only. Without a
kubeconfig: one line, exit 0. With the API server gone: a clear line, and
the exit code is still the daemon part's."""

import json
import os
import shutil
import subprocess
import sys
import unittest

from harness import Agent

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "../.."))
sys.path.insert(0, os.path.join(REPO, "tests/apiserver"))
from testserver import TestServer  # noqa: E402


def fixture():
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "node-1", "annotations": {
                "nodeagent.io/run-id": "run-42", "nodeagent.io/action": "drain-and-reboot",
                "nodeagent.io/phase": "drain", "nodeagent.io/since": "2026-01-01T00:00:00Z"}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok"},
                {"type": "NodeAgentCalicoNetwork", "status": "True", "reason": "NodeagentCheckFailing",
                 "message": "nm-device-managed", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
    other = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-2"}}
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "nodeagent-reboot-lock-0", "namespace": "kube-system"},
             "spec": {"holderIdentity": "node-2", "leaseDurationSeconds": 1800,
                      "renewTime": "2026-01-01T00:05:00.000000Z"}}

    def event(name, component, reason, time):
        return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "default"},
                "involvedObject": {"kind": "Node", "name": "node-1"}, "source": {"component": component},
                "reportingComponent": component, "reason": reason, "type": "Normal",
                "message": reason + " by the test", "lastTimestamp": time, "count": 1}

    return [node, other, lease,
            event("node-1.a", "nodeagent", "NodeagentCordoned", "2026-01-01T00:00:01Z"),
            event("node-1.b", "nodeagent", "NodeagentDrained", "2026-01-01T00:00:02Z"),
            event("node-1.c", "kubelet", "Starting", "2026-01-01T00:00:03Z")]


class StatusClusterTest(unittest.TestCase):
    def agent(self, **kw):
        a = Agent(agent_extra='node_name = "node-1"\n', **kw)
        self.addCleanup(a.cleanup)
        return a

    def test_cluster_view_human_and_json(self):
        srv = TestServer()
        srv.start()
        self.addCleanup(srv.cleanup)
        srv.post_objects(fixture())
        rbac = srv.kubectl("apply", "-f", os.path.join(REPO, "conf/rbac.yaml"))
        self.assertEqual(rbac.returncode, 0, rbac.stderr)
        agent = self.agent()
        os.makedirs(os.path.join(agent.root, "etc/nodeagent"))
        # The node's own identity: only what conf/rbac.yaml grants it.
        shutil.copy(srv.kubeconfig_node, os.path.join(agent.root, "etc/nodeagent/kubeconfig"))
        agent.start()

        r = agent.ctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertIn("node node-1: cordoned by nodeagent (drain-and-reboot run run-42, phase drain", out)
        self.assertIn("condition NodeAgentCalicoNetwork=True (NodeagentCheckFailing): nm-device-managed", out)
        self.assertNotIn("KubeletReady", out)
        self.assertIn("reboot lock kube-system/nodeagent-reboot-lock-0: held by node-2", out)
        self.assertIn("NodeagentDrained", out)
        self.assertIn("NodeagentCordoned", out)
        self.assertLess(out.index("NodeagentDrained"), out.index("NodeagentCordoned"))  # newest first
        self.assertNotIn("Starting", out)
        self.assertNotIn("cannot read", out)

        j = agent.ctl_json("status")
        self.assertIn("tasks", j)  # the daemon part is unchanged
        c = j["cluster"]
        self.assertTrue(c["available"])
        self.assertEqual(c["schedulable"], False)
        self.assertEqual(c["cordoned_by"], "nodeagent")
        self.assertEqual(c["nodeagent_run"]["run_id"], "run-42")
        self.assertEqual([x["type"] for x in c["conditions"]], ["NodeAgentCalicoNetwork"])
        self.assertEqual(c["reboot_lock"][0]["holder"], "node-2")
        self.assertFalse(c["reboot_lock"][0]["ours"])
        self.assertEqual([e["reason"] for e in c["events"]], ["NodeagentDrained", "NodeagentCordoned"])
        self.assertEqual(c["errors"], [])

        # --no-cluster: the daemon's part only, not one API request.
        srv.clear_requests()
        r = agent.ctl("status", "--no-cluster")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("cluster", r.stdout)
        self.assertNotIn("cluster", agent.ctl_json("status", "--no-cluster"))
        self.assertEqual(srv.requests(), [])

        # The API server gone: a clear line, exit code of the daemon part.
        srv.stop()
        r = agent.ctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("cannot read node node-1", r.stdout)
        self.assertIn("tasks", agent.ctl_json("status"))

    def test_no_kubeconfig_is_one_line(self):
        agent = self.agent()
        agent.start()
        r = agent.ctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [l for l in r.stdout.splitlines() if l.startswith("cluster")]
        self.assertEqual(len(lines), 1, r.stdout)
        self.assertIn("cluster: no kubeconfig (/etc/nodeagent/kubeconfig does not exist", lines[0])
        self.assertEqual(r.stderr, "")
        j = agent.ctl_json("status")
        self.assertFalse(j["cluster"]["available"])
        self.assertIn("no kubeconfig", j["cluster"]["message"])


if __name__ == "__main__":
    unittest.main()
