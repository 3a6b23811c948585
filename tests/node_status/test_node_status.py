"""Node conditions and Events as an operator sees them: real `agentctl --local
run`s of a small exec plugin that declares the condition NodeAgentNetCheck,
against the test API server (tests/apiserver/), checked through the API and
with real `kubectl describe node`. The plugin's answer depends on a marker
file beside it, so one test drives the problem in and out. Nothing here
touches the host: the agent's root is a temp dir."""

import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "drain"))
from harness import Agent, ServerTestCase, mk  # noqa: E402

NODE = "w1"
CONDITION = "NodeAgentNetCheck"

SCRIPT = """#!/bin/sh
cat > /dev/null
if [ -f "$(dirname "$0")/broken" ]; then
  echo '{"summary": "eth0 is down", "findings": [{"severity": "error", "subject": "eth0", "message": "eth0 is down", "condition": "NodeAgentNetCheck"}]}'
  exit 1
fi
echo '{"summary": "network fine"}'
"""

MANIFEST = """name = "net-check"
description = "a check that declares a Node condition"
executable = "net-check.sh"
[[condition]]
type = "NodeAgentNetCheck"
true_reason = "NetCheckFailed"
false_reason = "NetCheckPassed"
description = "the node's network as net-check sees it"
"""


class NodeStatusTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.srv.post_objects([mk.node(NODE)])
        self.agent = Agent(self.srv, NODE)
        self.exec_dir = os.path.join(self.agent.dir, "exec")
        with open(os.path.join(self.exec_dir, "net-check.sh"), "w") as f:
            f.write(SCRIPT)
        os.chmod(os.path.join(self.exec_dir, "net-check.sh"), 0o755)
        with open(os.path.join(self.exec_dir, "net-check.toml"), "w") as f:
            f.write(MANIFEST)

    def tearDown(self):
        self.agent.cleanup()
        super().tearDown()

    def broken(self, on):
        marker = os.path.join(self.exec_dir, "broken")
        if on:
            open(marker, "w").close()
        elif os.path.exists(marker):
            os.remove(marker)

    def run_check(self, dry_run=False):
        p = self.agent.run("net-check", local=True, dry_run=dry_run)
        return p

    def conditions(self):
        node = self.srv.ok("GET", "/api/v1/nodes/" + NODE)
        return {c["type"]: c for c in node["status"].get("conditions", [])}

    def events(self, reason):
        return [e for e in self.srv.ok("GET", "/api/v1/namespaces/default/events")["items"]
                if e.get("reason") == reason]

    def kubelet_heartbeat(self):
        """What the kubelet sends: a strategic-merge patch of its own conditions."""
        self.srv.ok("PATCH", "/api/v1/nodes/%s/status" % NODE,
                    {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                                "message": "kubelet is posting ready status",
                                                "lastHeartbeatTime": "2030-01-01T00:00:00Z"}]}},
                    content_type="application/strategic-merge-patch+json")

    def test_condition_follows_the_problem_and_events_count_up(self):
        described = self.agent.ctl("describe", "net-check", local=True)
        self.assertIn("NODE CONDITIONS", described.stdout)
        self.assertIn("NodeAgentNetCheck: True NetCheckFailed, False NetCheckPassed", described.stdout)

        # A dry run sets nothing and posts nothing.
        self.broken(True)
        self.run_check(dry_run=True)
        self.assertNotIn(CONDITION, self.conditions())
        self.assertEqual(self.events("NodeagentRunFailed"), [])

        # The problem: True with the finding's message.
        p = self.run_check()
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        c = self.conditions()[CONDITION]
        self.assertEqual((c["status"], c["reason"]), ("True", "NetCheckFailed"))
        self.assertEqual(c["message"], "eth0: eth0 is down")
        self.assertEqual(json.loads(p.stdout)["findings"][0]["condition"], CONDITION)
        first_transition = c["lastTransitionTime"]

        # The kubelet's own status update keeps ours; ours kept the kubelet's.
        self.kubelet_heartbeat()
        conds = self.conditions()
        self.assertEqual(conds[CONDITION]["status"], "True")
        self.assertEqual(conds["Ready"]["lastHeartbeatTime"], "2030-01-01T00:00:00Z")

        # Again: still True (transition time kept), and the Event counts up.
        self.run_check()
        conds = self.conditions()
        self.assertEqual(conds[CONDITION]["status"], "True")
        self.assertEqual(conds[CONDITION]["lastTransitionTime"], first_transition)
        self.assertEqual(conds["Ready"]["status"], "True")
        failed = self.events("NodeagentRunFailed")
        self.assertEqual(len(failed), 1, failed)
        self.assertEqual(failed[0]["count"], 2)
        self.assertEqual(failed[0]["type"], "Warning")
        self.assertEqual(failed[0]["source"], {"component": "nodeagent", "host": NODE})
        self.assertEqual(failed[0]["involvedObject"]["kind"], "Node")

        # As an operator sees it.
        out = self.srv.kubectl("describe", "node", NODE)
        self.assertEqual(out.returncode, 0, out.stderr)
        row = [l for l in out.stdout.splitlines() if l.strip().startswith(CONDITION)]
        self.assertEqual(len(row), 1, out.stdout)
        self.assertRegex(row[0], r"NodeAgentNetCheck\s+True\s+.*NetCheckFailed\s+eth0: eth0 is down")
        self.assertRegex(out.stdout, r"Warning\s+NodeagentRunFailed\s+\S+ \(x2 over \S+\)\s+nodeagent(, w1)?\s+"
                                     r"net-check: eth0 is down")
        self.assertRegex(out.stdout, r"Ready\s+True")

        # The problem clears: False with the declared reason; Ready untouched.
        self.broken(False)
        p = self.run_check()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        conds = self.conditions()
        self.assertEqual((conds[CONDITION]["status"], conds[CONDITION]["reason"]), ("False", "NetCheckPassed"))
        self.assertNotEqual(conds[CONDITION]["lastTransitionTime"], "")
        self.assertEqual(conds["Ready"]["status"], "True")
        out = self.srv.kubectl("describe", "node", NODE)
        self.assertRegex(out.stdout, r"NodeAgentNetCheck\s+False\s+.*NetCheckPassed")

    def test_no_node_yet_is_not_an_error(self):
        self.srv.request("DELETE", "/api/v1/nodes/" + NODE)
        self.broken(True)
        p = self.run_check()
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)  # the check's own failure, nothing more
        runs = self.agent.runs(local=True)
        self.assertTrue(runs, p.stdout)
        record = self.agent.run_record(max(runs, key=lambda r: r.get("started_ms", 0))["id"])
        logs = "\n".join(l.get("msg", "") for l in record.get("logs", []))
        self.assertIn("Node w1 does not exist (yet): conditions NodeAgentNetCheck=True not set", logs)

if __name__ == "__main__":
    unittest.main(verbosity=2)
