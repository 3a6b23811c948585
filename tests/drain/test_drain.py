#!/usr/bin/python3
"""Integration and crash tests of the drain_and_reboot plugin: the real
nodeagent daemon, agentctl and worker processes against the test API server
(tests/apiserver/). The reboot command is a stub script that appends to a
marker file; a reboot is simulated by writing a new boot id under the agent's
temp root and restarting the daemon, with the test acting as kubelet through
/_test/node-status. Nothing here touches the real host."""

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Agent, ServerTestCase, mk, wait_until  # noqa: E402

LOCK_NS = "kube-system"


class Webhook:
    """A local listener recording POSTed JSON bodies."""

    def __init__(self):
        self.bodies = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                outer.bodies.append(json.loads(self.rfile.read(n)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class FakePrometheus:
    """A local listener answering GET /api/v1/alerts with `alerts` (a list of
    (name, state) pairs) in Prometheus's JSON format."""

    def __init__(self, alerts):
        self.alerts = alerts
        self.paths = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.paths.append(self.path)
                body = json.dumps({"status": "success", "data": {"alerts": [
                    {"labels": {"alertname": n}, "state": st} for n, st in outer.alerts]}}).encode()
                self.send_response(200 if self.path == "/api/v1/alerts" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class DrainTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.agents = []

    def tearDown(self):
        for a in self.agents:
            if self._outcome_failed():
                sys.stderr.write("---- daemon log of %s ----\n%s\n" % (a.node, a.daemon_log()[-4000:]))
            a.cleanup()

    def _outcome_failed(self):
        res = getattr(self, "_outcome", None)
        errs = getattr(res, "errors", None) or getattr(getattr(res, "result", None), "errors", [])
        return bool(errs)

    def agent(self, node, **kw):
        a = Agent(self.srv, node, **kw)
        self.agents.append(a)
        return a

    # -- cluster helpers ------------------------------------------------------------
    def node(self, name):
        return self.srv.ok("GET", "/api/v1/nodes/" + name)

    def unschedulable(self, name):
        return bool(self.node(name)["spec"].get("unschedulable"))

    def pods_on(self, name):
        return self.srv.ok("GET", "/api/v1/pods?fieldSelector=spec.nodeName=" + name)["items"]

    def leases(self):
        return self.srv.ok("GET", "/apis/coordination.k8s.io/v1/namespaces/%s/leases" % LOCK_NS)["items"]

    def slots(self):
        """The lock's slot Leases (not the queue's tickets, <prefix>-queue-<node>)."""
        return [l for l in self.leases() if "-queue-" not in l["metadata"]["name"]]

    def events(self, reason):
        return [e for e in self.srv.ok("GET", "/api/v1/events")["items"] if e.get("reason") == reason]

    def assert_clean(self, name, cordoned=False):
        n = self.node(name)
        self.assertEqual(bool(n["spec"].get("unschedulable")), cordoned, "unschedulable of " + name)
        ann = n["metadata"].get("annotations") or {}
        self.assertFalse([k for k in ann if k.startswith("nodeagent.io/")], ann)
        self.assertFalse([t for t in n["spec"].get("taints") or [] if t["key"].startswith("nodeagent.io/")])
        self.assertFalse([l for l in self.leases() if l["spec"].get("holderIdentity") == name], self.leases())

    def out(self, proc):
        try:
            return json.loads(proc.stdout)
        except ValueError:
            self.fail("agentctl printed no JSON: %s %s" % (proc.stdout, proc.stderr))

    def final_record(self, agent, run_id, timeout=30):
        def done():
            r = agent.run_record(run_id)
            return r if r.get("status") not in (None, "running") else None
        return wait_until(done, timeout, 0.2, "run %s to finish" % run_id)

    # -- filters ----------------------------------------------------------------------
    def filter_fixture(self, node):
        rs = mk.replicaset("web", 1)
        ds = mk.daemonset("ds")
        gone_ds = mk.daemonset("gone")
        return [mk.node(node), mk.node("spare"), rs, ds,
                mk.pod("web-1", node, owner=rs), mk.pod("ds-1", node, "kube-system", owner=ds),
                mk.pod("orphan-ds-1", node, "kube-system", owner=gone_ds),
                mk.pod("static-1", node, "kube-system", mirror=True),
                mk.pod("scratch-1", node, owner=rs, empty_dir=True), mk.pod("bare-1", node)]

    def test_kubectl_filter_table(self):
        a = self.agent("node-f")
        self.srv.post_objects(self.filter_fixture("node-f"))
        cases = [
            ({}, {"default/web-1": "evict", "kube-system/ds-1": "skip", "kube-system/orphan-ds-1": "block",
                  "kube-system/static-1": "skip", "default/scratch-1": "evict", "default/bare-1": "block"}),
            ({"force": True}, {"kube-system/orphan-ds-1": "evict", "default/bare-1": "evict"}),
            ({"ignore_daemonsets": False}, {"kube-system/ds-1": "block"}),
            ({"delete_emptydir_data": False}, {"default/scratch-1": "block", "default/web-1": "evict"}),
            ({"pod_selector": "app=web"}, {"default/web-1": "evict", "default/scratch-1": "evict"}),
        ]
        for params, want in cases:
            with self.subTest(params=params):
                rec = self.out(a.run("drain", params, local=True, dry_run=True))
                got = {p["pod"]: p["verdict"] for p in rec["data"]["pods"]}
                for pod, verdict in want.items():
                    self.assertEqual(got.get(pod), verdict, (pod, rec["data"]["pods"]))
                if "pod_selector" in params:
                    self.assertEqual(set(got), set(want))
        self.assertFalse(self.unschedulable("node-f"), "a dry run changes nothing")
        # A real run with blockers refuses before touching anything.
        p = a.run("drain", {}, local=True)
        self.assertEqual(p.returncode, 1)
        rec = self.out(p)
        self.assertIn("cannot be drained", rec["summary"])
        self.assertTrue(any("bare-1" in f["subject"] for f in rec["findings"]))
        self.assert_clean("node-f")
        self.assertEqual(len(self.pods_on("node-f")), 6)
        # With force everything evictable goes; DaemonSet and mirror pods stay.
        p = a.run("drain", {"force": True}, local=True)
        self.assertEqual(p.returncode, 0, p.stdout)
        left = sorted(p_["metadata"]["name"] for p_ in self.pods_on("node-f"))
        self.assertEqual(left, ["ds-1", "static-1"])
        self.assert_clean("node-f", cordoned=True)

    def test_plan_predicts_pdb_stall(self):
        a = self.agent("node-p")
        rs = mk.replicaset("db", 2)
        self.srv.post_objects([mk.node("node-p"), rs, mk.pod("db-1", "node-p", owner=rs),
                               mk.pod("db-2", "node-p", owner=rs), mk.pdb("db-pdb", {"app": "db"}, min_available=2)])
        rec = self.out(a.run("drain", {}, local=True, dry_run=True))
        stall = [f for f in rec["findings"] if f["subject"] == "pdb/default/db-pdb"]
        self.assertTrue(stall, rec["findings"])
        self.assertIn("0 disruptions", stall[0]["message"])

    # -- PDB retries and the timeout policies -----------------------------------------
    def test_pdb_refusals_are_retried(self):
        a = self.agent("node-r")
        rs = mk.replicaset("api", 2)
        self.srv.post_objects([mk.node("node-r"), mk.node("spare"), rs, mk.pod("api-1", "node-r", owner=rs),
                               mk.pod("api-2", "node-r", owner=rs),
                               mk.pdb("api-pdb", {"app": "api"}, min_available=1)])
        self.srv.fault("/eviction$", method="POST", count=2, status=429)
        p = a.run("drain", {"drain_timeout": "30s"}, local=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rec = self.out(p)
        self.assertGreaterEqual(rec["data"]["refusals"], 2)  # the injected ones, plus the real PDB's
        self.assertEqual(self.pods_on("node-r"), [])

    def blocked_fixture(self, node):
        rs = mk.replicaset("db", 2)
        return [mk.node(node), mk.node("spare"), rs, mk.pod("db-1", node, owner=rs), mk.pod("db-2", node, owner=rs),
                mk.pdb("db-pdb", {"app": "db"}, min_available=2)]

    def test_timeout_abort_uncordons_and_names_the_pdb(self):
        a = self.agent("node-t")
        self.srv.post_objects(self.blocked_fixture("node-t"))
        t = time.monotonic()
        p = a.run("drain-and-reboot", {"drain_timeout": "2s", "reboot_command": [a.reboot_stub]}, local=True)
        self.assertLess(time.monotonic() - t, 15)
        self.assertEqual(p.returncode, 1)
        rec = self.out(p)
        self.assertIn("timed out", rec["summary"])
        self.assertIn("db-pdb", rec["summary"])
        self.assertIn("uncordoned", rec["summary"])
        self.assertEqual(a.reboot_calls(), [])
        self.assert_clean("node-t")
        self.assertEqual(len(self.pods_on("node-t")), 2)
        self.assertTrue(self.events("NodeagentRolledBack"))

    def test_timeout_delete_removes_the_rest(self):
        a = self.agent("node-d")
        self.srv.post_objects(self.blocked_fixture("node-d"))
        p = a.run("drain", {"drain_timeout": "2s", "on_drain_timeout": "delete"}, local=True)
        self.assertEqual(p.returncode, 0, p.stdout)
        rec = self.out(p)
        self.assertEqual(rec["data"]["deleted_after_timeout"], 2)
        self.assertEqual(self.pods_on("node-d"), [])
        self.assert_clean("node-d", cordoned=True)

    # -- reboot and resume -----------------------------------------------------------
    def start_reboot_run(self, a, extra=None):
        params = {"reboot_command": [a.reboot_stub], "reboot_timeout": "60s", "ready_timeout": "60s"}
        params.update(extra or {})
        p = a.run("drain-and-reboot", params, detach=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return self.out(p)["run_id"]

    def wait_for_log(self, a, text, timeout=20):
        """Waits until a run in progress has logged a line containing `text`."""
        def seen():
            for r in a.runs():
                if r.get("status") != "running":
                    continue
                for line in a.run_record(r["id"]).get("logs", []):
                    if text in line.get("msg", ""):
                        return r["id"]
            return None
        return wait_until(seen, timeout, 0.1, "a run to log %r" % text)

    def simulate_reboot(self, a, kill=False):
        """Daemon goes down (SIGTERM like a shutdown, or kill -9), new boot id, daemon up, kubelet reports."""
        a.kill9() if kill else a.stop()
        new_boot = str(uuid.uuid4())
        a.set_boot_id(new_boot)
        self.srv.node_status(a.node, ready=False)
        a.start()
        # The resumed run says it saw the reboot and now waits for the Node:
        # from then on it must keep the node cordoned until the Node reports.
        self.wait_for_log(a, "waiting for the Node to report the new boot and Ready")
        self.assertTrue(self.unschedulable(a.node), "must stay cordoned until the Node reports the new boot")
        self.srv.node_status(a.node, ready=True, boot_id=new_boot)
        return new_boot

    def test_resume_after_simulated_reboot(self):
        hook = Webhook()
        try:
            # The core's notifier ([[notify]]): the resumed run's worker gets the target too.
            a = self.agent("node-1", extra_toml='[[notify]]\nurl = "%s"\n' % hook.url)
            self.srv.post_objects(mk.node_with_pods("node-1", 5, spare_nodes=["node-2"]))
            a.start()
            run = self.start_reboot_run(a)
            wait_until(a.reboot_calls, 20, what="the reboot stub")
            self.assertTrue(self.unschedulable("node-1"))
            self.assertEqual([l["spec"]["holderIdentity"] for l in self.slots()], ["node-1"])
            self.assertEqual(self.pods_on("node-1"), [])
            self.simulate_reboot(a)
            rec = self.final_record(a, run)
            self.assertEqual(rec["status"], "changed", rec.get("summary"))
            self.assertIn("downtime", rec["summary"])
            self.assertGreater(rec["data"]["downtime_seconds"], 0)
            self.assert_clean("node-1")
            self.assertEqual(len(a.reboot_calls()), 1)
            self.assertTrue(self.events("NodeagentRebootCompleted"))
            events = [b["event"] for b in hook.bodies]
            self.assertEqual(events, ["drain", "reboot", "uncordon"])
            self.assertTrue(all(b["node"] == "node-1" and b["run_id"] == run for b in hook.bodies))
        finally:
            hook.close()

    def test_unschedulable_before_stays_unschedulable(self):
        a = self.agent("node-u")
        items = mk.node_with_pods("node-u", 2, spare_nodes=["spare"])
        items[0]["spec"]["unschedulable"] = True
        self.srv.post_objects(items)
        a.start()
        run = self.start_reboot_run(a)
        wait_until(a.reboot_calls, 20, what="the reboot stub")
        self.simulate_reboot(a)
        rec = self.final_record(a, run)
        self.assertEqual(rec["status"], "changed", rec.get("summary"))
        self.assert_clean("node-u", cordoned=True)

    def test_reboot_that_never_happens_is_reported_and_undone(self):
        a = self.agent("node-n")
        self.srv.post_objects(mk.node_with_pods("node-n", 2, spare_nodes=["spare"]))
        p = a.run("drain-and-reboot", {"reboot_command": [a.reboot_stub], "reboot_timeout": "2s"}, local=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("reboot did not happen", self.out(p)["summary"])
        self.assertEqual(len(a.reboot_calls()), 1)
        self.assert_clean("node-n")

    # -- crash tests -------------------------------------------------------------------
    def worker_pid(self, a, run):
        """The run's worker: the daemon's child `nodeagent-runner worker` (the history's worker_pid stays 0)."""
        def find():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/stat" % pid) as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        argv = f.read().split(b"\0")
                except (OSError, ValueError, IndexError):
                    continue
                if ppid == a.daemon.pid and b"worker" in argv:
                    return int(pid)
            return None
        return wait_until(find, 10, what="the worker of run " + run)

    def slow_evictions(self):
        self.srv.fault("/eviction$", method="POST", count=-1, delay=0.4)

    def crash_during_drain(self, node, kill_daemon, after_some_evictions):
        a = self.agent(node)
        self.srv.post_objects(mk.node_with_pods(node, 6, spare_nodes=["spare"]))
        self.slow_evictions()
        a.start()
        run = self.start_reboot_run(a, {"max_in_flight": 1})
        wait_until(lambda: self.unschedulable(node), 10, 0.02, what="cordon")
        if after_some_evictions:
            wait_until(lambda: len(self.pods_on(node)) <= 4, 15, 0.05, what="some evictions")
        else:
            self.assertEqual(len(self.pods_on(node)), 6)
        pid = self.worker_pid(a, run)
        if kill_daemon:
            a.kill9()
            os.kill(pid, signal.SIGKILL)  # its worker may live on; the restarted daemon also kills leftovers
            a.start()
        else:
            os.kill(pid, signal.SIGKILL)
        rec = self.final_record(a, run)
        self.assertEqual(rec["status"], "failed")
        self.assertIn("rolled back after the agent crashed", rec["summary"])
        self.assert_clean(node)
        self.assertEqual(a.reboot_calls(), [])

    def test_kill9_worker_after_cordon(self):
        self.crash_during_drain("node-c1", kill_daemon=False, after_some_evictions=False)

    def test_kill9_worker_during_evictions(self):
        self.crash_during_drain("node-c2", kill_daemon=False, after_some_evictions=True)

    def test_kill9_daemon_during_evictions(self):
        self.crash_during_drain("node-c3", kill_daemon=True, after_some_evictions=True)

    def test_kill9_worker_after_reboot_command_keeps_waiting(self):
        a = self.agent("node-c4")
        self.srv.post_objects(mk.node_with_pods("node-c4", 2, spare_nodes=["spare"]))
        a.start()
        run = self.start_reboot_run(a)
        wait_until(a.reboot_calls, 20, what="the reboot stub")
        os.kill(self.worker_pid(a, run), signal.SIGKILL)
        # The daemon resumes it in the same boot; the resumed run says so.
        self.wait_for_log(a, "resumed in the same boot after the reboot command: still waiting for the reboot")
        rec = a.run_record(run)
        self.assertEqual(rec["status"], "running", "resumed in the same boot: still waiting for the reboot")
        self.assertTrue(self.unschedulable("node-c4"))
        self.simulate_reboot(a)
        rec = self.final_record(a, run)
        self.assertEqual(rec["status"], "changed", rec.get("summary"))
        self.assert_clean("node-c4")
        self.assertEqual(len(a.reboot_calls()), 1, "the reboot command is not issued twice")

    def test_kill9_daemon_after_reboot_command(self):
        a = self.agent("node-c5")
        self.srv.post_objects(mk.node_with_pods("node-c5", 2, spare_nodes=["spare"]))
        a.start()
        run = self.start_reboot_run(a)
        wait_until(a.reboot_calls, 20, what="the reboot stub")
        pid = self.worker_pid(a, run)
        # Daemon and worker die together, as systemd's KillMode=control-group does; the restarted
        # daemon does not find a leftover worker by itself (see the README: worker_pid stays 0).
        a.kill9()
        os.kill(pid, signal.SIGKILL)
        rec = a.run_record(run)
        self.assertEqual(rec["status"], "running")
        self.simulate_reboot(a)
        rec = self.final_record(a, run)
        self.assertEqual(rec["status"], "changed", rec.get("summary"))
        self.assert_clean("node-c5")
        self.assertEqual(len(a.reboot_calls()), 1)

    # -- the cluster-wide lock ---------------------------------------------------------
    def race(self, n_agents, concurrency):
        names = ["race-%d" % i for i in range(n_agents)]
        items = [mk.node("spare")]
        for n in names:
            items += [o for o in mk.node_with_pods(n, 2, rs_name="rs-" + n) ]
        self.srv.post_objects(items)
        agents = [self.agent(n) for n in names]
        samples, stop = [], threading.Event()

        def sample():
            while not stop.is_set():
                holders = [l["spec"].get("holderIdentity") for l in self.slots()]
                cordoned = [n for n in names if self.unschedulable(n)]
                samples.append((holders, cordoned))
                time.sleep(0.03)

        sampler = threading.Thread(target=sample)
        sampler.start()
        results = [None] * n_agents

        def go(i):
            results[i] = agents[i].run("drain-and-reboot", {
                "reboot_command": [agents[i].reboot_stub], "reboot_timeout": "1s", "concurrency": concurrency,
                "lock_wait": "60s"}, local=True)

        threads = [threading.Thread(target=go, args=(i,)) for i in range(n_agents)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        sampler.join()
        for r in results:
            self.assertIn("reboot did not happen", self.out(r)["summary"])  # each held the lock, then undid
        max_holders = max(len([h for h in hs if h]) for hs, _ in samples)
        max_cordoned = max(len(c) for _, c in samples)
        self.assertLessEqual(max_holders, concurrency, samples)
        self.assertLessEqual(max_cordoned, concurrency, samples)
        self.assertGreaterEqual(max_cordoned, 1)
        for n in names:
            self.assert_clean(n)
            self.assertEqual(len([a for a in agents if a.node == n][0].reboot_calls()), 1)
        self.assertEqual(self.leases(), [])
        return max_cordoned

    def test_lock_two_agents_concurrency_1(self):
        self.race(2, 1)

    def test_lock_three_agents_concurrency_1(self):
        self.race(3, 1)

    def test_lock_three_agents_concurrency_2(self):
        self.assertEqual(self.race(3, 2), 2)

    def test_takeover_of_expired_lease_with_slack_webhook(self):
        hook = Webhook()
        try:
            a = self.agent("node-k", extra_toml='[[notify]]\nurl = "%s"\nformat = "slack"\n' % hook.url)
            self.srv.post_objects(mk.node_with_pods("node-k", 1, spare_nodes=["spare"]) + [{
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "nodeagent-reboot-lock-0", "namespace": LOCK_NS},
                "spec": {"holderIdentity": "dead-node", "leaseDurationSeconds": 5,
                         "acquireTime": "2025-01-01T00:00:00.000000Z", "renewTime": "2025-01-01T00:00:00.000000Z"}}])
            p = a.run("drain-and-reboot", {"reboot_command": [a.reboot_stub], "reboot_timeout": "1s"}, local=True)
            rec = self.out(p)
            self.assertEqual(len(a.reboot_calls()), 1, rec["summary"])
            ev = self.events("RebootLockTakenOver")
            self.assertEqual(len(ev), 1)
            self.assertIn("dead-node", ev[0]["message"])
            self.assertEqual(self.leases(), [])
            self.assertTrue(hook.bodies and all(list(b) == ["text"] for b in hook.bodies), hook.bodies)
            self.assertIn("node-k", hook.bodies[0]["text"])
        finally:
            hook.close()

    def test_uncordon_gives_back_the_nodes_reboot_lock(self):
        a = self.agent("node-u")
        now = "2026-01-01T00:00:00.000000Z"

        def lease(slot, holder):
            return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": "nodeagent-reboot-lock-%d" % slot, "namespace": LOCK_NS},
                    "spec": {"holderIdentity": holder, "leaseDurationSeconds": 1800, "acquireTime": now,
                             "renewTime": now}}
        self.srv.post_objects([mk.node("node-u", unschedulable=True), lease(0, "other-node"), lease(1, "node-u")])
        # The plan says so; a dry run changes nothing.
        dry = self.out(a.run("uncordon", {"concurrency": 2}, local=True, dry_run=True))
        self.assertIn("release its reboot lock slot nodeagent-reboot-lock-1", dry["summary"])
        self.assertIn("lease/%s/nodeagent-reboot-lock-1" % LOCK_NS, [c["target"] for c in dry["changes"]])
        self.assertEqual(len(self.leases()), 2)
        # Only our slot goes; another node's stays.
        p = a.run("uncordon", {"concurrency": 2}, local=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("released its reboot lock slot nodeagent-reboot-lock-1", self.out(p)["summary"])
        self.assertEqual([l["spec"]["holderIdentity"] for l in self.leases()], ["other-node"])
        self.assertFalse(self.unschedulable("node-u"))
        # release_lock = false leaves it alone.
        self.srv.post_objects([lease(1, "node-u")])
        a.run("uncordon", {"concurrency": 2, "release_lock": False}, local=True)
        self.assertEqual(len(self.leases()), 2)

    def test_live_lease_of_another_node_is_waited_for(self):
        a = self.agent("node-w")
        self.srv.post_objects(mk.node_with_pods("node-w", 1, spare_nodes=["spare"]) + [{
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "nodeagent-reboot-lock-0", "namespace": LOCK_NS},
            "spec": {"holderIdentity": "busy-node", "leaseDurationSeconds": 3600,
                     "renewTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())}}])
        p = a.run("drain-and-reboot", {"reboot_command": [a.reboot_stub], "lock_wait": "2s",
                                       "prefer_no_schedule_taint": True}, local=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("busy-node", self.out(p)["summary"])
        self.assert_clean("node-w")
        self.assertEqual(a.reboot_calls(), [])
        self.assertEqual([l["spec"]["holderIdentity"] for l in self.leases()], ["busy-node"])

    # -- reboot-if-required -------------------------------------------------------------
    def test_reboot_if_required_triggers_and_blockers(self):
        a = self.agent("node-s")
        rs = mk.replicaset("etl", 1)
        self.srv.post_objects(mk.node_with_pods("node-s", 1, spare_nodes=["spare"]) +
                              [rs, mk.pod("etl-1", "node-s", owner=rs, labels={"job": "etl"})])
        base = {"reboot_command": [a.reboot_stub], "reboot_timeout": "1s"}
        p = a.run("reboot-if-required", base, local=True)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(self.out(p)["status"], "skipped")
        self.assertIn("no reboot required", self.out(p)["summary"])
        os.makedirs(os.path.join(a.root, "var/run"), exist_ok=True)
        open(os.path.join(a.root, "var/run/reboot-required"), "w").close()
        p = a.run("reboot-if-required", dict(base, blocking_pod_selector="job=etl"), local=True)
        self.assertEqual(self.out(p)["status"], "skipped")
        self.assertIn("default/etl-1", self.out(p)["summary"])
        self.assertEqual(a.reboot_calls(), [])
        # Firing alerts over real HTTP (the worker's HttpClient from its context).
        prom = FakePrometheus([("KubeNodeNotReady", "firing"), ("Watchdog", "pending")])
        try:
            p = a.run("reboot-if-required", dict(base, prometheus_url=prom.url), local=True)
            self.assertEqual(self.out(p)["status"], "skipped", p.stdout)
            self.assertIn("KubeNodeNotReady", self.out(p)["summary"])
            self.assertNotIn("Watchdog", self.out(p)["summary"])  # pending is not firing
            self.assertEqual(prom.paths, ["/api/v1/alerts"])
            p = a.run("reboot-if-required", dict(base, prometheus_url=prom.url, alert_filter_regex="Watch.*"),
                      local=True)
            self.assertIn("reboot did not happen", self.out(p)["summary"])  # no match: it went ahead
            self.assertEqual(len(a.reboot_calls()), 1)
        finally:
            prom.close()
        # Prometheus unreachable: the blocker check fails, so no reboot.
        p = a.run("reboot-if-required", dict(base, prometheus_url=prom.url), local=True)
        self.assertEqual(self.out(p)["status"], "skipped", p.stdout)
        self.assertIn("blocker check failed", self.out(p)["summary"])
        self.assertEqual(len(a.reboot_calls()), 1)
        # A sentinel command: exit 1 means "reboot required" (needs-restarting -r).
        p = a.run("reboot-if-required", dict(base, sentinel_command=["/bin/sh", "-c", "exit 1"]), local=True)
        self.assertIn("reboot did not happen", self.out(p)["summary"])
        self.assertEqual(len(a.reboot_calls()), 2)
        self.assert_clean("node-s")


if __name__ == "__main__":
    unittest.main(verbosity=2)
