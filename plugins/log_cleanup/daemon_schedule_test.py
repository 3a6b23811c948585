#!/usr/bin/env python3
"""log-cleanup through the real daemon: a task scheduled @daily fires.

The task last ran two days ago (recorded in the daemon's task state) and has
catch_up = true, so the daemon must run it at start, exactly once, as a
scheduled (catch-up) run; the old log goes, the new one stays, and the next
run is planned for the next midnight. Also: the same task without catch_up
does not run at start. Everything lives in a temp root.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ.get("NODEAGENT_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
NODEAGENT = os.path.join(BUILD, "bin/nodeagent")
AGENTCTL = os.path.join(BUILD, "bin/agentctl")
PLUGINS = os.path.join(BUILD, "plugins")


class DailyTaskFires(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="logc-daemon-")
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(self.root, "proc/sys/kernel/random"))
        with open(os.path.join(self.root, "proc/sys/kernel/random/boot_id"), "w") as f:
            f.write("boot-1\n")
        with open(os.path.join(self.root, "proc/sys/kernel/hostname"), "w") as f:
            f.write("node-1\n")
        self.logs = os.path.join(self.root, "var/log/app")
        os.makedirs(self.logs)
        now = time.time()
        for name, age_days in (("old.log", 20), ("new.log", 1), ("old.txt", 20)):
            p = os.path.join(self.logs, name)
            with open(p, "w") as f:
                f.write("x" * 100)
            os.utime(p, (now - age_days * 86400, now - age_days * 86400))
        self.state = os.path.join(self.tmp, "state")
        os.makedirs(self.state)
        self.daemon = None

    def tearDown(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, catch_up):
        cfg = os.path.join(self.tmp, "agent.toml")
        with open(cfg, "w") as f:
            f.write(f"""[agent]
root = "{self.root}"
state_dir = "{self.state}"
socket = "{self.tmp}/agent.sock"
plugin_dir = "{PLUGINS}"
exec_plugin_dir = "{self.tmp}/exec"
allow_unsafe_plugin_owner = true
timezone = "UTC"

[tasks.cleanup]
action = "log-cleanup"
schedule = "@daily"
catch_up = {"true" if catch_up else "false"}
paths = ["/var/log/app"]
max_age = "10d"
skip_open_files = false
""")
        two_days_ago_ms = int((time.time() - 2 * 86400) * 1000)
        with open(os.path.join(self.state, "tasks.json"), "w") as f:
            json.dump({"cleanup": {"last_run_ms": two_days_ago_ms, "last_boot_id": "boot-0"}}, f)
        self.cfg = cfg
        self.daemon = subprocess.Popen([NODEAGENT, "--config", cfg], stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 10
        while time.time() < deadline and not os.path.exists(f"{self.tmp}/agent.sock"):
            time.sleep(0.05)
        self.assertTrue(os.path.exists(f"{self.tmp}/agent.sock"), "daemon did not start")

    def ctl(self, *args):
        out = subprocess.run([AGENTCTL, "--config", self.cfg, "-o", "json", *args], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def wait_for_runs(self, n, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            runs = [r for r in self.ctl("history")["runs"] if r["status"] != "running"]
            if len(runs) >= n:
                return runs
            time.sleep(0.1)
        return [r for r in self.ctl("history")["runs"]]

    def test_daily_task_catches_up_once_at_start(self):
        self.start(catch_up=True)
        runs = self.wait_for_runs(1)
        self.assertEqual(len(runs), 1, runs)
        run = runs[0]
        self.assertEqual(run["task"], "cleanup")
        self.assertEqual(run["trigger"], "catch-up")
        self.assertEqual(run["status"], "changed", run["summary"])
        self.assertFalse(os.path.exists(os.path.join(self.logs, "old.log")))
        self.assertTrue(os.path.exists(os.path.join(self.logs, "new.log")))
        self.assertTrue(os.path.exists(os.path.join(self.logs, "old.txt")))  # not matching *.log
        # The daemon answers a run finished only after rescheduling: a second
        # run would already be in the history.
        self.assertEqual(len(self.ctl("history")["runs"]), 1, "ran more than once")
        task = [t for t in self.ctl("status")["tasks"] if t["name"] == "cleanup"][0]
        next_ms = task["next_run_ms"]
        self.assertEqual(next_ms % 86_400_000, 0, "@daily in UTC is due at midnight")
        self.assertGreater(next_ms, time.time() * 1000)
        self.assertLessEqual(next_ms, (time.time() + 86400) * 1000)

    def test_without_catch_up_nothing_runs_at_start(self):
        self.start(catch_up=False)
        # Due tasks start before the daemon answers its first request, so the
        # first answer is final: nothing ran, and the plan waits for midnight.
        self.assertEqual(self.ctl("history")["runs"], [])
        task = [t for t in self.ctl("status")["tasks"] if t["name"] == "cleanup"][0]
        self.assertEqual(task["next_run_ms"] % 86_400_000, 0, task)
        self.assertGreater(task["next_run_ms"], time.time() * 1000)
        self.assertTrue(os.path.exists(os.path.join(self.logs, "old.log")))


class DryRunListThroughDaemon(DailyTaskFires):
    """`agentctl logs RUN --all` through the daemon: a dry run's full list,
    paged by the daemon's `logs` op, names every file it would delete."""

    def test_dry_run_full_list_through_the_daemon(self):
        now = time.time()
        for i in range(300):  # more than the 250 rows the record keeps
            p = os.path.join(self.logs, "bulk-%03d.log" % i)
            with open(p, "w") as f:
                f.write("y")
            os.utime(p, (now - 30 * 86400, now - 30 * 86400))
        self.start(catch_up=False)
        out = subprocess.run([AGENTCTL, "--config", self.cfg, "run", "log-cleanup", "--dry-run",
                              "--set", 'paths=["/var/log/app"]', "--set", "max_age=10d"],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        runs = self.wait_for_runs(1)
        self.assertEqual(len(runs), 1, runs)
        run_id = runs[0]["id"]
        listed = subprocess.run([AGENTCTL, "--config", self.cfg, "logs", run_id, "--all"],
                                capture_output=True, text=True)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        lines = listed.stdout.splitlines()
        names = [line.split("\t")[-1] for line in lines]
        self.assertEqual(len(lines), 301, listed.stdout[:500])  # old.log and the 300
        self.assertTrue(any(n.endswith("/old.log") for n in names), names[:5])
        self.assertFalse(any(n.endswith("/new.log") or n.endswith("/old.txt") for n in names))
        self.assertTrue(os.path.exists(os.path.join(self.logs, "old.log")))  # a dry run
        record = subprocess.run([AGENTCTL, "--config", self.cfg, "logs", run_id], capture_output=True, text=True)
        self.assertIn("full list: 301 entries", record.stdout)
        missing = subprocess.run([AGENTCTL, "--config", self.cfg, "logs", "../../etc", "--all"],
                                 capture_output=True, text=True)
        self.assertNotEqual(missing.returncode, 0)

    # The parent's cases run once, in DailyTaskFires.
    test_daily_task_catches_up_once_at_start = None
    test_without_catch_up_nothing_runs_at_start = None


if __name__ == "__main__":
    unittest.main(verbosity=2)
