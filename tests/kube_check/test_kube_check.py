#!/usr/bin/env python3
"""`agentctl kube check` against the test API server: server version, identity,
and every permission the loaded actions declare (with the namespaces their
tasks configure), naming what is missing and which actions need it (exit 1),
and a clear error for a broken kubeconfig (exit 2) or an unreachable server
(exit 3)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../apiserver"))
from testserver import TestServer  # noqa: E402

BUILD = os.environ.get("NODEAGENT_BUILD", os.path.join(HERE, "../../build"))
AGENTCTL = os.path.join(BUILD, "bin/agentctl")
PLUGINS = os.path.join(BUILD, "plugins")


class KubeCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = TestServer()
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def setUp(self):
        self.server.rbac([])
        self.tmp = tempfile.TemporaryDirectory(prefix="kube-check-")

    def tearDown(self):
        self.tmp.cleanup()

    def config(self, kubeconfig, tasks=""):
        path = os.path.join(self.tmp.name, "agent.toml")
        with open(path, "w") as f:
            f.write(f'[agent]\nstate_dir = "{self.tmp.name}/state"\nplugin_dir = "{PLUGINS}"\n'
                    f'allow_unsafe_plugin_owner = true\nnode_name = "n1"\n'
                    f'exec_plugin_dir = "{self.tmp.name}/none"\n[kubernetes]\nkubeconfig = "{kubeconfig}"\n{tasks}')
        return path

    def check(self, kubeconfig, *extra, tasks=""):
        return subprocess.run([AGENTCTL, "--config", self.config(kubeconfig, tasks), *extra, "kube", "check"],
                              capture_output=True, text=True, timeout=60)

    def test_all_permissions_granted(self):
        out = self.check(self.server.kubeconfig_cert)
        self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        self.assertIn("v1.32.0", out.stdout)
        self.assertIn("identity: client certificate", out.stdout)
        self.assertIn("permissions: all", out.stdout)

    def test_missing_permissions_are_named(self):
        self.server.rbac([{"verb": "create", "resource": "pods", "subresource": "eviction"},
                          {"verb": "update", "resource": "leases", "group": "coordination.k8s.io"}], enforce=False)
        out = self.check(self.server.kubeconfig_token, "-o", "json")
        self.assertEqual(out.returncode, 1, out.stderr)
        result = json.loads(out.stdout)
        self.assertEqual(result["auth"], "bearer token")
        self.assertEqual(sorted(result["missing_permissions"]),
                         ["create pods/eviction", "update leases.coordination.k8s.io in kube-system"])
        needed = {p["permission"]: p["needed_by"] for p in result["permissions"] if not p["allowed"]}
        self.assertEqual(needed["create pods/eviction"], ["drain", "drain-and-reboot", "reboot-if-required"])
        text = self.check(self.server.kubeconfig_token)
        self.assertEqual(text.returncode, 1)
        self.assertIn("permissions: 2 of %d MISSING" % result["permissions_checked"], text.stdout)
        self.assertIn("  create pods/eviction  (needed by drain, drain-and-reboot, reboot-if-required)\n", text.stdout)

    def test_checks_exactly_the_declared_rows_with_the_tasks_namespaces(self):
        """Every row the loaded actions declare is asked once; a task's lock_namespace adds its own rows."""
        tasks = '[tasks.reboot]\naction = "drain-and-reboot"\nlock_namespace = "ops"\n'
        self.server.clear_requests()
        out = self.check(self.server.kubeconfig_cert, "-o", "json", tasks=tasks)
        self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        result = json.loads(out.stdout)
        rows = {p["permission"]: p["needed_by"] for p in result["permissions"]}
        self.assertEqual(rows["get leases.coordination.k8s.io in ops"], ["drain-and-reboot (task reboot)"])
        self.assertEqual(rows["get leases.coordination.k8s.io in kube-system"],
                         ["agentctl status", "drain-and-reboot", "reboot-if-required", "uncordon"])
        self.assertEqual(rows["create events in default"],
                         ["cordon", "drain", "drain-and-reboot", "nodeagent (Node Events)", "reboot-if-required",
                          "uncordon"])
        # The core's own rows: counting up a repeated Event, the actions' Node
        # conditions; the node actions set NodeAgentReboot themselves.
        self.assertEqual(rows["patch events in default"], ["nodeagent (Node Events)"])
        self.assertEqual(rows["patch nodes/status"],
                         ["cordon", "drain", "drain-and-reboot", "nodeagent (Node conditions)", "reboot-if-required",
                          "uncordon"])
        # join-prep and join declare it (to find a Node with this node's
        # name), calico-network too (its BGP peers); the drain actions, which
        # once had it hard-coded, do not.
        self.assertEqual(rows["list nodes"], ["calico-network", "join", "join-prep"])
        reviews = [json.loads(r["body"])["spec"]["resourceAttributes"] for r in self.server.requests()
                   if r["path"].endswith("/selfsubjectaccessreviews")]
        self.assertEqual(len(reviews), len(rows))
        self.assertEqual(result["permissions_checked"], len(rows))

    def test_broken_kubeconfig_names_file_and_field(self):
        bad = os.path.join(self.tmp.name, "kubeconfig")
        with open(bad, "w") as f:
            f.write("apiVersion: v1\nkind: Config\nclusters: [\n")
        out = self.check(bad)
        self.assertEqual(out.returncode, 2)
        self.assertIn(bad, out.stderr)

    def test_unreachable_server(self):
        with open(self.server.kubeconfig_token) as f:
            text = f.read()
        dead = os.path.join(self.tmp.name, "kubeconfig-dead")
        with open(dead, "w") as f:
            f.write(text.replace(self.server.url, "https://127.0.0.1:1"))
        out = self.check(dead)
        self.assertEqual(out.returncode, 3, out.stderr)
        self.assertIn("cannot reach the API server https://127.0.0.1:1", out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
