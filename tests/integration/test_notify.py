"""The core notifier ([[notify]]) end to end: the real daemon runs the test
plugin's test-notify action in a worker, and a local HTTP listener stands in
for the webhook targets. Its paths carry a token, which must never show up in
what the agent writes: daemon log, run records, history -o json, logs,
config show, the state folder.
"""

import http.server
import json
import os
import threading
import time
import unittest

from harness import Agent, wait_for

TOKEN = "T0KEN-8d1f3c9ab2"


class Listener:
    """Webhook targets on 127.0.0.1: /flaky/... answers 500 twice, then 200;
    /down/... always 500; /hang/... never answers (until close)."""

    def __init__(self):
        self.requests = []  # (monotonic time, path, body)
        self.cv = threading.Condition()
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n))
                with outer.cv:
                    outer.requests.append((time.monotonic(), self.path, body))
                    seen = sum(1 for _, p, _ in outer.requests if p == self.path)
                    outer.cv.notify_all()
                if self.path.startswith("/hang/"):
                    outer.release.wait(30)
                    return
                ok = self.path.startswith("/flaky/") and seen >= 3
                self.send_response(200 if ok else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, kind):
        return "%s/%s/services/%s" % (self.base, kind, TOKEN)

    def to(self, kind):
        with self.cv:
            return [(t, b) for t, p, b in self.requests if p.startswith("/" + kind + "/")]

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.hook = Listener()
        self.addCleanup(self.hook.close)

    def make_agent(self, targets, extra=""):
        tasks = extra
        for kind, opts in targets:
            tasks += '\n[[notify]]\nname = "%s"\nurl = "%s"\n%s\n' % (kind, self.hook.url(kind), opts)
        agent = Agent(tasks=tasks)
        self.addCleanup(agent.cleanup)
        agent.start()
        return agent

    def run_notify(self, agent, *sets):
        run_id = agent.start_detached("test-notify", *sets)
        return agent.wait_finished(run_id, timeout=60)

    def assertNoToken(self, agent):
        """The token is in no output of the agent."""
        places = {"daemon log": agent.log()}
        places["history -o json"] = agent.ctl("-o", "json", "history").stdout
        places["config show"] = agent.ctl("config", "show").stdout
        places["config show -o json"] = agent.ctl("-o", "json", "config", "show").stdout
        for run in agent.history():
            places["logs -o json " + run["id"]] = agent.ctl("-o", "json", "logs", run["id"]).stdout
            places["logs " + run["id"]] = agent.ctl("logs", run["id"]).stdout
        for folder, _, files in os.walk(agent.state):
            for name in files:
                with open(os.path.join(folder, name), errors="replace") as f:
                    places[os.path.join(folder, name)] = f.read()
        for where, text in places.items():
            self.assertNotIn(TOKEN, text, "the URL's token leaked into " + where)
        self.assertIn("redacted", places["config show"])

    def test_a_target_failing_twice_gets_the_message_after_retries(self):
        agent = self.make_agent([("flaky", 'format = "json"\nretries = 3\ntimeout = "2s"')])
        rec = self.run_notify(agent, "event=reboot", "message=going down")
        self.assertEqual(rec["status"], "ok", rec)
        got = self.hook.to("flaky")
        self.assertEqual(len(got), 3, got)
        body = got[2][1]
        self.assertEqual((body["event"], body["message"], body["node"], body["run_id"], body["action"]),
                         ("reboot", "going down", "itest-node", rec["id"], "test-notify"))
        # Backoff: 1s after the first failure, 2s after the second.
        self.assertGreaterEqual(got[1][0] - got[0][0], 0.9)
        self.assertGreaterEqual(got[2][0] - got[1][0], 1.9)
        self.assertEqual(rec.get("notifications_failed"), 0)
        self.assertNoToken(agent)

    def test_a_hanging_target_holds_the_run_no_longer_than_its_timeout(self):
        agent = self.make_agent([("hang", 'timeout = "1s"\nretries = 0')])
        rec = self.run_notify(agent, "event=reboot")
        logs = agent.ctl_json("logs", rec["id"])["record"]["logs"]
        sent = next(l["t"] for l in logs if l["msg"].startswith("notify reboot"))
        returned = next(l["t"] for l in logs if l["msg"] == "notify returned")
        held_ms = returned - sent
        self.assertGreaterEqual(held_ms, 900, logs)   # it did wait for the first attempt
        self.assertLess(held_ms, 1900, logs)          # but only up to the timeout (plus slack)
        self.assertEqual(len(self.hook.to("hang")), 1)
        # Nothing left to retry: the run ends right after, the message counted.
        self.assertLess(rec["finished_ms"] - returned, 1500, rec)
        self.assertEqual(rec["notifications_failed"], 1, rec)
        self.assertNoToken(agent)

    def test_a_target_that_always_fails_is_counted_in_the_metrics_textfile(self):
        agent = self.make_agent([("down", 'retries = 1\ntimeout = "2s"\nformat = "slack"')],
                                extra='[metrics]\ntextfile = "/var/lib/prom/nodeagent.prom"\n')
        prom = os.path.join(agent.root, "var/lib/prom/nodeagent.prom")
        rec = self.run_notify(agent, "event=drain", "fail=true")
        self.assertEqual(rec["status"], "failed", rec)
        # The action's "drain", then the core's own "failure" for the failed run.
        texts = [b["text"] for _, b in self.hook.to("down")]
        self.assertEqual(len(texts), 4, texts)
        self.assertTrue(any(": drain: " in t for t in texts), texts)
        self.assertTrue(any(": failure: failed on request" in t for t in texts), texts)
        self.assertEqual(rec["notifications_failed"], 2, rec)

        def counted():
            try:
                with open(prom) as f:
                    return "nodeagent_notifications_failed_total 2\n" in f.read()
            except FileNotFoundError:
                return False

        wait_for(counted, 10, what="nodeagent_notifications_failed_total 2 in the textfile")
        self.assertNoToken(agent)

    def test_events_filter_and_dry_run(self):
        agent = self.make_agent([("flaky", 'events = ["failure"]'), ("down", 'events = ["*"]\nretries = 0')])
        rec = self.run_notify(agent, "event=drain")
        self.assertEqual(self.hook.to("flaky"), [], "its filter takes only failure")
        self.assertEqual(len(self.hook.to("down")), 1)
        dry = agent.start_detached("test-notify", "dry_run=true")
        dry_rec = agent.wait_finished(dry)
        self.assertTrue(dry_rec["dry_run"], dry_rec)
        self.assertEqual(len(self.hook.to("down")), 1, "a dry run sends nothing")
        self.assertEqual(rec["notifications_failed"], 1)
        self.assertNoToken(agent)


if __name__ == "__main__":
    unittest.main()
